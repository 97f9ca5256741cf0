"""The demo catalogue reads like a shop: real product names, prices that fit each department, descriptions
that vary, and no department named like the breadcrumbs' "Home"."""

import csv
import statistics
from collections import defaultdict
from decimal import Decimal

import pytest
from django.conf import settings

from shop.backoffice.demo import DEPARTMENTS, demo_csv_write

# What a shopper would find believable, per department: (lowest, highest) price in EUR.
PRICE_BANDS = {
    "Groceries": (Decimal("0.50"), Decimal("25")),
    "Books & Stationery": (Decimal("1"), Decimal("60")),
    "Fashion": (Decimal("3"), Decimal("1000")),
    "Electronics": (Decimal("4"), Decimal("1200")),
    "Home & Living": (Decimal("2"), Decimal("1000")),
    "Tools": (Decimal("2"), Decimal("100")),
    "Science & Health": (Decimal("3"), Decimal("300")),
    "Sports": (Decimal("9"), Decimal("800")),
    "Toys & Games": (Decimal("2"), Decimal("80")),
    "Music": (Decimal("10"), Decimal("1500")),
}


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    if not settings.DEMO_ASSETS_DIR.is_dir():
        pytest.fail(f"{settings.DEMO_ASSETS_DIR} is missing: run `make demo-assets` (make test does it)")
    out = tmp_path_factory.mktemp("demo") / "catalog.csv"
    count = demo_csv_write(assets=settings.DEMO_ASSETS_DIR, out=out)
    with out.open(encoding="utf-8") as handle:
        every = list(csv.DictReader(handle))
    products = {row["sku"]: row for row in reversed(every)}  # a product's first row
    assert count == len(products)
    return list(products.values())


@pytest.fixture(scope="module")
def variant_rows(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "catalog.csv"
    demo_csv_write(assets=settings.DEMO_ASSETS_DIR, out=out)
    with out.open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["variant_sku"]]


def test_every_picture_of_the_package_becomes_one_product_with_a_real_name(rows):
    names = [row["name"] for row in rows]

    assert len(rows) == 371
    assert len(set(names)) == len(names)
    leftovers = ("Item", "Womans", "Mans ", "Lower Left", "Black ", "Hocho", "With Sash")
    assert [name for name in names if any(word in name for word in leftovers)] == []


def test_prices_fit_their_department(rows):
    outside = []
    for row in rows:
        low, high = PRICE_BANDS[row["category"].split("/")[0]]
        if not low <= Decimal(row["price"]) <= high:
            outside.append((row["name"], row["price"]))

    assert outside == []
    by_department = defaultdict(list)
    for row in rows:
        by_department[row["category"].split("/")[0]].append(Decimal(row["price"]))
    assert statistics.median(by_department["Groceries"]) < 3 < statistics.median(by_department["Music"]) / 10


def test_descriptions_vary_within_and_between_departments(rows):
    by_category = defaultdict(set)
    for row in rows:
        by_category[row["category"]].add(row["description"])

    assert all(len(descriptions) >= 2 for descriptions in by_category.values())
    every = [d for descriptions in by_category.values() for d in descriptions]
    assert len(set(every)) == len(every)  # no sentence shared by two categories


def test_no_department_is_named_like_the_breadcrumbs_home():
    departments = {path.split("/")[0] for path in DEPARTMENTS}

    assert "Home" not in departments and "Home & Living" in departments


def test_the_demo_sells_colours_skin_tones_and_sizes_as_variants(variant_rows):
    by_product = defaultdict(list)
    for row in variant_rows:
        by_product[row["name"]].append(row["variant"])

    assert by_product["Heart Cushion"] == ["Red", "Orange", "Yellow", "Green", "Blue", "Purple", "Black", "White", "Pink"]
    assert by_product["Foam Fan Hand"][:2] == ["Classic yellow", "Light skin tone"] and len(by_product["Foam Fan Hand"]) == 6
    assert by_product["Organic Cotton T-Shirt"] == ["S", "M", "L", "XL"]
    # Colours and tones each have their own picture; sizes share the product's.
    pictures = {row["variant_sku"]: row["image"] for row in variant_rows}
    assert pictures["DEMO-HEART-01"] == "2764-fe0f.webp" and pictures["DEMO-FOAMHAND-06"] == "1f44d-1f3ff.webp"
    assert pictures["DEMO-1F455-XL"] == ""
    assert len(set(pictures)) == len(variant_rows)  # one SKU per variant
