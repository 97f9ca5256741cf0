"""Variants in the partner API: created with the product or one by one, changed and deleted by the product's
owner, pictures tied to a variant, and search answers that name the variant whose picture matched."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product, ProductImage, ProductVariant
from catalog.tests.factories import CategoryFactory
from conftest import demo_asset_bytes
from shop.partners.models import PartnerProduct
from shop.partners.tests.api.fixtures import api, key_for
from visualsearch.models import ImageEmbedding
from visualsearch.services import embeddings_compute
from visualsearch.tests.fixtures import query_copy

pytestmark = pytest.mark.django_db

CUSHION = {
    "sku": "HEART", "name": "Heart Cushion", "category": "decor", "price": "24.90",
    "variants": [
        {"sku": "HEART-RED", "name": "Red", "name_zh": "红色", "stock_quantity": 3},
        {"sku": "HEART-BLUE", "name": "Blue", "stock_quantity": 5, "price": "26.90"},
    ],
}


@pytest.fixture
def decor():
    return CategoryFactory(name="Decor", slug="decor")


def _created(partner) -> dict:
    response = api(key_for(partner, "read", "write")).post("/api/v1/products", CUSHION, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_product_is_created_with_its_variants_and_its_stock_is_their_sum(decor, partner):
    body = _created(partner)

    assert body["stock_quantity"] == 8 and body["in_stock"] is True
    assert [(v["sku"], v["name"], v["name_zh"], v["price"], v["own_price"], v["stock_quantity"])
            for v in body["variants"]] == [
        ("HEART-RED", "Red", "红色", "24.90", None, 3),
        ("HEART-BLUE", "Blue", "", "26.90", "26.90", 5),
    ]
    assert api().get(f"/api/v1/products/{body['id']}").json()["variants"] == body["variants"]


@pytest.mark.parametrize(
    "variants,field",
    [
        ([{"sku": "HEART", "name": "Red"}], "variants"),  # the product's own SKU
        ([{"sku": "V-1", "name": "Red"}, {"sku": "V-1", "name": "Blue"}], "variants"),
        ([{"sku": "V-1", "name": "Red"}, {"sku": "V-2", "name": "Red"}], "variants"),
        ([{"sku": "V-1", "name": "Red", "price": "-1"}], "variants"),
        ([{"sku": "TAKEN", "name": "Red"}], "variants"),  # another product's SKU
    ],
)
def test_bad_variants_refuse_the_whole_product_and_nothing_is_written(decor, partner, variants, field):
    Product.objects.create(sku="TAKEN", name="Other", slug="other", price=1, category=decor)

    response = api(key_for(partner, "read", "write")).post(
        "/api/v1/products", {**CUSHION, "variants": variants}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and list(response.json()["details"]) == [field]
    assert Product.objects.count() == 1 and ProductVariant.objects.count() == 0
    assert PartnerProduct.objects.count() == 0


def test_the_owner_adds_changes_and_deletes_a_variant(decor, partner, other_partner):
    body = _created(partner)
    client = api(key_for(partner, "read", "write"))
    base = f"/api/v1/products/{body['id']}/variants"

    added = client.post(base, {"sku": "HEART-GREEN", "name": "Green", "stock_quantity": 2}, format="json")
    green = added.json()["id"]
    changed = client.patch(f"{base}/{green}", {"stock_quantity": 7, "price": "19.90"}, format="json")
    taken = client.patch(f"{base}/{green}", {"sku": "HEART-RED"}, format="json")
    twice = client.post(base, {"sku": "HEART-RED-2", "name": "Red"}, format="json")
    foreign = api(key_for(other_partner, "read", "write")).patch(f"{base}/{green}", {"stock_quantity": 0},
                                                                  format="json")

    assert added.status_code == 201 and added.json()["price"] == "24.90"
    assert changed.status_code == 200 and (changed.json()["stock_quantity"], changed.json()["price"]) == (7, "19.90")
    assert taken.status_code == 400 and list(taken.json()["details"]) == ["sku"]
    assert twice.status_code == 400 and list(twice.json()["details"]) == ["name"]
    assert foreign.status_code == 403
    assert Product.objects.get(id=body["id"]).stock_quantity == 3 + 5 + 7

    deleted = client.delete(f"{base}/{green}")
    missing = client.delete(f"{base}/{green}")

    assert deleted.status_code == 204 and missing.status_code == 404
    assert Product.objects.get(id=body["id"]).stock_quantity == 8


def test_a_picture_is_tied_to_a_variant_of_its_product_only(decor, partner):
    body = _created(partner)
    client = api(key_for(partner, "read", "write"))
    blue = next(v["id"] for v in body["variants"] if v["name"] == "Blue")
    other = _other_product_variant(decor)

    added = client.post(f"/api/v1/products/{body['id']}/images",
                        {"image": _file("1f499.webp"), "variant_id": blue}, format="multipart")
    refused = client.post(f"/api/v1/products/{body['id']}/images",
                          {"image": _file("2764-fe0f.webp"), "variant_id": other.id}, format="multipart")

    assert added.status_code == 201 and added.json()["variant_id"] == blue
    assert refused.status_code == 400 and list(refused.json()["details"]) == ["variant_id"]
    assert list(ProductImage.objects.values_list("variant_id", flat=True)) == [blue]


def test_search_by_image_names_the_variant_whose_picture_matched(decor, partner):
    body = _created(partner)
    client = api(key_for(partner, "read", "write"))
    ids = {v["name"]: v["id"] for v in body["variants"]}
    for name, asset in [("Red", "2764-fe0f.webp"), ("Blue", "1f499.webp")]:
        client.post(f"/api/v1/products/{body['id']}/images", {"image": _file(asset), "variant_id": ids[name]},
                    format="multipart")
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.values_list("id", flat=True)))

    response = api().post("/api/v1/search/image", {"image": _upload(query_copy(demo_asset_bytes("1f499.webp")))})

    first = response.json()["results"][0]
    assert first["product_id"] == body["id"]
    assert first["variant"] == {"id": ids["Blue"], "sku": "HEART-BLUE", "name": "Blue", "price": "26.90",
                                "stock_quantity": 5, "in_stock": True}
    assert first["url"] == f"http://testserver/p/heart-cushion/?variant={ids['Blue']}"


def test_the_schema_documents_variants(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()

    assert "/api/v1/products/{product_id}/variants" in schema["paths"]
    assert "variant" in schema["components"]["schemas"]["ProductMatchOutput"]["properties"]
    assert "variants" in schema["components"]["schemas"]["ProductOutput"]["properties"]


def _other_product_variant(decor) -> ProductVariant:
    from catalog.services import VariantData, product_variant_create

    other = Product.objects.create(sku="MUG", name="Mug", slug="mug", price=1, category=decor)
    return product_variant_create(product=other, data=VariantData(sku="MUG-RED", name="Red"))


def _file(asset: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(asset, demo_asset_bytes(asset), content_type="image/webp")


def _upload(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg")


def test_identify_names_the_variant_in_hand_with_its_own_sku_and_stock(decor, partner):
    staff = _staff_key()
    body = _created(partner)
    client = api(key_for(partner, "read", "write"))
    ids = {v["name"]: v["id"] for v in body["variants"]}
    for name, asset in [("Red", "2764-fe0f.webp"), ("Blue", "1f499.webp")]:
        client.post(f"/api/v1/products/{body['id']}/images", {"image": _file(asset), "variant_id": ids[name]},
                    format="multipart")
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.values_list("id", flat=True)))

    response = api(staff).post("/api/v1/identify", {"image": _upload(query_copy(demo_asset_bytes("2764-fe0f.webp")))})

    first = response.json()["results"][0]
    assert (first["sku"], first["variant"]["sku"], first["variant"]["stock_quantity"]) == ("HEART", "HEART-RED", 3)


def _staff_key() -> str:
    from shop.partners.tests.api.fixtures import UserFactory

    return key_for(UserFactory(is_staff=True), "read", "write")
