"""Bought together: how many orders held each pair of products (``models.CoPurchase``), and each product
(``models.ProductOrders``, its popularity).

Counted from the shop's ``order.placed`` events (``copurchases_for_event``, an outbox subscriber registered in
``apps.py``: the orders domain never imports this app), or rebuilt from every order (``manage.py
copurchases_rebuild`` in shop.orders, which passes the orders in as ``OrderProducts``). Both note each order they
count in ``CoPurchaseOrder``, so an order counts once, whichever sees it first and however often its event comes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import permutations

from django.db import connection, transaction

from catalog.changes import catalogue_changed, products_changed
from shop.outbox.models import Event

from ..models import CoPurchase, CoPurchaseOrder, ProductOrders

# Pairs grow with the square of an order's products: an order with more distinct products than this (a reseller,
# an office fitting out) says little about what goes together, and counts its first ORDER_PRODUCTS_COUNTED only.
ORDER_PRODUCTS_COUNTED = 20
REBUILD_BATCH = 5000  # pair rows per INSERT while rebuilding: one statement stays well under a megabyte


@dataclass(frozen=True)
class OrderProducts:
    """One order as the co-purchase count sees it: its reference and the ids of the products in it."""

    reference: str
    product_ids: Sequence[int]


def _distinct(product_ids: Iterable[int | None]) -> list[int]:
    return list(dict.fromkeys(int(pid) for pid in product_ids if pid is not None))[:ORDER_PRODUCTS_COUNTED]


def _pairs_add(counts: dict[tuple[int, int], int]) -> None:
    """Add ``counts`` to the pair rows (both directions are in ``counts``); products deleted since are skipped.

    Rows are written in (product, other) order, so two orders sharing products, counted at once by two workers,
    lock their rows in the same order and cannot deadlock.
    """
    items = sorted(counts.items())
    for start in range(0, len(items), REBUILD_BATCH):
        batch = items[start : start + REBUILD_BATCH]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {CoPurchase._meta.db_table} (product_id, other_id, orders)
                    SELECT t.a, t.b, t.n FROM unnest(%s::bigint[], %s::bigint[], %s::int[]) AS t(a, b, n)
                    WHERE EXISTS (SELECT 1 FROM catalog_product WHERE id = t.a)
                      AND EXISTS (SELECT 1 FROM catalog_product WHERE id = t.b)
                    ORDER BY t.a, t.b
                    ON CONFLICT (product_id, other_id)
                    DO UPDATE SET orders = {CoPurchase._meta.db_table}.orders + EXCLUDED.orders""",
                [[a for (a, _), _ in batch], [b for (_, b), _ in batch], [n for _, n in batch]],
            )


def _orders_add(counts: dict[int, int]) -> None:
    """Add ``counts`` to each product's order count (``ProductOrders``), products deleted since skipped; rows
    written in product order, like the pairs."""
    if not counts:
        return
    items = sorted(counts.items())
    table = ProductOrders._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (product_id, orders)
                SELECT t.p, t.n FROM unnest(%s::bigint[], %s::int[]) AS t(p, n)
                WHERE EXISTS (SELECT 1 FROM catalog_product WHERE id = t.p)
                ORDER BY t.p
                ON CONFLICT (product_id) DO UPDATE SET orders = {table}.orders + EXCLUDED.orders""",
            [[p for p, _ in items], [n for _, n in items]],
        )


def copurchases_record(*, order: OrderProducts) -> bool:
    """Count one order's pairs and products, once. False when the order was counted before."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {CoPurchaseOrder._meta.db_table} (reference, counted_at) VALUES (%s, now()) "
                "ON CONFLICT (reference) DO NOTHING RETURNING id",
                [order.reference],
            )
            if cursor.fetchone() is None:
                return False
        products = _distinct(order.product_ids)
        _pairs_add({pair: 1 for pair in permutations(products, 2)})
        _orders_add({product: 1 for product in products})
        products_changed(product_ids=products)  # their "Bought together" lists
    return True


def copurchases_for_event(event: Event) -> None:
    """Outbox subscriber for ``order.placed``: the order's products, from the event's lines, counted once."""
    payload = event.payload
    copurchases_record(
        order=OrderProducts(
            reference=payload["reference"],
            product_ids=_distinct(line.get("product_id") for line in payload.get("lines", [])),
        )
    )


@dataclass(frozen=True)
class RebuildResult:
    orders: int
    pairs: int
    """Rows written (each pair counts twice: one row per direction)."""


@transaction.atomic
def copurchases_rebuild(*, orders: Iterable[OrderProducts]) -> RebuildResult:
    """Count every order again from nothing, in one transaction (the old counts stay readable until it commits).

    ``orders`` is read only after the lock is taken: an order whose event a worker counts meanwhile waits for the
    rebuild and is then found already counted (or, placed after the rebuild read the orders, counted by it).
    """
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {CoPurchaseOrder._meta.db_table} IN EXCLUSIVE MODE")
    CoPurchase.objects.all().delete()
    CoPurchaseOrder.objects.all().delete()
    ProductOrders.objects.all().delete()
    counts: Counter[tuple[int, int]] = Counter()
    per_product: Counter[int] = Counter()
    references: list[str] = []
    for order in orders:
        references.append(order.reference)
        products = _distinct(order.product_ids)
        counts.update(permutations(products, 2))
        per_product.update(products)
    CoPurchaseOrder.objects.bulk_create(
        [CoPurchaseOrder(reference=reference) for reference in dict.fromkeys(references)], batch_size=REBUILD_BATCH
    )
    _pairs_add(dict(counts))
    _orders_add(dict(per_product))
    catalogue_changed()
    return RebuildResult(orders=len(set(references)), pairs=CoPurchase.objects.count())
