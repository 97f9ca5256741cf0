"""What staff see of the interaction log (``models.Shown`` / ``Action``): searches per day, close matches,
click-through and add-to-cart by rank and by kind, conversion, the most-found products and categories, and the
unmet demand: groups of photo searches that found nothing close, each shown by the catalogue pictures nearest it.

Reads only. Each figure is one aggregate query over the period (the ``kind, created_at`` index), so a page of
them costs a handful of queries whatever the log's size; only the unmet demand reads rows (query vectors, at most
DEMAND_MAX_VECTORS) to cluster them (``demand.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, F, Func, IntegerField, Q, Sum
from django.db.models.functions import Coalesce, Greatest, Least, TruncDate
from django.utils import timezone

from catalog.models import Category, Product

from .demand import Demand, DemandCluster, unmet_demand
from .models import Action, ActionKind, Shown, ShownKind

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30
__all__ = [  # the demand's types come with the page's
    "Analytics", "DaySearches", "Demand", "DemandCluster", "FoundCategory", "FoundProduct", "KindFigures", "Period",
    "RankFigures", "analytics_period", "analytics_read", "categories_found", "figures_by_kind", "figures_by_rank",
    "products_found", "searches_per_day", "unmet_demand",
]
RANKS = 10
"""Ranks 1..10 each get their own figures; the rest are counted together as "11+"."""
TOP = 3
"""A product "found" is one a search showed among its first three results, the ones a shopper looks at first."""
FOUND_LIMIT = 20
SEARCH_KINDS = (ShownKind.PHOTO, ShownKind.TEXT)
# A text search logs each page of its results; pages after the first are the same search read further, not a new
# one (as visualsearch.statistics.searches_count counts them).
_LATER_TEXT_PAGE = Q(kind=ShownKind.TEXT, filters__has_key="page") & ~Q(filters__page="1")
_LATER_TEXT_PAGE_SQL = "(s.kind = 'text' AND coalesce(s.filters->>'page', '1') <> '1')"


class _Cardinality(Func):
    """The number of products a list showed (0 for an empty list, where array_length gives NULL)."""

    function = "cardinality"
    output_field = IntegerField()


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Period:
    days: int
    first_day: date
    last_day: date
    start: datetime
    """Midnight (the shop's time zone) starting ``first_day``."""
    end: datetime
    """Midnight after ``last_day``."""
    now: datetime

    @property
    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range(self.days)]


def analytics_period(*, days: int = DEFAULT_DAYS, now: datetime | None = None) -> Period:
    """The last ``days`` days, today included."""
    if days not in PERIODS:
        raise ValueError(f"days must be one of {PERIODS}, not {days!r}")
    now = now or timezone.now()
    last_day = timezone.localdate(now)
    first_day = last_day - timedelta(days=days - 1)
    zone = timezone.get_current_timezone()
    return Period(
        days=days, first_day=first_day, last_day=last_day,
        start=timezone.make_aware(datetime.combine(first_day, time.min), zone),
        end=timezone.make_aware(datetime.combine(last_day + timedelta(days=1), time.min), zone),
        now=now,
    )


def _shown_in(period: Period):
    return Shown.objects.filter(created_at__gte=period.start, created_at__lt=period.end)


# --- searches per day -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaySearches:
    day: date
    photo: int
    text: int
    similar: int

    @property
    def total(self) -> int:
        return self.photo + self.text + self.similar


def searches_per_day(*, period: Period) -> list[DaySearches]:
    """Lists shown per day and kind, oldest day first (every day of the period, empty days as zeros)."""
    counts = dict(
        ((day, kind), n)
        for day, kind, n in _shown_in(period)
        .exclude(_LATER_TEXT_PAGE)
        .annotate(day=TruncDate("created_at"))
        .values_list("day", "kind")
        .annotate(n=Count("id"))
        .values_list("day", "kind", "n")
    )
    return [
        DaySearches(
            day=day,
            photo=counts.get((day, ShownKind.PHOTO), 0),
            text=counts.get((day, ShownKind.TEXT), 0),
            similar=counts.get((day, ShownKind.SIMILAR), 0),
        )
        for day in period.day_list
    ]


# --- by kind and by rank ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindFigures:
    kind: str
    lists: int
    """Lists shown (for text search every page of results is a list)."""
    close_matches: int
    """Lists whose first result was a close match (photo search, similar items)."""
    impressions: int
    """Products shown, all lists together."""
    opens: int
    carts: int
    lists_opened: int
    lists_bought: int
    """Lists that led to a purchase of one of their products."""

    @property
    def label(self) -> str:
        return str(ShownKind(self.kind).label)

    @property
    def close_share(self) -> float | None:
        # For text search close_match only says "anything found": not a close match in the pictures' sense.
        return None if self.kind == ShownKind.TEXT else _share(self.close_matches, self.lists)

    @property
    def ctr(self) -> float | None:
        return _share(self.opens, self.impressions)

    @property
    def cart_rate(self) -> float | None:
        return _share(self.carts, self.impressions)

    @property
    def opened_share(self) -> float | None:
        return _share(self.lists_opened, self.lists)

    @property
    def conversion(self) -> float | None:
        return _share(self.lists_bought, self.lists)


def figures_by_kind(*, period: Period) -> list[KindFigures]:
    """One row per kind of list (photo search, text search, similar items), each kind present even when empty."""
    shown = {
        row["kind"]: row
        for row in _shown_in(period)
        .values("kind")
        .annotate(
            lists=Count("id"),
            close=Count("id", filter=Q(close_match=True)),
            impressions=Coalesce(Sum(_Cardinality("product_ids")), 0),
        )
    }
    acted = {
        (kind, action): (n, lists)
        for kind, action, n, lists in Action.objects.filter(
            shown__created_at__gte=period.start, shown__created_at__lt=period.end
        )
        .values_list("shown__kind", "kind")
        .annotate(n=Count("id"), lists=Count("shown_id", distinct=True))
        .values_list("shown__kind", "kind", "n", "lists")
    }
    figures = []
    # The three kinds every shop has, always; bought-together and suggestion lists once a shop shows them.
    core = (ShownKind.PHOTO, ShownKind.TEXT, ShownKind.SIMILAR)
    for kind in [*core, *(k for k in ShownKind.values if k not in core and k in shown)]:
        row = shown.get(kind, {})
        figures.append(
            KindFigures(
                kind=kind,
                lists=row.get("lists", 0),
                close_matches=row.get("close", 0),
                impressions=row.get("impressions", 0),
                opens=acted.get((kind, ActionKind.OPEN), (0, 0))[0],
                carts=acted.get((kind, ActionKind.CART), (0, 0))[0],
                lists_opened=acted.get((kind, ActionKind.OPEN), (0, 0))[1],
                lists_bought=acted.get((kind, ActionKind.BUY), (0, 0))[1],
            )
        )
    return figures


@dataclass(frozen=True)
class RankFigures:
    rank: int
    """1..RANKS; RANKS + 1 stands for every rank after RANKS."""
    impressions: int
    """Lists that showed a product at this rank (for "11+": products shown after the tenth, all lists together)."""
    opens: int
    carts: int

    @property
    def label(self) -> str:
        return str(self.rank) if self.rank <= RANKS else f"{RANKS + 1}+"

    @property
    def ctr(self) -> float | None:
        return _share(self.opens, self.impressions)

    @property
    def cart_rate(self) -> float | None:
        return _share(self.carts, self.impressions)


def figures_by_rank(*, period: Period, kind: str | None = None) -> list[RankFigures]:
    """Click-through (opens per product shown at the rank) and add-to-cart rate for ranks 1..10 and 11+, all kinds
    of list together or one kind. An action counts once per list and product (``Action``'s constraint), so opens
    at a rank never exceed the lists that showed that rank."""
    shown = _shown_in(period)
    actions = Action.objects.filter(shown__created_at__gte=period.start, shown__created_at__lt=period.end)
    if kind:
        shown, actions = shown.filter(kind=kind), actions.filter(shown__kind=kind)
    size = _Cardinality("product_ids")
    impressions = shown.annotate(size=size).aggregate(
        **{f"r{rank}": Count("id", filter=Q(size__gte=rank)) for rank in range(1, RANKS + 1)},
        rest=Coalesce(Sum(Greatest(F("size") - RANKS, 0)), 0),
    )
    acted = {
        (rank, action): n
        for rank, action, n in actions.filter(kind__in=[ActionKind.OPEN, ActionKind.CART])
        .annotate(bucket=Least("rank", RANKS + 1, output_field=IntegerField()))
        .values_list("bucket", "kind")
        .annotate(n=Count("id"))
        .values_list("bucket", "kind", "n")
    }
    return [
        RankFigures(
            rank=rank,
            impressions=impressions[f"r{rank}"] if rank <= RANKS else impressions["rest"],
            opens=acted.get((rank, ActionKind.OPEN), 0),
            carts=acted.get((rank, ActionKind.CART), 0),
        )
        for rank in range(1, RANKS + 2)
    ]


# --- what searches find -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FoundProduct:
    product: Product
    top: int
    """Searches (photo or text, first page) that showed it in their first TOP results."""
    opens: int
    """Times it was opened from a search of the period, at any rank."""


@dataclass(frozen=True)
class FoundCategory:
    category: Category
    top: int
    opens: int


def _top_counts(*, period: Period, group: str, limit: int) -> list[tuple[int, int]]:
    # unnest() over an array slice has no ORM spelling; this is plain array SQL, no vector in it.
    query = f"""
        SELECT {group}, count(*) AS n
        FROM {Shown._meta.db_table} s
        CROSS JOIN LATERAL unnest(s.product_ids[1:{TOP}]) AS t(product_id)
        JOIN {Product._meta.db_table} p ON p.id = t.product_id
        WHERE s.created_at >= %s AND s.created_at < %s AND s.kind = ANY(%s) AND NOT {_LATER_TEXT_PAGE_SQL}
        GROUP BY {group} ORDER BY n DESC, {group} LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(query, [period.start, period.end, list(SEARCH_KINDS), limit])
        return [(int(key), int(n)) for key, n in cursor.fetchall()]


def _search_opens(period: Period):
    return Action.objects.filter(
        kind=ActionKind.OPEN, shown__kind__in=SEARCH_KINDS,
        shown__created_at__gte=period.start, shown__created_at__lt=period.end,
    )


def products_found(*, period: Period, limit: int = FOUND_LIMIT) -> list[FoundProduct]:
    """The products searches showed in their first three results most often, most first."""
    counts = _top_counts(period=period, group="p.id", limit=limit)
    ids = [product_id for product_id, _ in counts]
    products = Product.objects.select_related("category").in_bulk(ids)
    opens = dict(
        _search_opens(period).filter(product_id__in=ids).values_list("product_id").annotate(n=Count("id"))
        .values_list("product_id", "n")
    )
    return [FoundProduct(product=products[pid], top=n, opens=opens.get(pid, 0)) for pid, n in counts if pid in products]


def categories_found(*, period: Period, limit: int = FOUND_LIMIT) -> list[FoundCategory]:
    """The categories of the products searches showed in their first three results, most often first."""
    counts = _top_counts(period=period, group="p.category_id", limit=limit)
    ids = [category_id for category_id, _ in counts]
    categories = Category.objects.in_bulk(ids)
    opens = dict(
        _search_opens(period).filter(product__category_id__in=ids).values_list("product__category_id")
        .annotate(n=Count("id")).values_list("product__category_id", "n")
    )
    return [
        FoundCategory(category=categories[cid], top=n, opens=opens.get(cid, 0)) for cid, n in counts if cid in categories
    ]


# --- the whole page -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Analytics:
    period: Period
    searches: list[DaySearches]
    kinds: list[KindFigures]
    ranks: list[RankFigures]
    products: list[FoundProduct]
    categories: list[FoundCategory]
    demand: Demand

    def kind(self, kind: str) -> KindFigures:
        return next(figures for figures in self.kinds if figures.kind == kind)

    @property
    def photo(self) -> KindFigures:
        return self.kind(ShownKind.PHOTO)

    @property
    def text(self) -> KindFigures:
        return self.kind(ShownKind.TEXT)

    @property
    def similar(self) -> KindFigures:
        return self.kind(ShownKind.SIMILAR)


def analytics_read(*, days: int = DEFAULT_DAYS, now: datetime | None = None) -> Analytics:
    period = analytics_period(days=days, now=now)
    return Analytics(
        period=period,
        searches=searches_per_day(period=period),
        kinds=figures_by_kind(period=period),
        ranks=figures_by_rank(period=period),
        products=products_found(period=period),
        categories=categories_found(period=period),
        demand=unmet_demand(start=period.start, now=period.now),
    )
