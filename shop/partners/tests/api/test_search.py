import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import ProductImage
from catalog.tests.factories import ProductFactory
from visualsearch.services import product_image_add
from conftest import demo_asset_bytes, photo_bytes
from visualsearch.models import ImageEmbedding

from visualsearch.tests.fixtures import query_copy

pytestmark = pytest.mark.django_db


def _upload(data: bytes, name="photo.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def test_search_by_image_returns_ranked_products(client, catalogue):
    response = client.post("/api/v1/search/image", {"image": _upload(query_copy(demo_asset_bytes("1f3b8.webp"))), "limit": 3})

    assert response.status_code == 200
    body = response.json()
    assert body["model_key"] == "effnet-lite1-avg-240"
    assert len(body["results"]) == 3
    first = body["results"][0]
    guitar = catalogue["Guitar"]
    assert first["product_id"] == guitar.id and first["name"] == "Guitar" and first["price"] == "349.00"
    assert first["image_id"] == guitar.images.get().id
    assert first["image_url"].startswith("http://testserver/media/products/")
    assert first["url"] == f"http://testserver/p/{guitar.slug}/"
    assert 0.8 < first["similarity"] <= 1.0
    similarities = [r["similarity"] for r in body["results"]]
    assert similarities == sorted(similarities, reverse=True)


@pytest.mark.parametrize("fmt,name,content_type", [("HEIF", "IMG_0001.HEIC", "image/heic"), ("AVIF", "q.avif", "image/avif")])
def test_a_phone_photo_in_heic_or_avif_finds_the_product(client, catalogue, fmt, name, content_type):
    from PIL import Image

    jpeg = query_copy(demo_asset_bytes("1f3b8.webp"))
    phone = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(phone, fmt, quality=80)

    response = client.post("/api/v1/search/image", {"image": _upload(phone.getvalue(), name, content_type)})

    assert response.status_code == 200, response.json()
    assert response.json()["results"][0]["product_id"] == catalogue["Guitar"].id


def test_a_photo_of_two_things_answers_results_and_each_object_with_its_box_and_results(client, catalogue):
    from visualsearch.tests.fixtures import two_things_photo

    photo, guitar_box, teapot_box = two_things_photo()

    body = client.post("/api/v1/search/image", {"image": _upload(photo), "limit": 3}).json()

    assert len(body["objects"]) == 2
    left, right = sorted(body["objects"], key=lambda o: o["box"]["x"])
    assert abs(left["box"]["x"] - guitar_box[0]) < 0.08 and abs(right["box"]["x"] - teapot_box[0]) < 0.08
    assert [left["results"][0]["name"], right["results"][0]["name"]] == ["Guitar", "Teapot"]
    assert body["box"] == body["objects"][0]["box"]  # the most prominent object leads the first results
    assert len(body["results"]) == 3 and all(isinstance(r["close"], bool) for r in body["results"])
    assert set(body["box"]) == {"x", "y", "width", "height"}
    assert [(o["found_by"], o["concept"]) for o in body["objects"]] == [("salient", None), ("salient", None)]


def test_regions_the_model_recognised_are_objects_named_by_their_concept(client, catalogue, monkeypatch):
    import visualsearch.selectors as selectors
    from visualsearch.concepts import vocabulary
    from visualsearch.tests.fixtures import two_things_photo

    photo, _, _ = two_things_photo()
    monkeypatch.setattr(selectors, "_objects_in", lambda picture: ([], None))  # as if nothing stood out
    expected = selectors.photo_query(photo).objects

    body = client.post("/api/v1/search/image", {"image": _upload(photo), "limit": 1}).json()

    names = [o.concept for o in expected]
    assert [(o["found_by"], o["concept"]) for o in body["objects"]] == [
        ("recognised", vocabulary().concepts[n].english) for n in names
    ]
    assert body["box"] is None  # the whole photo leads: a recognised region never does
    assert {o["results"][0]["name"] for o in body["objects"]} == {"Guitar", "Teapot"}


def test_a_crop_answers_for_the_crop_and_no_objects(client, catalogue):
    from visualsearch.tests.fixtures import two_things_photo

    photo, _, teapot = two_things_photo()
    crop = {"crop_x": teapot[0], "crop_y": teapot[1], "crop_width": teapot[2] - teapot[0], "crop_height": teapot[3] - teapot[1]}

    body = client.post("/api/v1/search/image", {"image": _upload(photo), **crop}).json()

    assert body["objects"] == [] and body["results"][0]["name"] == "Teapot"
    assert body["box"] == pytest.approx({"x": crop["crop_x"], "y": crop["crop_y"], "width": crop["crop_width"], "height": crop["crop_height"]})


def test_the_schema_documents_objects_and_close(client):
    schema = client.get("/api/v1/schema/?format=json").json()["components"]["schemas"]

    assert {"model_key", "box", "results", "objects"} <= set(schema["SearchByImageOutput"]["properties"])
    assert {"box", "found_by", "concept", "score", "results"} <= set(schema["FoundObjectOutput"]["properties"])
    assert schema["FoundObjectOutputFoundByEnum"]["enum"] == ["salient", "recognised"]
    assert schema["FoundObjectOutput"]["properties"]["concept"]["nullable"] is True
    assert "close" in schema["ProductMatchOutput"]["required"]


def test_search_filters_by_category_slug_and_price(client, catalogue):
    kitchen = catalogue["Teapot"].category
    response = client.post(
        "/api/v1/search/image",
        {"image": _upload(query_copy(demo_asset_bytes("1f45f.webp"))), "category": kitchen.slug, "max_price": "20"},
    )
    assert response.status_code == 200
    assert [r["name"] for r in response.json()["results"]] == ["Hot Beverage"]


@pytest.mark.parametrize(
    "payload,code",
    [
        ({"image": _upload(b"%PDF-1.4 not an image", "doc.pdf", "application/pdf")}, "image_unreadable"),
        ({"image": _upload(photo_bytes(fmt="GIF"), "a.gif", "image/gif")}, "image_format_refused"),
        ({"image": _upload(photo_bytes(size=(400, 400))[:900])}, "image_truncated"),
        ({}, "invalid"),
        ({"image": _upload(photo_bytes()), "limit": "0"}, "invalid"),
        ({"image": _upload(photo_bytes()), "min_price": "50", "max_price": "10"}, "invalid"),
        ({"image": _upload(photo_bytes()), "category": "no-such-category"}, "category_not_found"),
        ({"image": _upload(photo_bytes()), "min_price": "abc"}, "price_invalid"),
    ],
)
def test_bad_requests_get_400_with_a_code_and_store_nothing(client, catalogue, payload, code):
    images, rows = ProductImage.objects.count(), ImageEmbedding.objects.count()

    response = client.post("/api/v1/search/image", payload)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and body["message"]
    assert (ProductImage.objects.count(), ImageEmbedding.objects.count()) == (images, rows)


def test_similar_products_api(client, catalogue):
    apple = catalogue["Red Apple"]
    response = client.get(f"/api/v1/products/{apple.id}/similar?limit=2")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["name"] for r in results] == ["Green Apple", results[1]["name"]]
    assert apple.id not in [r["product_id"] for r in results]


def test_search_by_image_matches_a_category_slug_whatever_its_case(client, catalogue):
    response = client.post(
        "/api/v1/search/image",
        {"image": _upload(query_copy(demo_asset_bytes("1f45f.webp"))), "category": "KITCHEN", "max_price": "20"},
    )
    assert response.status_code == 200
    assert [r["name"] for r in response.json()["results"]] == ["Hot Beverage"]


def test_similar_of_a_product_whose_pictures_are_pending_is_409(client, catalogue):
    product = ProductFactory(category=catalogue["Teapot"].category)
    product_image_add(product=product, data=photo_bytes(), enqueue=False)  # stored, its embedding pending

    response = client.get(f"/api/v1/products/{product.id}/similar")

    assert response.status_code == 409
    assert response.json()["code"] == "embedding_not_ready"


def test_similar_of_a_product_without_pictures_is_409(client, catalogue):
    product = ProductFactory(category=catalogue["Teapot"].category)

    response = client.get(f"/api/v1/products/{product.id}/similar")

    assert response.status_code == 409
    assert response.json()["code"] == "embedding_not_ready"


def test_similar_of_the_only_embedded_product_is_an_empty_200(client, db):
    from visualsearch.services import embeddings_compute

    product = ProductFactory()
    product_image_add(product=product, data=demo_asset_bytes("1fad6.webp"), enqueue=False)
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.values_list("id", flat=True)))

    response = client.get(f"/api/v1/products/{product.id}/similar")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_similar_of_unknown_or_unpublished_product_is_404(client, catalogue):
    assert client.get("/api/v1/products/999999/similar").json()["code"] == "not_found"
    teapot = catalogue["Teapot"]
    teapot.is_published = False
    teapot.save()
    assert client.get(f"/api/v1/products/{teapot.id}/similar").status_code == 404


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/search/image" in schema.content
