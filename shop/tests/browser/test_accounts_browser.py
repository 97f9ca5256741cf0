"""A customer signs up, buys, finds the order in the account and resets the password: on a phone in Chinese, and
at laptop width in English."""

from __future__ import annotations

import re
from decimal import Decimal
from unittest import mock

import pytest

from catalog.tests.factories import ProductFactory
from conftest import photo_bytes
from shop.orders.models import Order
from shop.orders.services import order_mail_send
from visualsearch.services import product_image_add

pytestmark = [pytest.mark.browser, pytest.mark.urls("shop.tests.browser.urls")]


TEXTS = {
    "zh": {"account": "您的账户", "mug": "马克杯", "subject": "您的订单 {}", "log_out": "退出登录"},
    "en": {"account": "Your account", "mug": "Mug", "subject": "Your order {}", "log_out": "Log out"},
}


@pytest.mark.parametrize("size,width,language", [("phone", 390, "zh"), ("desktop", 1280, "en")])
def test_sign_up_order_and_history(request, size, width, language, live_server, screenshot, mailoutbox):
    texts = TEXTS[language]
    mug = ProductFactory(name="Mug", name_zh="马克杯", price=Decimal("8.50"), stock_quantity=5)
    product_image_add(product=mug, data=photo_bytes(), enqueue=False)
    page = request.getfixturevalue(size)
    if language == "zh":
        page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])

    page.goto("/account/sign-up/")
    page.fill("#id_email", "ada@example.org")
    page.fill("#id_password", "a-long-pass-phrase-42")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/account/$"))
    assert page.locator("h1").inner_text() == texts["account"]

    page.goto(mug.get_absolute_url())
    assert page.locator("h1").inner_text() == texts["mug"]
    page.click("form button.button >> nth=0")
    page.goto("/checkout/")
    assert page.locator("#id_email").input_value() == "ada@example.org"
    for field, value in (("full_name", "Ada Lovelace"), ("address", "12 Analytical Row"), ("postcode", "10115"),
                         ("city", "Berlin"), ("country", "Germany")):
        page.fill(f"#id_{field}", value)
    page.check("#id_save_address")
    screenshot(page, f"{size}-{language}-11-checkout-with-account")
    # no message to the broker: a worker left running by an earlier test would send the mail out of our sight
    with mock.patch("celery.current_app.send_task"):
        page.click("button.block")
        page.wait_for_url(re.compile(r"/order/"))

    order = Order.objects.get()
    page.goto("/account/")
    screenshot(page, f"{size}-{language}-12-account")
    assert order.reference in page.locator("table.orders").inner_text()
    assert "Ada Lovelace, 12 Analytical Row, 10115 Berlin, Germany" in page.locator("ul.addresses").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # the confirmation goes out in the shopper's language (sent here as the worker would), then a password reset
    order_mail_send(mail_id=order.mails.get().id)
    assert mailoutbox[0].subject == texts["subject"].format(order.reference)
    page.click(f"text={texts['log_out']}")
    page.goto("/account/password-reset/")
    page.fill("#id_email", "ada@example.org")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/password-reset/sent/$"))
    link = re.search(r"https?://[^/]+(/account/password-reset/\S+/)", mailoutbox[-1].body).group(1)
    page.goto(link)
    page.fill("#id_new_password1", "another-long-pass-phrase-7")
    page.fill("#id_new_password2", "another-long-pass-phrase-7")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/password-reset/done/$"))
    page.goto("/account/login/")
    page.fill("#id_username", "ada@example.org")
    page.fill("#id_password", "another-long-pass-phrase-7")
    page.click("form button.block")
    page.wait_for_url(re.compile(r"/account/$"))
