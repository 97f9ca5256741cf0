"""The product page's "Bought together" block and the home page's suggestions, with what they log."""

import pytest

from catalog.tests.factories import ProductFactory
from conftest import photo_bytes
from recommendations.models import Shown
from recommendations.services import OrderProducts, copurchases_record, log_flush
from visualsearch.services import product_image_add

pytestmark = pytest.mark.django_db


def _pictured(**fields):
    product = ProductFactory(**fields)
    product_image_add(product=product, data=photo_bytes(colour=(product.id * 37 % 255, 90, 160)), enqueue=False)
    return product


def _ordered_together(*products, times: int = 1, tag: str = "") -> None:
    for n in range(times):
        copurchases_record(order=OrderProducts(reference=f"R{tag}{n}", product_ids=[p.id for p in products]))


def test_product_page_shows_bought_together_and_logs_the_list(client):
    # given a lamp bought with a shade in three orders and with a bulb in one
    lamp, shade, bulb = _pictured(name="Desk lamp"), _pictured(name="Shade"), _pictured(name="Bulb")
    _ordered_together(lamp, shade, times=3, tag="s")
    _ordered_together(lamp, bulb, tag="b")
    # when the lamp's page is opened
    page = client.get(lamp.get_absolute_url())
    # then the block lists the shade then the bulb, and the list is logged with links that carry its id
    html = page.content.decode()
    assert [t.product.id for t in page.context["together"]] == [shade.id, bulb.id]
    assert "Bought together" in html
    log_flush()
    shown = Shown.objects.get(kind="together")
    assert (shown.product_ids, shown.source_product_id) == ([shade.id, bulb.id], lamp.id)
    assert f'href="{shade.get_absolute_url()}?shown={shown.id}"' in html


def test_product_page_hides_bought_together_when_nothing_was_bought_with_it(client):
    lamp = _pictured(name="Desk lamp")
    page = client.get(lamp.get_absolute_url())
    assert page.context["together"] == []
    assert "Bought together" not in page.content.decode()
    log_flush()
    assert not Shown.objects.filter(kind="together").exists()


def test_home_page_of_a_new_shopper_shows_new_arrivals_and_no_suggestions(client):
    _pictured(name="Desk lamp")
    page = client.get("/")
    html = page.content.decode()
    assert page.context["suggestions"].items == []
    assert "Suggested for you" not in html and "Inspired by what you viewed" not in html
    assert "New arrivals" in html and "Desk lamp" in html
    assert log_flush() == 0
    assert not Shown.objects.exists()


def test_home_page_suggests_from_the_cart_and_logs_the_list(client, catalogue):
    # given a shopper with the teapot in the cart; others bought the teapot with the guitar
    teapot, guitar = catalogue["Teapot"], catalogue["Guitar"]
    _ordered_together(teapot, guitar, times=3)
    client.post("/cart/add/", {"product": teapot.id, "quantity": 1})
    # when the home page is opened
    page = client.get("/")
    # then "Suggested for you" opens with the guitar, leaves the teapot out, and the list is logged
    ids = [s.product.id for s in page.context["suggestions"]]
    assert ids[0] == guitar.id and teapot.id not in ids and len(ids) == 7
    assert "Suggested for you" in page.content.decode()
    log_flush()
    shown = Shown.objects.get(kind="suggested")
    assert (shown.product_ids, shown.filters) == (ids, {"basis": "behaviour"})
