"""The whole path on real parts: admin upload -> Redis -> Celery worker process -> pgvector -> search."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product
from catalog.services import category_get_or_create_path
from visualsearch.services import product_image_add
from catalog.tests.factories import ProductFactory
from conftest import demo_asset_bytes, wait_for
from visualsearch.models import ImageEmbedding
from visualsearch.tests.fixtures import CATALOGUE, query_copy

pytestmark = pytest.mark.e2e


def _admin_add(client, *, sku, name, category, asset):
    form = {
        "sku": sku, "name": name, "slug": sku.lower(), "description": "", "price": "25.00", "currency": "EUR",
        "stock_quantity": "4", "is_published": "on", "category": str(category.id),
        "images-TOTAL_FORMS": "1", "images-INITIAL_FORMS": "0", "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000", "images-0-position": "0", "images-0-alt_text": name,
        "variants-TOTAL_FORMS": "0", "variants-INITIAL_FORMS": "0", "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "images-0-upload": SimpleUploadedFile(asset, demo_asset_bytes(asset), content_type="image/webp"),
    }
    response = client.post("/admin/catalog/product/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Product.objects.get(sku=sku)


def test_admin_upload_is_embedded_by_the_worker_and_found_by_photo(celery_worker, admin_client, client):
    # given a catalogue whose other products are already in the index
    for asset, name, path, _ in CATALOGUE:
        if name != "Teapot":
            product = ProductFactory(name=name, category=category_get_or_create_path(path=path))
            product_image_add(product=product, data=demo_asset_bytes(asset))
    kitchen = category_get_or_create_path(path="Home/Kitchen")

    # when staff add the teapot in the admin, and the worker has done its job
    teapot = _admin_add(admin_client, sku="TEA-1", name="Teapot", category=kitchen, asset="1fad6.webp")
    wait_for(
        lambda: not ImageEmbedding.objects.exclude(status="ready").exists(),
        timeout=120,
        what="the worker to embed every image",
    )
    assert ImageEmbedding.objects.filter(status="ready").count() == len(CATALOGUE)

    # then a shopper's cropped, resized, re-encoded copy finds it first, on the page and in the API
    photo = query_copy(demo_asset_bytes("1fad6.webp"), crop=0.2, size=(260, 240), quality=60)
    page = client.post("/search/photo/", {"image": SimpleUploadedFile("q.jpg", photo, content_type="image/jpeg")}, follow=True)
    assert page.status_code == 200
    assert page.context["results"][0].product.id == teapot.id
    assert f'href="/p/{teapot.slug}/?shown=' in page.content.decode()  # a result link, attributed to this search

    api = client.post("/api/v1/search/image", {"image": SimpleUploadedFile("q.jpg", photo, content_type="image/jpeg")})
    assert api.status_code == 200
    assert api.json()["results"][0]["product_id"] == teapot.id

    # and the filters hold: in the kitchen under 20 EUR there is only the hot beverage (19.99; the teapot is 25)
    filtered = client.post(
        "/api/v1/search/image",
        {"image": SimpleUploadedFile("q.jpg", photo, content_type="image/jpeg"), "category": kitchen.slug, "max_price": "20"},
    )
    assert [r["name"] for r in filtered.json()["results"]] == ["Hot Beverage"]
