"""The staff dashboard (/admin/dashboard/) on a phone and at laptop width: tiles, both bar charts and the list of
what is running out fit the screen without scrolling the page sideways. Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from catalog.services import VariantData, product_variant_create
from catalog.tests.factories import ProductFactory
from shop.orders.models import Order
from shop.orders.services import CustomerData, order_place

pytestmark = [pytest.mark.browser, pytest.mark.urls("shop.tests.browser.urls")]

CUSTOMER = CustomerData(full_name="Ada", email="ada@example.org", address="1 Row", postcode="1", city="B",
                        country="D")


@pytest.fixture
def a_fortnight_of_orders(transactional_db, django_user_model):
    django_user_model.objects.create_superuser(username="staff", email="staff@example.org", password="staff-pass-42")
    mug = ProductFactory(name="Stoneware Mug", price=Decimal("8.50"), stock_quantity=500)
    shirt = ProductFactory(name="Organic Cotton T-Shirt", price=Decimal("14.90"), stock_quantity=0)
    for size, stock in [("S", 2), ("M", 40)]:
        product_variant_create(product=shirt, data=VariantData(sku=f"TEE-{size}", name=size, stock_quantity=stock))
    ProductFactory(name="Porcelain Teapot", stock_quantity=1)
    now = timezone.now()
    with mock.patch("celery.current_app.send_task"):
        for day in range(14):
            for _ in range(1 + day % 4):
                order = order_place(quantities={mug.id: 1}, customer=CUSTOMER)
                Order.objects.filter(id=order.id).update(created_at=now - timedelta(days=day))


@pytest.mark.parametrize("size,width", [("phone", 390), ("desktop", 1280)])
def test_the_dashboard_fits_the_screen_with_its_charts_and_what_runs_out(
    request, size, width, a_fortnight_of_orders, screenshot
):
    page = request.getfixturevalue(size)
    page.goto("/admin/login/?next=/admin/dashboard/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "staff-pass-42")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/dashboard/$"))

    # today's orders, and a bar per day in both charts, drawn inside the screen
    assert page.locator("#orders-today").inner_text() == "1"
    charts = page.locator(".chart")
    assert charts.count() == 2
    assert charts.nth(0).locator(".bar").count() == 14
    for n in range(2):
        box = charts.nth(n).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["height"] >= 100
    tallest = charts.nth(0).locator(".bar").evaluate_all("bars => Math.max(...bars.map(b => b.offsetHeight))")
    assert tallest > 90  # 4 orders on the busiest days: the full height
    # what is running out: the teapot, and size S of the shirt (its 42 in all hide it)
    rows = page.locator("#low-stock tbody tr").all_inner_texts()
    assert [row.split("\t")[0] for row in rows] == ["Porcelain Teapot", "Organic Cotton T-Shirt, S"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # a bar's number sits above the bar, below the chart's heading (not over it)
    heading = page.locator(".charts h2").first.bounding_box()
    highest = charts.nth(0).locator(".bar span").evaluate_all(
        "labels => Math.min(...labels.map(l => l.getBoundingClientRect().top + scrollY))")
    assert highest >= heading["y"] + heading["height"]
    assert page.locator(".chart-empty").inner_text() == "No photo searches in the last 14 days."
    screenshot(page, f"dashboard-{size}-01")
