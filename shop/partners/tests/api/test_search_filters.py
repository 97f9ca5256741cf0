"""Search by photo with a crop box, and near-duplicates of an image, on the real model and pgvector."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from visualsearch.services import product_image_add
from catalog.tests.factories import ProductFactory
from conftest import demo_asset_bytes, photo_bytes
from shop.partners.models import PartnerProduct
from shop.partners.tests.api.fixtures import api, key_for
from visualsearch.models import ImageEmbedding
from visualsearch.services import embeddings_compute
from visualsearch.tests.fixtures import query_copy

pytestmark = pytest.mark.django_db


def _flat(asset: str) -> Image.Image:
    picture = Image.open(io.BytesIO(demo_asset_bytes(asset))).convert("RGBA")
    flat = Image.new("RGB", picture.size, (255, 255, 255))
    flat.paste(picture, mask=picture.getchannel("A"))
    return flat


def _side_by_side(left: str, right: str) -> bytes:
    """A shopper's photo with two products in it: ``left`` on the left half, ``right`` on the right."""
    a, b = _flat(left), _flat(right)
    photo = Image.new("RGB", (a.width + b.width, max(a.height, b.height)), (255, 255, 255))
    photo.paste(a, (0, 0))
    photo.paste(b, (a.width, 0))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=85)
    return out.getvalue()


def _search(**fields):
    photo = _side_by_side("1f3b8.webp", "1fad6.webp")  # guitar | teapot
    return api().post("/api/v1/search/image", {"image": SimpleUploadedFile("two.jpg", photo), "limit": 3, **fields})


def test_the_crop_box_chooses_which_product_of_the_photo_is_searched(catalogue):
    left = _search(crop_x="0", crop_y="0", crop_width="0.5", crop_height="1")
    right = _search(crop_x="0.5", crop_y="0", crop_width="0.5", crop_height="1")

    assert left.status_code == 200 and right.status_code == 200
    assert left.json()["results"][0]["name"] == "Guitar"
    assert right.json()["results"][0]["name"] == "Teapot"


@pytest.mark.parametrize(
    "crop,field",
    [
        ({"crop_x": "0.1"}, "crop_x"),
        ({"crop_x": "0.6", "crop_y": "0", "crop_width": "0.5", "crop_height": "1"}, "crop_width"),
        ({"crop_x": "0", "crop_y": "0.2", "crop_width": "1", "crop_height": "0.9"}, "crop_height"),
        ({"crop_x": "nan", "crop_y": "0", "crop_width": "1", "crop_height": "1"}, "crop_x"),
        ({"crop_x": "0", "crop_y": "0", "crop_width": "0", "crop_height": "1"}, "crop_width"),
    ],
)
def test_bad_crop_boxes_are_refused(crop, field):
    response = api().post("/api/v1/search/image", {"image": SimpleUploadedFile("p.jpg", photo_bytes()), **crop})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["details"]) == [field]


def test_a_crop_smaller_than_the_smallest_photo_is_refused():
    photo = photo_bytes(size=(100, 100))

    response = api().post(
        "/api/v1/search/image",
        {"image": SimpleUploadedFile("p.jpg", photo), "crop_x": "0", "crop_y": "0", "crop_width": "0.1", "crop_height": "0.1"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "image_too_small"


@pytest.fixture
def guitar_copy(catalogue):
    """A second product whose photo is a re-encoded, slightly cropped copy of the guitar's, embedded."""
    copy = ProductFactory(name="Guitar (copy)", category=catalogue["Guitar"].category)
    image, _ = product_image_add(product=copy, data=query_copy(demo_asset_bytes("1f3b8.webp"), crop=0.06, size=(240, 240), quality=80), enqueue=False)
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.filter(image=image).values_list("id", flat=True)))
    return image


def test_near_duplicates_find_the_copied_photo_only(catalogue, guitar_copy):
    original = catalogue["Guitar"].images.get()

    response = api().get(f"/api/v1/images/{original.id}/near-duplicates?max_distance=0.1")
    strict = api().get(f"/api/v1/images/{original.id}/near-duplicates?max_distance=0.0001")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["image_id"] == original.id and body["model_key"] == "effnet-lite1-avg-240"
    assert [(r["image_id"], r["product_id"], r["product_name"]) for r in body["results"]] == [
        (guitar_copy.id, guitar_copy.product_id, "Guitar (copy)")
    ]
    assert 0 < body["results"][0]["distance"] <= 0.1
    assert body["results"][0]["similarity"] == pytest.approx(1 - body["results"][0]["distance"])
    assert strict.json()["results"] == []


def test_near_duplicates_hide_products_the_caller_cannot_see(catalogue, guitar_copy, partner):
    copy = guitar_copy.product
    copy.is_published = False
    copy.save()
    PartnerProduct.objects.create(product=copy, owner=partner)
    original = catalogue["Guitar"].images.get()
    url = f"/api/v1/images/{original.id}/near-duplicates?max_distance=0.1"

    assert api().get(url).json()["results"] == []
    assert [r["image_id"] for r in api(key_for(partner, "read")).get(url).json()["results"]] == [guitar_copy.id]
    assert api().get(f"/api/v1/images/{guitar_copy.id}/near-duplicates").json()["code"] == "not_found"


def test_near_duplicates_of_an_image_not_embedded_yet_is_409(catalogue):
    image, _ = product_image_add(product=catalogue["Teapot"], data=photo_bytes(), enqueue=False)

    response = api().get(f"/api/v1/images/{image.id}/near-duplicates")

    assert response.status_code == 409
    assert response.json()["code"] == "embedding_not_ready"


@pytest.mark.parametrize("query", ["max_distance=2", "max_distance=nan", "limit=101", "limit=0"])
def test_near_duplicates_refuse_bad_parameters(catalogue, query):
    image = catalogue["Guitar"].images.get()

    response = api().get(f"/api/v1/images/{image.id}/near-duplicates?{query}")

    assert response.status_code == 400 and response.json()["code"] == "invalid"
