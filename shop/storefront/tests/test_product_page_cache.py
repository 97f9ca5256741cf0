"""The product page's kept body (shop.storefront.productpage): the same page as a freshly made one with this
request's own values filled in, and never stale after a change to anything it shows."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from catalog.services import category_get_or_create_path, product_update
from recommendations.models import Shown
from recommendations.services import OrderProducts, copurchases_record, log_flush
from shop.orders.services import CustomerData, order_place

pytestmark = pytest.mark.django_db

CUSTOMER = CustomerData(full_name="Ada Shopper", email="ada@example.com", address="1 Road", postcode="1000",
                        city="Town", country="NL")


def _normalised(html: str) -> str:
    """The page with the values that differ on every request (the CSRF token, the logged lists' ids) blanked."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value="T"', html)
    return re.sub(r"shown=\d+", "shown=N", html)


def _tables(queries) -> set[str]:
    return {table for q in queries.captured_queries for table in re.findall(r'(?:FROM|UPDATE|INTO) "(\w+)"', q["sql"])}


def test_a_second_visit_is_the_kept_page_with_its_own_list_ids_and_reads_no_catalogue_rows(client, catalogue):
    # given a product page visited once
    shoe = catalogue["Athletic Shoe"]
    first = client.get(shoe.get_absolute_url())
    # when it is visited again
    with CaptureQueriesContext(connection) as queries:
        second = client.get(shoe.get_absolute_url())
    # then the second is the kept body, the same page but for the per-request values
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.context["page_kept"], second.context["page_kept"]) == (False, True)
    first_html, second_html = first.content.decode(), second.content.decode()
    assert _normalised(first_html) == _normalised(second_html)
    assert second_html.count("Athletic Shoe") == first_html.count("Athletic Shoe") > 0
    # each visit logged its own "Visually similar" list, and its links carry that list's id
    log_flush()
    ids = list(Shown.objects.filter(kind="similar", source_product_id=shoe.id).order_by("id").values_list("id", flat=True))
    assert len(ids) == 2
    assert f"?shown={ids[0]}" in first_html and f"?shown={ids[1]}" in second_html
    assert f"?shown={ids[0]}" not in second_html and "lumen:" not in second_html
    # the kept page read only the session and the header's categories, and wrote only the session
    assert _tables(queries) == {"django_session", "catalog_category"}


def test_the_kept_page_carries_this_shoppers_csrf_token_and_cart(catalogue):
    # given one shopper who has the teapot in the cart and another who has not, both on the page that is kept
    teapot = catalogue["Teapot"]
    buyer, browser = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    page = buyer.get(teapot.get_absolute_url())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    added = buyer.post("/cart/add/", {"product": teapot.id, "quantity": 2, "csrfmiddlewaretoken": token})
    assert added.status_code == 302
    # when both open it again
    kept_for_buyer = buyer.get(teapot.get_absolute_url())
    kept_for_browser = browser.get(teapot.get_absolute_url())
    # then the buyer's says what is in their cart and the other's does not
    assert kept_for_buyer.context["page_kept"] and kept_for_browser.context["page_kept"]
    assert "2 already in" in kept_for_buyer.content.decode()
    assert "already in" not in kept_for_browser.content.decode()
    # and the other shopper's token from the kept page is accepted for their own cart (it is theirs, not the buyer's)
    browser_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', kept_for_browser.content.decode()).group(1)
    assert browser.post("/cart/add/", {"product": teapot.id, "quantity": 1,
                                      "csrfmiddlewaretoken": browser_token}).status_code == 302
    assert "1 already in" in browser.get(teapot.get_absolute_url()).content.decode()


def test_the_english_and_the_chinese_page_are_kept_apart(catalogue):
    # given the teapot with a Chinese name, and its English page kept
    teapot = product_update(product=catalogue["Teapot"], name_zh="白瓷茶壶")
    english, chinese = Client(), Client()
    english.get(teapot.get_absolute_url())
    assert english.get(teapot.get_absolute_url()).context["page_kept"]
    # when a shopper who chose Chinese opens it
    chinese.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    first = chinese.get(teapot.get_absolute_url())
    again = chinese.get(teapot.get_absolute_url())
    # then theirs is made in Chinese and kept as such, and the English one stays English
    assert not first.context["page_kept"] and again.context["page_kept"]
    assert "<h1>白瓷茶壶</h1>" in again.content.decode() and 'lang="zh-hans"' in again.content.decode()
    kept_english = english.get(teapot.get_absolute_url())
    assert kept_english.context["page_kept"]
    assert "白瓷茶壶" not in kept_english.content.decode() and "<h1>Teapot</h1>" in kept_english.content.decode()


def test_a_change_to_the_product_or_to_a_product_it_shows_is_on_the_next_visit(client, catalogue):
    # given a kept product page and the first product of its "Visually similar" list
    shoe = catalogue["Athletic Shoe"]
    first = client.get(shoe.get_absolute_url())
    neighbour = first.context["similar"][0].product
    assert client.get(shoe.get_absolute_url()).context["page_kept"]
    # when the product's price changes (the admin's and the API's service)
    product_update(product=shoe, price=Decimal("77.70"))
    # then the next visit is made again and shows it
    repriced = client.get(shoe.get_absolute_url())
    assert not repriced.context["page_kept"] and "77.70 EUR" in repriced.content.decode()
    assert client.get(shoe.get_absolute_url()).context["page_kept"]
    # when the neighbour is unpublished, it leaves the kept page at once
    product_update(product=neighbour, is_published=False)
    without = client.get(shoe.get_absolute_url())
    assert not without.context["page_kept"]
    assert neighbour.get_absolute_url() not in without.content.decode()
    assert neighbour.get_absolute_url() in first.content.decode()
    # and when the product itself is unpublished, its kept page is gone: 404
    product_update(product=shoe, is_published=False)
    assert client.get(shoe.get_absolute_url()).status_code == 404


def test_stock_taken_by_an_order_and_a_renamed_category_show_on_the_next_visit(client, catalogue):
    # given the kept page of a teapot with 10 in stock
    teapot = catalogue["Teapot"]
    product_update(product=teapot, stock_quantity=10)
    assert "10 in stock" in client.get(teapot.get_absolute_url()).content.decode()
    assert client.get(teapot.get_absolute_url()).context["page_kept"]
    # when an order takes 3 (a conditional UPDATE, no model save)
    order_place(quantities={teapot.id: 3}, customer=CUSTOMER)
    # then the next visit shows 7
    page = client.get(teapot.get_absolute_url())
    assert not page.context["page_kept"] and "7 in stock" in page.content.decode()
    # when its category gets a Chinese name through the import's path (an UPDATE too), the Chinese page shows it
    client.cookies["django_language"] = "zh-hans"
    assert client.get(teapot.get_absolute_url()).context["page_kept"] is False  # the Chinese page is kept apart
    assert client.get(teapot.get_absolute_url()).context["page_kept"] is True
    category_get_or_create_path(path=teapot.category.name, path_zh="茶具")
    zh = client.get(teapot.get_absolute_url())
    assert not zh.context["page_kept"] and "茶具" in zh.content.decode()


def test_an_order_counted_for_bought_together_shows_on_the_next_visit(client, catalogue):
    lamp, teapot = catalogue["Teapot"], catalogue["Hot Beverage"]
    assert "Bought together" not in client.get(lamp.get_absolute_url()).content.decode()
    assert client.get(lamp.get_absolute_url()).context["page_kept"]

    copurchases_record(order=OrderProducts(reference="R1", product_ids=[lamp.id, teapot.id]))

    page = client.get(lamp.get_absolute_url())
    assert not page.context["page_kept"]
    assert [t.product.id for t in page.context["together"]] == [teapot.id]


def test_a_page_whose_pictures_wait_for_their_vectors_is_not_kept(client, catalogue):
    from visualsearch.models import ImageEmbedding

    shoe = catalogue["Athletic Shoe"]
    ImageEmbedding.objects.filter(image__product=shoe).delete()
    assert "appear once this product" in client.get(shoe.get_absolute_url()).content.decode()
    assert client.get(shoe.get_absolute_url()).context["page_kept"] is False


def test_with_the_log_off_the_kept_page_links_carry_no_list_id(client, catalogue, settings):
    settings.RECOMMENDATIONS_LOG = False
    shoe = catalogue["Athletic Shoe"]
    made = client.get(shoe.get_absolute_url())
    cards = len(made.context["similar"]) + len(made.context["other_colours"]) + len(made.context["together"])
    page = client.get(shoe.get_absolute_url())
    html = page.content.decode()
    assert page.context["page_kept"] and cards >= 7
    assert html.count('<article class="card">') == cards
    assert f'href="{made.context["similar"][0].product.get_absolute_url()}"' in html
    assert "shown=" not in html and "lumen:" not in html


def test_a_change_saved_with_redis_down_is_saved_and_the_page_is_a_clear_503(client, catalogue):
    # given Redis unreachable (the product page needs it for its lists, as before: a clear 503, never a 500)
    shoe = catalogue["Athletic Shoe"]
    down = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}}
    with override_settings(CACHES=down):
        # when the price changes, the change marks cannot be written: logged, not raised, the change kept
        product_update(product=shoe, price=Decimal("12.30"))
        page = client.get(shoe.get_absolute_url())
    assert page.status_code == 503
    shoe.refresh_from_db()
    assert shoe.price == Decimal("12.30")
    # and once Redis answers, the page shows it
    assert "12.30 EUR" in client.get(shoe.get_absolute_url()).content.decode()
