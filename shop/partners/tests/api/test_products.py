"""Catalogue API: reads for everyone, writes for partners' write keys on their own products."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product, ProductImage
from catalog.tests.factories import CategoryFactory, ProductFactory
from conftest import media_files, outbox_drain, photo_bytes
from shop.partners.models import PartnerProduct, WebhookDelivery, WebhookEndpoint
from shop.partners.tests.api.fixtures import UserFactory, api, key_for
from visualsearch.models import ImageEmbedding

pytestmark = pytest.mark.django_db


def _new(**fields) -> dict:
    return {"sku": "P-1", "name": "Blue Mug", "category": "kitchen", "price": "12.50", "stock_quantity": 3, **fields}


@pytest.fixture
def kitchen():
    home = CategoryFactory(name="Home", slug="home")
    return CategoryFactory(name="Kitchen", slug="kitchen", parent=home)


def _owned(product: Product, owner) -> Product:
    PartnerProduct.objects.create(product=product, owner=owner)
    return product


# --- reads ---------------------------------------------------------------------------------------------


def test_categories_list_names_each_parent_by_slug(kitchen):
    response = api().get("/api/v1/categories")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {"id": kitchen.parent.id, "name": "Home", "name_zh": "", "slug": "home", "parent": None, "position": 0},
        {"id": kitchen.id, "name": "Kitchen", "name_zh": "", "slug": "kitchen", "parent": "home", "position": 0},
    ]


def test_anonymous_list_shows_published_products_newest_first_in_pages(kitchen):
    products = [ProductFactory(category=kitchen, name=f"Mug {n}") for n in range(5)]
    ProductFactory(category=kitchen, is_published=False)

    first = api().get("/api/v1/products?limit=2")
    last = api().get("/api/v1/products?limit=2&offset=4")

    assert first.status_code == 200
    body = first.json()
    assert body["count"] == 5 and body["limit"] == 2 and body["offset"] == 0
    assert [p["id"] for p in body["results"]] == [products[4].id, products[3].id]
    assert body["next"] == "http://testserver/api/v1/products?limit=2&offset=2"
    assert body["previous"] is None
    assert [p["id"] for p in last.json()["results"]] == [products[0].id]
    assert last.json()["next"] is None


def test_filters_category_subtree_price_stock_and_text(kitchen):
    home = kitchen.parent
    mug = ProductFactory(category=kitchen, name="Blue Mug", price=Decimal("12.00"), stock_quantity=0)
    lamp = ProductFactory(category=home, name="Desk Lamp", price=Decimal("40.00"), stock_quantity=2)
    ProductFactory(category=CategoryFactory(slug="garden"), name="Blue Hose", price=Decimal("20.00"))
    from catalog.services import product_update

    for product in Product.objects.all():
        product_update(product=product)  # fills the full-text search vector, as every service write does

    def ids(query: str) -> list[int]:
        response = api().get("/api/v1/products?" + query)
        assert response.status_code == 200, response.json()
        return [p["id"] for p in response.json()["results"]]

    assert ids("category=home") == [lamp.id, mug.id]
    assert ids("category=kitchen") == [mug.id]
    assert ids("min_price=15&max_price=45&category=home") == [lamp.id]
    assert ids("in_stock=true&category=home") == [lamp.id]
    assert ids("in_stock=false&category=home") == [mug.id]
    assert ids("q=mug") == [mug.id]
    assert ids("q=blue&max_price=15") == [mug.id]


@pytest.mark.parametrize(
    "query,field,code",
    [("limit=101", "limit", "invalid"), ("limit=0", "limit", "invalid"), ("offset=-1", "offset", "invalid"),
     ("category=nope", "category", "category_not_found"), ("min_price=9&max_price=1", "min_price", "invalid"),
     ("in_stock=maybe", "in_stock", "invalid"), ("min_price=abc", "min_price", "price_invalid"),
     ("max_price=-1", "max_price", "price_invalid"), ("min_price=1.999", "min_price", "price_invalid"),
     ("min_price=abc&limit=0", "limit,min_price", "invalid")],
)
def test_oversize_page_and_bad_filters_are_refused(query, field, code):
    response = api().get("/api/v1/products?" + query)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert sorted(response.json()["details"]) == field.split(",")


def test_a_price_that_is_not_a_number_is_refused_with_its_own_code():
    response = api().get("/api/v1/products?min_price=abc")

    assert response.status_code == 400
    assert response.json() == {
        "code": "price_invalid",
        "message": "A price is a number such as 25 or 19.99.",
        "details": {"min_price": ["A price is a number such as 25 or 19.99."]},
    }


def test_category_slugs_match_whatever_their_case(kitchen):
    mug = ProductFactory(category=kitchen, name="Blue Mug")

    for slug in ("kitchen", "Kitchen", "KITCHEN", "Home"):
        response = api().get(f"/api/v1/products?category={slug}")
        assert response.status_code == 200, response.json()
        assert [p["id"] for p in response.json()["results"]] == [mug.id]


def test_an_unknown_category_slug_says_so_with_its_own_code(kitchen):
    response = api().get("/api/v1/products?category=Clothing")

    assert response.status_code == 400
    assert response.json() == {
        "code": "category_not_found",
        "message": 'No category has the slug "Clothing". GET /api/v1/categories lists them.',
        "details": {"category": ['No category has the slug "Clothing". GET /api/v1/categories lists them.']},
    }
    assert "does not exist" not in response.content.decode()


def test_partners_see_their_drafts_staff_see_all(kitchen, partner, other_partner):
    mine = _owned(ProductFactory(category=kitchen, is_published=False), partner)
    theirs = _owned(ProductFactory(category=kitchen, is_published=False), other_partner)

    def ids(client) -> list[int]:
        return [p["id"] for p in client.get("/api/v1/products").json()["results"]]

    assert ids(api()) == []
    assert ids(api(key_for(partner, "read"))) == [mine.id]
    assert ids(api(key_for(UserFactory(is_staff=True), "read"))) == [theirs.id, mine.id]
    assert api(key_for(partner, "read")).get(f"/api/v1/products/{theirs.id}").json()["code"] == "not_found"


def test_detail_shows_images_with_their_embedding_status(catalogue):
    guitar = catalogue["Guitar"]
    image = guitar.images.get()

    response = api().get(f"/api/v1/products/{guitar.id}")

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["price"], body["category"], body["in_stock"]) == ("Guitar", "349.00", "music", True)
    assert body["url"] == f"http://testserver/p/{guitar.slug}/"
    assert body["owned_by_you"] is False
    assert len(body["images"]) == 1
    shown = body["images"][0]
    assert shown["id"] == image.id and shown["content_hash"] == image.content_hash
    assert shown["thumbnail_url"].startswith("http://testserver/media/products/")
    assert shown["embedding"] == {"status": "ready", "model_key": "effnet-lite1-avg-240", "attempts": 1, "error": ""}


def test_unknown_product_is_404_with_the_error_shape():
    response = api().get("/api/v1/products/999999")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "No such product.", "details": {}}


# --- create, update, delete ----------------------------------------------------------------------------


def test_write_key_creates_a_product_it_owns_and_subscribers_get_an_event(kitchen, partner):
    endpoint = WebhookEndpoint.objects.create(owner=partner, url="https://partner.example/h", events=["product.created"])
    WebhookEndpoint.objects.create(owner=UserFactory(), url="https://else.example/h", events=["product.created"])

    response = api(key_for(partner, "read", "write")).post(
        "/api/v1/products", _new(description="Stoneware", is_published=False), format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    product = Product.objects.get()
    assert body["id"] == product.id and body["owned_by_you"] is True and body["images"] == []
    assert (product.sku, product.name, product.slug, product.price, product.currency) == (
        "P-1", "Blue Mug", "blue-mug", Decimal("12.50"), "EUR"
    )
    assert (product.stock_quantity, product.is_published, product.category) == (3, False, kitchen)
    assert PartnerProduct.objects.get().owner == partner
    assert outbox_drain() == 1  # product.created, recorded in the product's transaction
    delivery = WebhookDelivery.objects.get()  # only the owner's endpoint hears about it
    assert (delivery.endpoint, delivery.event, delivery.status) == (endpoint, "product.created", "pending")
    assert delivery.payload["id"] == product.id and delivery.payload["sku"] == "P-1"


@pytest.mark.parametrize(
    "fields,field",
    [({"sku": "TAKEN"}, "sku"), ({"category": "nope"}, "category"), ({"price": "-1"}, "price"),
     ({"price": "1.234"}, "price"), ({"currency": "euro"}, "currency"), ({"stock_quantity": 2**31}, "stock_quantity"),
     ({"name": ""}, "name"), ({"name": "x\x00y"}, "name")],
)
def test_invalid_products_are_refused_and_nothing_is_written(kitchen, partner, fields, field):
    ProductFactory(sku="TAKEN", category=kitchen)

    response = api(key_for(partner, "write", "read")).post("/api/v1/products", _new(**fields), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == ("category_not_found" if field == "category" else "invalid")
    assert list(response.json()["details"]) == [field]
    assert Product.objects.count() == 1 and PartnerProduct.objects.count() == 0


def test_owner_updates_some_fields_and_an_event_is_recorded(kitchen, partner):
    product = _owned(ProductFactory(category=kitchen, price=Decimal("5.00")), partner)
    WebhookEndpoint.objects.create(owner=partner, url="https://partner.example/h", events=["product.updated"])

    response = api(key_for(partner, "read", "write")).patch(
        f"/api/v1/products/{product.id}", {"price": "7.25", "stock_quantity": 0}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["price"], response.json()["in_stock"]) == ("7.25", False)
    product.refresh_from_db()
    assert (product.price, product.stock_quantity, product.name) == (Decimal("7.25"), 0, product.name)
    assert outbox_drain() == 1
    assert WebhookDelivery.objects.get().event == "product.updated"


def test_partner_cannot_change_or_delete_another_partners_product(kitchen, partner, other_partner):
    product = _owned(ProductFactory(category=kitchen, price=Decimal("5.00")), other_partner)
    client = api(key_for(partner, "read", "write"))

    patched = client.patch(f"/api/v1/products/{product.id}", {"price": "1.00"}, format="json")
    deleted = client.delete(f"/api/v1/products/{product.id}")
    uploaded = client.post(f"/api/v1/products/{product.id}/images", {"image": SimpleUploadedFile("a.jpg", photo_bytes())})

    for response in (patched, deleted, uploaded):
        assert response.status_code == 403
        assert response.json()["code"] == "not_owner"
    product.refresh_from_db()
    assert product.price == Decimal("5.00") and ProductImage.objects.count() == 0


def test_shop_products_are_changed_by_staff_keys_only(kitchen, partner):
    product = ProductFactory(category=kitchen, name="Shop Mug")  # made in admin: no partner owns it

    refused = api(key_for(partner, "read", "write")).patch(f"/api/v1/products/{product.id}", {"name": "X"}, format="json")
    allowed = api(key_for(UserFactory(is_staff=True), "read", "write")).patch(
        f"/api/v1/products/{product.id}", {"name": "Staff Mug"}, format="json"
    )

    assert refused.status_code == 403 and refused.json()["code"] == "not_owner"
    assert allowed.status_code == 200 and allowed.json()["name"] == "Staff Mug"


def test_update_refuses_a_sku_used_by_another_product(kitchen, partner):
    ProductFactory(sku="TAKEN", category=kitchen)
    product = _owned(ProductFactory(sku="MINE", category=kitchen), partner)

    same = api(key_for(partner, "read", "write")).patch(f"/api/v1/products/{product.id}", {"sku": "MINE"}, format="json")
    taken = api(key_for(partner, "read", "write")).patch(f"/api/v1/products/{product.id}", {"sku": "TAKEN"}, format="json")

    assert same.status_code == 200
    assert taken.status_code == 400 and list(taken.json()["details"]) == ["sku"]
    product.refresh_from_db()
    assert product.sku == "MINE"


def test_owner_deletes_a_product_with_its_images(kitchen, partner):
    product = _owned(ProductFactory(category=kitchen), partner)
    from visualsearch.services import product_image_add

    product_image_add(product=product, data=photo_bytes(), enqueue=False)

    response = api(key_for(partner, "read", "write")).delete(f"/api/v1/products/{product.id}")

    assert response.status_code == 204
    assert (Product.objects.count(), ProductImage.objects.count(), ImageEmbedding.objects.count()) == (0, 0, 0)


# --- bulk ----------------------------------------------------------------------------------------------


def test_bulk_creates_up_to_a_hundred_products(kitchen, partner):
    items = [_new(sku=f"B-{n:03d}", name=f"Bowl {n}") for n in range(100)]

    response = api(key_for(partner, "read", "write")).post("/api/v1/products/bulk", {"products": items}, format="json")

    assert response.status_code == 201, response.json()
    assert [p["sku"] for p in response.json()["results"]] == [f"B-{n:03d}" for n in range(100)]
    assert Product.objects.count() == 100 and PartnerProduct.objects.filter(owner=partner).count() == 100


@pytest.mark.parametrize(
    "items,detail",
    [
        ([_new(sku=f"B-{n}") for n in range(101)], {"products": {"non_field_errors": ["Ensure this field has no more than 100 elements."]}}),
        ([_new(sku="B-1"), _new(sku="B-1")], {"products": {"1": {"sku": ["This SKU appears twice in the batch."]}}}),
        ([_new(sku="B-1"), _new(sku="B-2", price="-3")], {"products": {"1": {"price": ["Ensure this value is greater than or equal to 0."]}}}),
        ([], {"products": {"non_field_errors": ["Ensure this field has at least 1 elements."]}}),
    ],
)
def test_bulk_is_all_or_nothing(kitchen, partner, items, detail):
    response = api(key_for(partner, "read", "write")).post("/api/v1/products/bulk", {"products": items}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["details"] == detail
    assert Product.objects.count() == 0


# --- images --------------------------------------------------------------------------------------------


def test_owner_uploads_an_image_through_the_admins_intake(kitchen, partner):
    product = _owned(ProductFactory(category=kitchen, name="Mug"), partner)
    client = api(key_for(partner, "read", "write"))
    photo = photo_bytes(size=(640, 480), fmt="PNG")

    first = client.post(f"/api/v1/products/{product.id}/images", {"image": SimpleUploadedFile("m.png", photo), "alt_text": "Blue mug"})
    again = client.post(f"/api/v1/products/{product.id}/images", {"image": SimpleUploadedFile("m.png", photo)})

    assert first.status_code == 201, first.json()
    body = first.json()
    image = ProductImage.objects.get()
    assert (body["id"], body["product_id"], body["created"], body["alt_text"]) == (image.id, product.id, True, "Blue mug")
    assert (body["width"], body["height"]) == (640, 480)
    assert body["embedding"]["status"] == "pending"
    assert image.image.name.endswith(".jpg")  # re-encoded, as from the admin
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["id"] == image.id
    assert ImageEmbedding.objects.filter(image=image, status="pending").count() == 1


@pytest.mark.parametrize(
    "upload,code",
    [
        (SimpleUploadedFile("a.pdf", b"%PDF-1.4 not an image"), "image_unreadable"),
        (SimpleUploadedFile("a.gif", photo_bytes(fmt="GIF")), "image_format_refused"),
        (SimpleUploadedFile("a.jpg", photo_bytes(size=(400, 400))[:900]), "image_truncated"),
        (SimpleUploadedFile("a.jpg", b""), "invalid"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(kitchen, partner, _media_root, upload, code):
    product = _owned(ProductFactory(category=kitchen), partner)

    response = api(key_for(partner, "read", "write")).post(f"/api/v1/products/{product.id}/images", {"image": upload})

    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["message"]
    assert (ProductImage.objects.count(), ImageEmbedding.objects.count()) == (0, 0)
    assert media_files(_media_root) == []


def test_owner_deletes_one_image(kitchen, partner):
    from visualsearch.services import product_image_add

    product = _owned(ProductFactory(category=kitchen), partner)
    keep, _ = product_image_add(product=product, data=photo_bytes(colour=(1, 2, 200)), enqueue=False)
    drop, _ = product_image_add(product=product, data=photo_bytes(colour=(200, 2, 1)), enqueue=False)
    client = api(key_for(partner, "read", "write"))

    response = client.delete(f"/api/v1/products/{product.id}/images/{drop.id}")
    missing = client.delete(f"/api/v1/products/{product.id}/images/{drop.id}")

    assert response.status_code == 204
    assert list(ProductImage.objects.values_list("id", flat=True)) == [keep.id]
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_labelled_training_photos_are_not_shown(kitchen):
    from catalog.models import ProductImageKind
    from visualsearch.services import product_image_add

    product = ProductFactory(category=kitchen)
    shown, _ = product_image_add(product=product, data=photo_bytes(colour=(1, 2, 200)), enqueue=False)
    hidden, _ = product_image_add(product=product, data=photo_bytes(colour=(200, 2, 1)), enqueue=False)
    ProductImage.objects.filter(id=hidden.id).update(kind=ProductImageKind.LABELLED)

    response = api().get(f"/api/v1/products/{product.id}")

    assert [image["id"] for image in response.json()["images"]] == [shown.id]
