"""The staff dashboard's reads: today's orders and revenue, stock running out, pictures not ready, searches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from catalog.models import Product, ProductVariant
from shop.orders.models import Order, OrderStatus
from visualsearch.models import EmbeddingStatus, ImageEmbedding
from visualsearch.selectors import active_model_key
from visualsearch.statistics import searches_per_day

LOW_STOCK = 3
"""A published product with this many or fewer left is listed as running out."""
DAYS = 14


@dataclass(frozen=True)
class DayBar:
    day: date
    value: float
    label: str
    height: float
    """The bar's height in the chart, 0-100 (the largest bar of the chart is 100)."""


def _bars(values: list[tuple[date, float]], fmt=lambda v: str(v)) -> list[DayBar]:
    top = max((v for _, v in values), default=0) or 1
    return [DayBar(day=d, value=v, label=fmt(v), height=round(100 * v / top, 1)) for d, v in values]


@dataclass(frozen=True)
class LowStock:
    """A thing that is running out: a product sold as one, or one variant of a product (the blue one, size M)."""

    product_id: int
    name: str
    sku: str
    stock: int


def _low_stock(limit: int = 12) -> list[LowStock]:
    # A product in variants runs out variant by variant: its sum (say 40) hides that size M is gone.
    plain = (
        Product.objects.filter(is_published=True, stock_quantity__lte=LOW_STOCK, variants__isnull=True)
        .order_by("stock_quantity", "name")[:limit]
    )
    variants = (
        ProductVariant.objects.filter(product__is_published=True, stock_quantity__lte=LOW_STOCK)
        .select_related("product").order_by("stock_quantity", "product__name", "position")[:limit]
    )
    rows = [LowStock(product_id=p.id, name=p.name, sku=p.sku, stock=p.stock_quantity) for p in plain] + [
        LowStock(product_id=v.product_id, name=f"{v.product.name}, {v.name}", sku=v.sku, stock=v.stock_quantity)
        for v in variants
    ]
    return sorted(rows, key=lambda row: (row.stock, row.name))[:limit]


@dataclass(frozen=True)
class Dashboard:
    orders_today: int
    revenue_today: list[tuple[str, Decimal]]
    """(currency, total) of today's orders that were not cancelled."""
    orders_per_day: list[DayBar]
    low_stock: list[LowStock]
    pictures_pending: int
    pictures_failed: int
    model_key: str
    photo_searches_today: int
    text_searches_today: int
    photo_searches_per_day: list[DayBar]

    @property
    def photo_searches_total(self) -> float:
        return sum(bar.value for bar in self.photo_searches_per_day)


def dashboard_read() -> Dashboard:
    today = timezone.localdate()
    since = today - timedelta(days=DAYS - 1)
    live = Order.objects.exclude(status=OrderStatus.CANCELLED)
    todays = live.filter(created_at__date=today)
    per_day = dict(
        live.filter(created_at__date__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    key = active_model_key()
    states = dict(
        ImageEmbedding.objects.filter(model_key=key, image__kind="catalogue")
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    photo = searches_per_day(kind="photo", days=DAYS)
    return Dashboard(
        orders_today=todays.count(),
        revenue_today=list(todays.values_list("currency").annotate(total=Sum("total")).values_list("currency", "total")),
        orders_per_day=_bars([(since + timedelta(days=n), per_day.get(since + timedelta(days=n), 0)) for n in range(DAYS)]),
        low_stock=_low_stock(),
        pictures_pending=states.get(EmbeddingStatus.PENDING, 0),
        pictures_failed=states.get(EmbeddingStatus.FAILED, 0),
        model_key=key,
        photo_searches_today=photo[-1][1],
        text_searches_today=searches_per_day(kind="text", days=1)[-1][1],
        photo_searches_per_day=_bars(photo),
    )
