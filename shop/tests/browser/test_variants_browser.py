"""Variants in a real browser: choosing a colour shows its picture, price and SKU and puts exactly that colour in
the cart; a photo of the blue one finds the product with the blue one chosen. Desktop and phone, English and
Chinese; screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from PIL import Image

from catalog.services import VariantData, product_variant_create
from catalog.tests.factories import ProductFactory
from conftest import demo_asset_bytes
from visualsearch.models import ImageEmbedding
from visualsearch.services import embeddings_compute, product_image_add

pytestmark = [pytest.mark.browser, pytest.mark.urls("shop.tests.browser.urls")]

COLOURS = [("Red", "红色", "2764-fe0f.webp", 3, None), ("Blue", "蓝色", "1f499.webp", 5, None),
           ("Black", "黑色", "1f5a4.webp", 2, Decimal("26.90")), ("White", "白色", "1f90d.webp", 0, None)]


@pytest.fixture
def cushion(transactional_db):
    cushion = ProductFactory(name="Heart Cushion", name_zh="心形抱枕", slug="heart-cushion", sku="HEART",
                             price=Decimal("24.90"), stock_quantity=0)
    variants = {}
    for name, name_zh, asset, stock, price in COLOURS:
        variants[name] = product_variant_create(product=cushion, data=VariantData(
            sku=f"HEART-{name.upper()}", name=name, name_zh=name_zh, stock_quantity=stock, price=price))
        product_image_add(product=cushion, data=demo_asset_bytes(asset), variant=variants[name], enqueue=False)
    for asset, name in [("1fad6.webp", "Teapot"), ("1f45f.webp", "Trainer"), ("1f3b8.webp", "Guitar")]:
        product_image_add(product=ProductFactory(name=name), data=demo_asset_bytes(asset), enqueue=False)
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.values_list("id", flat=True)))
    return cushion, variants


def _chinese(page, live_server) -> None:
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])


@pytest.mark.parametrize("size,language", [("desktop", "en"), ("phone", "zh")])
def test_choosing_a_colour_shows_it_and_puts_that_colour_in_the_cart(
    request, size, language, cushion, live_server, screenshot
):
    page = request.getfixturevalue(size)
    if language == "zh":
        _chinese(page, live_server)
    _, variants = cushion
    names = {name: (zh if language == "zh" else name) for name, zh, *_ in COLOURS}

    page.goto("/p/heart-cushion/")
    main = page.locator("[data-gallery-main]")
    red_src = main.get_attribute("src")
    assert page.locator("input[name=variant]:checked").get_attribute("value") == str(variants["Red"].id)
    assert page.locator("input[name=variant][value='%d']" % variants["White"].id).is_disabled()  # sold out
    screenshot(page, f"{size}-{language}-20-variant-red")

    # a tap on Black: its picture, its own price and SKU, and its id in the address (a shared link opens it)
    page.locator("label.variant", has_text=names["Black"]).click()
    page.wait_for_function(f"() => location.search.includes('variant={variants['Black'].id}')")
    assert main.get_attribute("src") != red_src
    assert page.locator("[data-variant-price]").inner_text() == "26.90 EUR"
    assert page.locator("[data-variant-sku]").inner_text() == "HEART-BLACK"
    assert page.locator("[data-variant-name]").inner_text() == names["Black"]
    assert page.locator("[data-variant-quantity]").get_attribute("max") == "2"
    screenshot(page, f"{size}-{language}-21-variant-black")

    page.locator("form[data-variant-form] button[type=submit]").click()
    page.wait_for_url("**/cart/")
    assert page.locator("[data-testid=cart-variant]").all_inner_texts() == [names["Black"]]
    assert page.locator("[data-testid=cart-total]").inner_text() == "26.90 EUR"
    screenshot(page, f"{size}-{language}-22-cart-with-variant")


def _blue_photo(path) -> None:
    """A shopper's photo of the blue cushion: on a beige sofa-like background, a little off centre."""
    canvas = Image.new("RGB", (800, 600), (214, 200, 178))
    heart = Image.open(io.BytesIO(demo_asset_bytes("1f499.webp"))).convert("RGBA").resize((360, 360))
    canvas.paste(heart, (260, 140), heart)
    canvas.save(path, "JPEG", quality=88)


@pytest.mark.parametrize("size,language", [("phone", "en"), ("desktop", "zh")])
def test_a_photo_of_the_blue_one_opens_the_product_with_blue_chosen(
    request, size, language, cushion, live_server, tmp_path, screenshot
):
    page = request.getfixturevalue(size)
    if language == "zh":
        _chinese(page, live_server)
    _, variants = cushion
    blue = "蓝色" if language == "zh" else "Blue"
    photo = tmp_path / "blue-cushion.jpg"
    _blue_photo(photo)

    page.goto("/search/photo/")
    page.set_input_files("#id_image", str(photo))
    page.wait_for_selector("#results-area .card")
    first = page.locator("#results-area .card").first
    assert first.locator("h3").inner_text() == ("心形抱枕" if language == "zh" else "Heart Cushion")
    assert first.locator("[data-testid=result-variant]").inner_text() == blue
    screenshot(page, f"{size}-{language}-23-photo-search-variant")

    first.locator("a").first.click()
    page.wait_for_url("**/p/heart-cushion/**")
    assert page.locator("input[name=variant]:checked").get_attribute("value") == str(variants["Blue"].id)
    assert blue in page.locator("[data-testid=matched-variant]").inner_text()
    assert page.locator("[data-variant-sku]").inner_text() == "HEART-BLUE"
    screenshot(page, f"{size}-{language}-24-product-matched-variant")
