"""GET /api/v1/products/{id}/bought-together."""

import pytest

from catalog.tests.factories import ProductFactory
from conftest import photo_bytes
from recommendations.services import OrderProducts, copurchases_record
from visualsearch.services import product_image_add

pytestmark = pytest.mark.django_db


def _pictured(**fields):
    product = ProductFactory(**fields)
    product_image_add(product=product, data=photo_bytes(colour=(product.id * 37 % 255, 90, 160)), enqueue=False)
    return product


def _ordered_together(first, second, *, times: int) -> None:
    for n in range(times):
        copurchases_record(order=OrderProducts(reference=f"R{first.id}-{second.id}-{n}",
                                               product_ids=[first.id, second.id]))


def test_bought_together_lists_in_stock_first_then_by_orders(client):
    # given a lamp bought with a shade (3 orders), a bulb (1) and an out-of-stock cable (5)
    lamp, shade, bulb = _pictured(), _pictured(), _pictured()
    cable = _pictured(stock_quantity=0)
    _ordered_together(lamp, shade, times=3)
    _ordered_together(lamp, bulb, times=1)
    _ordered_together(lamp, cable, times=5)
    # when a partner asks for the lamp's list
    response = client.get(f"/api/v1/products/{lamp.id}/bought-together")
    limited = client.get(f"/api/v1/products/{lamp.id}/bought-together?limit=1")
    # then
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["product_id"], r["orders"], r["in_stock"]) for r in results] == [
        (shade.id, 3, True), (bulb.id, 1, True), (cable.id, 5, False)
    ]
    assert results[0]["url"] == f"http://testserver{shade.get_absolute_url()}"
    assert results[0]["image_url"].startswith("http://testserver/")
    assert [r["product_id"] for r in limited.json()["results"]] == [shade.id]


def test_bought_together_of_a_product_never_ordered_with_another_is_an_empty_200(client):
    response = client.get(f"/api/v1/products/{_pictured().id}/bought-together")
    assert (response.status_code, response.json()) == (200, {"results": []})


def test_bought_together_of_an_unknown_or_unpublished_product_is_404(client):
    hidden = _pictured(is_published=False)
    unknown = client.get("/api/v1/products/999999/bought-together")
    unpublished = client.get(f"/api/v1/products/{hidden.id}/bought-together")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert (unpublished.status_code, unpublished.json()["code"]) == (404, "not_found")


def test_bought_together_limit_out_of_range_is_400(client):
    response = client.get(f"/api/v1/products/{_pictured().id}/bought-together?limit=0")
    assert response.status_code == 400
