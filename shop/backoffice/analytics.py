"""The analytics page's presentation: the two charts as SVG geometry (drawn by the template, no script, nothing from
a CDN) and each table as CSV. The figures themselves are ``recommendations.analytics``'."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy as _

from recommendations.analytics import (
    DEFAULT_DAYS,
    PERIODS,
    DaySearches,
    Period,
    RankFigures,
    categories_found,
    figures_by_kind,
    figures_by_rank,
    products_found,
    searches_per_day,
    unmet_demand,
)
from recommendations.models import ShownKind

KIND_COLOURS = {ShownKind.PHOTO: "#417690", ShownKind.TEXT: "#e8a33d", ShownKind.SIMILAR: "#7aa874"}
"""Blue, amber and green: told apart with the common colour-vision deficiencies too, and the legend names them."""

# The charts' own coordinates; the SVG scales to its box (viewBox), so 480 wide reads at 1:1.3 on a desktop column
# and at 1:0.7 on a 390 px phone, where 12-unit text is still 8-9 px.
WIDTH, HEIGHT = 480, 220
LEFT, RIGHT, TOP, BOTTOM = 34, 16, 16, 22  # room for the axis figures, and for half of the last day's date


def days_from(value: str | None) -> int:
    """The ``days`` GET parameter: one of PERIODS, else the default (a hand-edited address still shows a page)."""
    try:
        days = int(value or DEFAULT_DAYS)
    except ValueError:
        return DEFAULT_DAYS
    return days if days in PERIODS else DEFAULT_DAYS


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str
    """What a pointer over the bar says (SVG <title>)."""


@dataclass(frozen=True)
class AxisLabel:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class LegendEntry:
    colour: str
    label: str


@dataclass(frozen=True)
class Chart:
    id: str
    """The SVG's id prefix (its <title> is its accessible name)."""
    title: str
    bars: list[Bar]
    x_labels: list[AxisLabel]
    value_labels: list[AxisLabel]
    """Figures over the bars (the rank chart's percentages)."""
    grid: list[AxisLabel]
    """Horizontal grid lines: ``y`` and the value at it."""
    empty: bool
    legend: list[LegendEntry]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: float = HEIGHT - BOTTOM
    middle: tuple[float, float] = (LEFT + (WIDTH - LEFT - RIGHT) / 2, TOP + (HEIGHT - TOP - BOTTOM) / 2)
    """Where "nothing yet" is written when the chart is empty."""


def _nice_top(value: float) -> tuple[float, float]:
    """A round top of the axis at or above ``value`` and its grid step (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0, 1.0
    rough = value / 4
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    return step * math.ceil(value / step), step


def _grid(top: float, step: float, fmt: Callable[[float], str]) -> list[AxisLabel]:
    plot = HEIGHT - TOP - BOTTOM
    count = round(top / step)
    return [AxisLabel(x=LEFT - 4, y=round(HEIGHT - BOTTOM - plot * n / count, 1), text=fmt(step * n))
            for n in range(count + 1)]


def searches_chart(days: list[DaySearches]) -> Chart:
    """Bars per day, stacked by kind (photo search at the bottom)."""
    top, step = _nice_top(max((d.total for d in days), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    labels = {ShownKind.PHOTO: _("photo searches"), ShownKind.TEXT: _("text searches"),
              ShownKind.SIMILAR: _("similar-items lists")}
    bars, x_labels = [], []
    # A label under every day of a week, every seventh day of a month, every fourteenth of a quarter: closer labels
    # overlapped at phone width (seen at 390 px).
    label_every = 1 if len(days) <= 10 else 7 if len(days) <= 31 else 14
    for n, day in enumerate(days):
        x = LEFT + n * slot + slot * 0.1
        base = HEIGHT - BOTTOM
        for kind, count in ((ShownKind.PHOTO, day.photo), (ShownKind.TEXT, day.text), (ShownKind.SIMILAR, day.similar)):
            if not count:
                continue
            h = plot_h * count / top
            base -= h
            bars.append(Bar(x=round(x, 2), y=round(base, 2), width=round(slot * 0.8, 2), height=round(h, 2),
                            colour=KIND_COLOURS[kind],
                            title=f"{date_format(day.day, 'DATE_FORMAT')}: {count} {labels[kind]}"))
        if (len(days) - 1 - n) % label_every == 0:  # counted back from today, so today is always labelled
            x_labels.append(AxisLabel(x=round(x + slot * 0.4, 2), y=HEIGHT - 6,
                                      text=date_format(day.day, "D" if len(days) <= 7 else "n/j")))
    legend = [LegendEntry(colour=KIND_COLOURS[kind], label=str(kind.label)) for kind in labels]
    return Chart(id="searches-chart", title=gettext("Searches per day"), bars=bars, x_labels=x_labels,
                 value_labels=[], grid=_grid(top, step, lambda v: str(int(v))), empty=not any(d.total for d in days),
                 legend=legend)


def percent(value: float | None) -> str:
    """A share as the page shows it: whole percents, one decimal under 10 % (where a point matters), "—" for none."""
    if value is None:
        return "—"
    return f"{100 * value:.1f}%" if 0 < value < 0.1 else f"{100 * value:.0f}%"


def ranks_chart(ranks: list[RankFigures]) -> Chart:
    """Click-through (opens per product shown) at each rank, 1 to 10 and 11+."""
    top, step = _nice_top(max((r.ctr or 0 for r in ranks), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(ranks)
    bars, x_labels, values = [], [], []
    for n, rank in enumerate(ranks):
        x = LEFT + n * slot + slot * 0.15
        h = plot_h * (rank.ctr or 0) / top
        y = HEIGHT - BOTTOM - h
        centre = round(x + slot * 0.35, 2)
        bars.append(Bar(x=round(x, 2), y=round(y, 2), width=round(slot * 0.7, 2), height=round(h, 2),
                        colour=KIND_COLOURS[ShownKind.PHOTO],
                        title=gettext("rank %(rank)s: %(opens)s opened of %(shown)s shown") % {
                            "rank": rank.label, "opens": rank.opens, "shown": rank.impressions}))
        x_labels.append(AxisLabel(x=centre, y=HEIGHT - 6, text=rank.label))
        if rank.impressions:
            values.append(AxisLabel(x=centre, y=round(y - 4, 2), text=percent(rank.ctr)))
    return Chart(id="ranks-chart", title=gettext("Click-through by rank"), bars=bars, x_labels=x_labels,
                 value_labels=values, grid=_grid(top, step, lambda v: f"{100 * v:.0f}%"),
                 empty=not any(r.impressions for r in ranks), legend=[])


# --- CSV --------------------------------------------------------------------------------------------------------


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _searches_rows(period: Period) -> Iterable[list]:
    yield ["day", "photo", "text", "similar", "total"]
    for d in searches_per_day(period=period):
        yield [d.day.isoformat(), d.photo, d.text, d.similar, d.total]


def _kinds_rows(period: Period) -> Iterable[list]:
    yield ["kind", "lists", "close_matches", "close_share", "products_shown", "opens", "ctr", "carts", "cart_rate",
           "lists_opened", "lists_bought", "conversion"]
    for k in figures_by_kind(period=period):
        yield [k.kind, k.lists, "" if k.close_share is None else k.close_matches, _rate(k.close_share), k.impressions,
               k.opens, _rate(k.ctr), k.carts, _rate(k.cart_rate), k.lists_opened, k.lists_bought,
               _rate(k.conversion)]


def _ranks_rows(period: Period) -> Iterable[list]:
    yield ["rank", "shown", "opens", "ctr", "carts", "cart_rate"]
    for r in figures_by_rank(period=period):
        yield [r.label, r.impressions, r.opens, _rate(r.ctr), r.carts, _rate(r.cart_rate)]


def _products_rows(period: Period) -> Iterable[list]:
    yield ["product_id", "sku", "name", "category", "in_top_3", "opens"]
    for f in products_found(period=period):
        yield [f.product.id, f.product.sku, f.product.name, f.product.category.name, f.top, f.opens]


def _categories_rows(period: Period) -> Iterable[list]:
    yield ["category_id", "category", "in_top_3", "opens"]
    for f in categories_found(period=period):
        yield [f.category.id, f.category.name, f.top, f.opens]


def _demand_rows(period: Period) -> Iterable[list]:
    yield ["group", "searches", "first_half", "second_half", "trend", "nearest_skus", "nearest_products"]
    for c in unmet_demand(start=period.start, now=period.now).clusters:
        yield [c.number, c.size, c.first_half, c.second_half, c.trend,
               "; ".join(m.product.sku for m in c.pictures), "; ".join(m.product.name for m in c.pictures)]


# The export's columns are the same in every language (scripts and spreadsheets read them); the page's are not.
EXPORTS: dict[str, Callable[[Period], Iterable[list]]] = {
    "searches": _searches_rows,
    "kinds": _kinds_rows,
    "ranks": _ranks_rows,
    "products": _products_rows,
    "categories": _categories_rows,
    "demand": _demand_rows,
}


def export_filename(*, table: str, period: Period) -> str:
    return f"analytics-{table}-{period.first_day.isoformat()}-to-{period.last_day.isoformat()}.csv"


def export_csv(*, table: str, period: Period) -> str:
    """One table of the page as CSV text; raises KeyError for a table the page does not have."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends, as spreadsheets write them
    writer.writerows(EXPORTS[table](period))
    return out.getvalue()
