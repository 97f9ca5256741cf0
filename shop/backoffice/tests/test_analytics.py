"""The search analytics page (/admin/analytics/): staff only, charts and tables, CSV export of each table."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from catalog.tests.factories import CategoryFactory, ProductFactory
from recommendations.models import ActionKind, ShownKind
from recommendations.tests.factories import ActionFactory, ShownFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def log():
    """Two photo searches (one bought from), a text search and a similar-items list, shown minutes ago, and a photo
    search 40 days ago."""
    now = timezone.now()
    shoes = CategoryFactory(name="Shoes", name_zh="鞋")
    boot = ProductFactory(name="Boot", name_zh="靴子", sku="BOOT-1", category=shoes)
    heel = ProductFactory(name="Heel", sku="HEEL-1", category=shoes)
    mug = ProductFactory(name="Mug", sku="MUG-1", category=CategoryFactory(name="Kitchen"))
    first = ShownFactory(kind=ShownKind.PHOTO, product_ids=[boot.id, heel.id, mug.id], close_match=True,
                         created_at=now - timedelta(minutes=5))
    second = ShownFactory(kind=ShownKind.PHOTO, product_ids=[heel.id, boot.id], close_match=False,
                          created_at=now - timedelta(minutes=4))
    text = ShownFactory(kind=ShownKind.TEXT, product_ids=[mug.id], close_match=True, filters={"page": "1"},
                        query_text="mug", created_at=now - timedelta(minutes=3))
    ShownFactory(kind=ShownKind.SIMILAR, product_ids=[heel.id], close_match=True, source_product=boot,
                 created_at=now - timedelta(minutes=2))
    old = ShownFactory(kind=ShownKind.PHOTO, product_ids=[mug.id], close_match=True, created_at=now - timedelta(days=40))
    ActionFactory(shown=first, rank=1, kind=ActionKind.OPEN)
    ActionFactory(shown=first, rank=1, kind=ActionKind.CART)
    ActionFactory(shown=first, rank=1, kind=ActionKind.BUY)
    ActionFactory(shown=second, rank=2, kind=ActionKind.OPEN)
    ActionFactory(shown=text, rank=1, kind=ActionKind.OPEN)
    ActionFactory(shown=old, rank=1, kind=ActionKind.OPEN)
    return {"boot": boot, "heel": heel, "mug": mug, "first": first, "second": second, "text": text}


def test_staff_see_the_figures_with_two_svg_charts(admin_client, log):
    response = admin_client.get("/admin/analytics/", {"days": "7"})
    assert response.status_code == 200
    board = response.context["board"]
    assert board.period.days == 7
    assert (board.photo.lists, board.text.lists, board.similar.lists) == (2, 1, 1)
    page = response.content.decode()
    assert 'id="photo-lists">2<' in page
    assert 'id="photo-close">50%<' in page
    assert 'id="photo-conversion">50%<' in page
    assert 'id="ctr-first">50%<' in page  # rank 1 shown in 4 lists, opened in 2 (the older list is not counted)
    charts = re.findall(r'<svg class="chart".*?</svg>', page, flags=re.S)
    assert len(charts) == 2
    # searches per day: today's bar is stacked from three kinds; the rank chart has a bar for each of 11 ranks
    assert re.findall(r'fill="(#[0-9a-f]{6})"><title>', charts[0]) == ["#417690", "#e8a33d", "#7aa874"]
    assert charts[0].count("<rect") == 3 and charts[1].count("<rect") == 11
    # a figure over each rank that was shown: 2 of 4, 1 of 2, 0 of 1
    assert re.findall(r'<text class="value"[^>]*>([^<]*)</text>', charts[1]) == ["50%", "50%", "0%"]
    products = re.search(r'<section id="products">.*?</section>', page, flags=re.S).group(0)
    assert re.findall(r'>(Boot|Heel|Mug)</a></td><td class="n">(\d+)</td><td class="n">(\d+)<', products) == [
        ("Boot", "2", "2"), ("Heel", "2", "0"), ("Mug", "2", "1"),
    ]


def test_the_period_is_chosen_among_7_30_and_90_days(admin_client, log):
    assert admin_client.get("/admin/analytics/", {"days": "90"}).context["board"].photo.lists == 3
    assert admin_client.get("/admin/analytics/").context["board"].period.days == 30
    for wrong in ("14", "abc", "-1"):
        assert admin_client.get("/admin/analytics/", {"days": wrong}).context["board"].period.days == 30


def test_the_page_is_for_staff_only(client, log):
    # anonymous: to the admin's login, which comes back here
    response = client.get("/admin/analytics/", {"export": "ranks"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/analytics/%3Fexport%3Dranks"
    # a signed-in customer is not staff: the login page again, saying so, and no figure
    customer = get_user_model().objects.create_user(username="ada", email="ada@example.org", password="pass-phrase-42")
    client.force_login(customer)
    response = client.get("/admin/analytics/", follow=True)
    assert response.redirect_chain == [("/admin/login/?next=/admin/analytics/", 302)]
    assert "board" not in response.context
    assert "You are authenticated as ada, but are not authorized to access this page" in " ".join(
        response.content.decode().split())
    response = client.get("/admin/analytics/", {"export": "ranks"})
    assert response.status_code == 302 and "text/csv" not in response.get("Content-Type", "")


def test_each_table_exports_as_csv(admin_client, log):
    today = timezone.localdate()
    first_day = today - timedelta(days=6)

    response = admin_client.get("/admin/analytics/", {"days": "7", "export": "ranks"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="analytics-ranks-{first_day.isoformat()}-to-{today.isoformat()}.csv"'
    )
    assert response.content.decode() == (
        "rank,shown,opens,ctr,carts,cart_rate\r\n"
        "1,4,2,0.5000,1,0.2500\r\n"
        "2,2,1,0.5000,0,0.0000\r\n"
        "3,1,0,0.0000,0,0.0000\r\n"
        + "".join(f"{rank},0,0,,0,\r\n" for rank in range(4, 11))
        + "11+,0,0,,0,\r\n"
    )
    kinds = admin_client.get("/admin/analytics/", {"days": "7", "export": "kinds"}).content.decode()
    assert kinds == (
        "kind,lists,close_matches,close_share,products_shown,opens,ctr,carts,cart_rate,lists_opened,lists_bought,"
        "conversion\r\n"
        "photo,2,1,0.5000,5,2,0.4000,1,0.2000,2,1,0.5000\r\n"
        "text,1,,,1,1,1.0000,0,0.0000,1,0,0.0000\r\n"
        "similar,1,1,1.0000,1,0,0.0000,0,0.0000,0,0,0.0000\r\n"
    )
    products = admin_client.get("/admin/analytics/", {"days": "7", "export": "products"}).content.decode()
    boot, heel, mug = log["boot"], log["heel"], log["mug"]
    assert products == (
        "product_id,sku,name,category,in_top_3,opens\r\n"
        f"{boot.id},BOOT-1,Boot,Shoes,2,2\r\n{heel.id},HEEL-1,Heel,Shoes,2,0\r\n{mug.id},MUG-1,Mug,Kitchen,2,1\r\n"
    )
    categories = admin_client.get("/admin/analytics/", {"days": "7", "export": "categories"}).content.decode()
    assert categories == (
        f"category_id,category,in_top_3,opens\r\n{boot.category_id},Shoes,4,2\r\n{mug.category_id},Kitchen,2,1\r\n"
    )
    searches = admin_client.get("/admin/analytics/", {"days": "7", "export": "searches"}).content.decode().split("\r\n")
    days_logged = {timezone.localdate(log[name].created_at) for name in ("first", "second", "text")}
    assert searches[0] == "day,photo,text,similar,total" and len(searches) == 9 and searches[-1] == ""
    assert [row.split(",")[0] for row in searches[1:-1]] == [(first_day + timedelta(days=n)).isoformat()
                                                              for n in range(7)]
    if days_logged == {today}:  # not when the test runs in the first minutes after midnight
        assert searches[-2] == f"{today.isoformat()},2,1,1,4"
    demand = admin_client.get("/admin/analytics/", {"days": "7", "export": "demand"}).content.decode()
    assert demand == "group,searches,first_half,second_half,trend,nearest_skus,nearest_products\r\n"


def test_an_unknown_table_answers_400_with_the_names_of_the_tables(admin_client, log):
    response = admin_client.get("/admin/analytics/", {"export": "orders"})
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == (
        'There is no table "orders" to export; the tables are: searches, kinds, ranks, products, categories, demand.'
    )
    assert admin_client.get("/admin/analytics/", {"export": ""}).status_code == 400


def test_the_page_speaks_chinese(admin_client, log):
    admin_client.cookies["django_language"] = "zh-hans"
    page = admin_client.get("/admin/analytics/", {"days": "7"}).content.decode()
    assert "<h1>搜索分析</h1>" in page
    assert "每日搜索" in page and "按排名的点击率" in page
    assert ">靴子</a>" in page  # the product's Chinese name
    assert "7 天" in page


def test_the_dashboard_and_the_admin_index_link_the_page(admin_client):
    assert 'href="/admin/analytics/"' in admin_client.get("/admin/dashboard/").content.decode()
    assert 'href="/admin/analytics/"' in admin_client.get("/admin/").content.decode()


def test_the_stacked_bars_scale_to_a_round_top():
    from datetime import date

    from recommendations.analytics import DaySearches
    from shop.backoffice.analytics import BOTTOM, HEIGHT, TOP, searches_chart

    days = [DaySearches(day=date(2026, 11, 28 + n), photo=p, text=t, similar=s)
            for n, (p, t, s) in enumerate([(0, 0, 0), (2, 1, 0), (4, 0, 3)])]

    chart = searches_chart(days)

    plot = HEIGHT - TOP - BOTTOM  # 182 units for 0..8 (the largest day has 7: the next step of 2 above it)
    assert [line.text for line in chart.grid] == ["0", "2", "4", "6", "8"]
    assert [(bar.colour, bar.height) for bar in chart.bars] == [
        ("#417690", plot * 2 / 8), ("#e8a33d", plot * 1 / 8), ("#417690", plot * 4 / 8), ("#7aa874", plot * 3 / 8),
    ]
    # stacked: each bar starts where the one under it ends
    assert chart.bars[1].y + chart.bars[1].height == chart.bars[0].y
    assert chart.bars[3].y + chart.bars[3].height == chart.bars[2].y
    assert [label.text for label in chart.x_labels] == ["Sat", "Sun", "Mon"] and not chart.empty
