"""Forget me, in a real browser: a shopper searches and opens a result (the log records both), finds the privacy
page from the footer, asks the shop to forget, and the rows of this browser are gone while another shopper's stay.
On a phone in Chinese and at laptop width in English; screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from catalog.tests.factories import ProductFactory
from conftest import photo_bytes
from recommendations.models import Action, Shown
from recommendations.tests.factories import ShownFactory
from visualsearch.services import product_image_add

pytestmark = [pytest.mark.browser, pytest.mark.urls("shop.tests.browser.urls")]

TEXTS = {
    "zh": {"footer": "隐私与您的搜索记录", "forget": "删除我的搜索记录", "done": "您的搜索记录已删除"},
    "en": {"footer": "Privacy and your search history", "forget": "Forget my search history",
           "done": "Your search history is forgotten"},
}


@pytest.mark.parametrize("size,width,language", [("phone", 390, "zh"), ("desktop", 1280, "en")])
def test_a_shopper_has_the_shop_forget_their_searches(request, size, width, language, live_server, screenshot):
    texts = TEXTS[language]
    teapot = ProductFactory(name="Porcelain Teapot", name_zh="瓷茶壶", stock_quantity=4)
    product_image_add(product=teapot, data=photo_bytes(), enqueue=False)
    someone_else = ShownFactory(kind="text", product_ids=[teapot.id], visitor="another-shopper")
    page = request.getfixturevalue(size)
    if language == "zh":
        page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])

    # a text search (its list is logged) and a click on its result (an open, attributed to it)
    page.goto("/search/?q=teapot")
    page.locator(".card a").first.click()
    page.wait_for_url(f"**{teapot.get_absolute_url()}**")
    mine = Shown.objects.exclude(id=someone_else.id)
    assert mine.count() >= 1 and Action.objects.filter(shown__in=mine, kind="open").count() == 1

    # the footer's link, the page's promise, the button
    page.locator("footer a", has_text=texts["footer"]).click()
    page.wait_for_url("**/privacy/")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"{size}-{language}-30-privacy")
    page.locator("button", has_text=texts["forget"]).click()
    page.wait_for_url("**/privacy/")

    assert texts["done"] in page.locator(".messages").inner_text()
    screenshot(page, f"{size}-{language}-31-forgotten")
    assert list(Shown.objects.values_list("id", flat=True)) == [someone_else.id]
    assert Action.objects.count() == 0
