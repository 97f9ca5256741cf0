"""The shop's pages with variants: the product page offers the choice (opening on the one asked for), the cart
holds one line per chosen variant, checkout buys exactly that, and a photo search links to the matched one."""

from decimal import Decimal

import pytest

from catalog.models import ProductVariant
from catalog.services import VariantData, product_variant_create
from catalog.tests.factories import ProductFactory
from conftest import demo_asset_bytes
from shop.orders.models import OrderLine
from visualsearch.models import ImageEmbedding
from visualsearch.services import embeddings_compute, product_image_add
from visualsearch.tests.fixtures import query_copy

CUSTOMER = {
    "full_name": "Ada Lovelace", "email": "ada@example.org", "address": "12 Analytical Row",
    "postcode": "10115", "city": "Berlin", "country": "Germany",
}


@pytest.fixture
def cushion(db):
    cushion = ProductFactory(name="Heart Cushion", slug="heart-cushion", sku="HEART", price=Decimal("24.90"),
                             stock_quantity=0)
    variants = {}
    for name, asset, stock, price in [("Red", "2764-fe0f.webp", 3, None), ("Blue", "1f499.webp", 5, None),
                                      ("White", "1f90d.webp", 0, Decimal("26.90"))]:
        variants[name] = product_variant_create(product=cushion, data=VariantData(
            sku=f"HEART-{name.upper()}", name=name, name_zh={"Red": "红色", "Blue": "蓝色", "White": "白色"}[name],
            stock_quantity=stock, price=price,
        ))
        product_image_add(product=cushion, data=demo_asset_bytes(asset), variant=variants[name], enqueue=False)
    return cushion, variants


def test_the_product_page_offers_the_variants_and_opens_on_the_one_asked_for(client, cushion):
    product, variants = cushion

    first = client.get("/p/heart-cushion/")
    asked = client.get(f"/p/heart-cushion/?variant={variants['Blue'].id}")

    assert first.context["chosen"] == variants["Red"]  # the first in stock
    assert asked.context["chosen"] == variants["Blue"]
    assert asked.context["images"][0].variant == variants["Blue"]  # its picture leads the gallery
    assert [(v["variant"].name, v["price"]) for v in asked.context["variants"]] == [
        ("Red", Decimal("24.90")), ("Blue", Decimal("24.90")), ("White", Decimal("26.90"))]
    html = asked.content.decode()
    assert f'value="{variants["Blue"].id}" checked' in html
    assert f'value="{variants["White"].id}" disabled' in html  # sold out: not choosable
    assert "HEART-BLUE" in html and "5 in stock" in html


def test_the_chinese_shop_names_the_variants_in_chinese(client, cushion):
    _, variants = cushion

    page = client.get(f"/p/heart-cushion/?variant={variants['Blue'].id}", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert "蓝色" in page.content.decode() and "红色" in page.content.decode()


def test_the_cart_holds_one_line_per_variant_and_checkout_buys_exactly_those(client, cushion):
    product, variants = cushion

    client.post("/cart/add/", {"product": product.id, "variant": variants["Red"].id, "quantity": 1})
    client.post("/cart/add/", {"product": product.id, "variant": variants["Blue"].id, "quantity": 2})
    cart = client.get("/cart/")

    assert [(line.variant.name, line.quantity, line.line_total) for line in cart.context["cart"].lines] == [
        ("Red", 1, Decimal("24.90")), ("Blue", 2, Decimal("49.80"))]
    assert cart.context["cart_count"] == 3
    client.post("/cart/update/", {"line": f"{product.id}:{variants['Blue'].id}", "quantity": 1})
    assert [line.quantity for line in client.get("/cart/").context["cart"].lines] == [1, 1]

    response = client.post("/checkout/", {**CUSTOMER, "payment": "cod"})

    assert response.status_code == 302
    assert list(OrderLine.objects.values_list("sku", "variant_name", "quantity")) == [
        ("HEART-RED", "Red", 1), ("HEART-BLUE", "Blue", 1)]
    assert dict(ProductVariant.objects.values_list("name", "stock_quantity")) == {"Red": 2, "Blue": 4, "White": 0}


def test_adding_without_a_choice_or_a_sold_out_variant_puts_nothing_in_the_cart(client, cushion):
    product, variants = cushion

    none = client.post("/cart/add/", {"product": product.id, "quantity": 1}, follow=True)
    sold_out = client.post("/cart/add/", {"product": product.id, "variant": variants["White"].id, "quantity": 1},
                           follow=True)
    foreign = client.post("/cart/add/", {"product": ProductFactory().id, "variant": variants["Red"].id, "quantity": 1})

    assert "Choose a colour or size of Heart Cushion first." in none.content.decode()
    assert "Heart Cushion, White is out of stock." in sold_out.content.decode()
    assert foreign.status_code == 404
    assert client.session.get("cart", {}) == {}


def test_a_photo_search_links_each_result_to_the_variant_whose_picture_matched(client, cushion):
    product, variants = cushion
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.values_list("id", flat=True)))

    response = client.post("/search/photo/", {"image": _upload(query_copy(demo_asset_bytes("1f499.webp")))},
                           follow=True)

    first = response.context["results"][0]
    assert (first.product, first.image.variant) == (product, variants["Blue"])
    html = response.content.decode()
    assert f'variant={variants["Blue"].id}"' in html
    assert 'data-testid="result-variant">Blue<' in html
    shown = response.context["shown"]
    opened = client.get(f"/p/heart-cushion/?shown={shown}&variant={variants['Blue'].id}")
    assert opened.context["chosen"] == variants["Blue"] and opened.context["matched_variant"] is True
    assert "Blue is chosen: the one that matched your photo." in opened.content.decode()


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg")


def test_a_matched_variant_that_is_sold_out_is_shown_and_not_chosen(client, cushion):
    product, variants = cushion
    shown_page = client.get(f"/p/heart-cushion/?variant={variants['White'].id}&shown=1")

    html = shown_page.content.decode()
    assert "White matched your photo, but it is sold out: choose another below." in html
    assert f'value="{variants["White"].id}" disabled' in html  # visible, not checked, not choosable
    assert shown_page.context["images"][0].variant == variants["White"]  # its picture still leads
    assert 'max="99"' in html  # the quantity box does not block the form with max=0


def test_a_photo_search_card_shows_the_matched_variants_own_price(client, cushion):
    from catalog.services import product_variant_update

    product, variants = cushion
    product_variant_update(variant=variants["Blue"], price=Decimal("27.50"))
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.values_list("id", flat=True)))

    response = client.post("/search/photo/", {"image": _upload(query_copy(demo_asset_bytes("1f499.webp")))},
                           follow=True)

    assert response.context["results"][0].image.variant == variants["Blue"]
    assert '<p class="price">27.50 EUR</p>' in response.content.decode()
