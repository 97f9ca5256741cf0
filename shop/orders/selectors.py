"""Order reads for other parts of the shop: which products orders held."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import groupby

from recommendations.services import OrderProducts

from .models import OrderLine


def order_product_ids(*, references: Sequence[str]) -> list[int]:
    """The products in these orders (a session's own orders), newest order first, no repeats (one query)."""
    if not references:
        return []
    rows = (
        OrderLine.objects.filter(order__reference__in=list(references), product__isnull=False)
        .order_by("-order__created_at", "-order_id", "id")
        .values_list("product_id", flat=True)
    )
    return list(dict.fromkeys(rows))


def orders_products_all() -> Iterator[OrderProducts]:
    """Every order's products, one order at a time, streamed (a server-side cursor: all orders never sit in
    memory at once)."""
    rows = (
        OrderLine.objects.filter(product__isnull=False)
        .order_by("order_id", "id")
        .values_list("order_id", "order__reference", "product_id")
        .iterator(chunk_size=2000)
    )
    for (_, reference), lines in groupby(rows, key=lambda row: (row[0], row[1])):
        yield OrderProducts(reference=reference, product_ids=[product_id for _, _, product_id in lines])
