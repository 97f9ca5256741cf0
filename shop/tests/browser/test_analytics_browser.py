"""The search analytics page (/admin/analytics/) on a phone: a member of staff logs in, the server-drawn SVG charts
and the tables fit the 390 px screen without scrolling the page sideways. Screenshot in test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.tests.factories import ProductFactory
from recommendations.models import ActionKind, ShownKind
from recommendations.tests.factories import ActionFactory, ShownFactory

pytestmark = [pytest.mark.browser, pytest.mark.urls("shop.tests.browser.urls")]


def test_the_analytics_page_fits_a_phone(phone, django_user_model, screenshot):
    # given a member of staff and a month of lists shown, some of them opened
    django_user_model.objects.create_superuser(username="staff", email="staff@example.org", password="staff-pass-42")
    products = [ProductFactory(name=f"Product with a rather long name {n}") for n in range(12)]
    now = timezone.now()
    for day in range(30):
        for kind in (ShownKind.PHOTO, ShownKind.TEXT, ShownKind.SIMILAR):
            shown = ShownFactory(kind=kind, product_ids=[p.id for p in products], close_match=day % 3 == 0,
                                 filters={"page": "1"} if kind == ShownKind.TEXT else {},
                                 created_at=now - timedelta(days=day, minutes=5))
            ActionFactory(shown=shown, rank=1 + day % 12, kind=ActionKind.OPEN)

    # when they open the page on a phone
    page = phone
    page.goto("/admin/login/?next=/admin/analytics/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "staff-pass-42")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/analytics/$"))

    # then both charts are drawn (30 days stacked by 3 kinds; 11 ranks) across the screen's width
    assert page.locator("h1").inner_text() == "Search analytics"
    charts = page.locator("svg.chart")
    assert charts.count() == 2
    assert page.locator("#searches-per-day svg.chart rect").count() == 90
    assert page.locator("#ctr-by-rank svg.chart rect").count() == 11
    for n in range(2):
        box = charts.nth(n).bounding_box()
        assert 330 <= box["width"] <= 390 and box["height"] > 140
    # and the rank table shows every rank within the screen, as does the whole page
    table = page.locator("#ranks table")
    assert table.locator("tbody tr").count() == 11
    box = table.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "analytics-phone-01")
