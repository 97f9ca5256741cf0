"""Staff tools on top of search by photo: identify goods in hand (returns, stocktaking, a box without a label) and
match outside listings (competitors' photos) against the shop's own catalogue.

Both read the whole catalogue, published or not, through the shop's one photo path (``photo_query``: the intake's
checks, the object step, the centred k-NN search) and add what staff need next to a match: SKU, stock, price, the
recent orders of the product, or the price difference to an outside listing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from shop.orders.models import OrderLine
from visualsearch.errors import ImageRejected
from visualsearch.selectors import PhotoQuery, ProductMatch, SearchFilters, photo_query, products_near_photo

RECENT_ORDERS = 5


@dataclass(frozen=True)
class RecentOrder:
    reference: str
    created_at: datetime
    quantity: int
    status: str


@dataclass(frozen=True)
class IdentifiedProduct:
    match: ProductMatch
    recent_orders: list[RecentOrder] = field(default_factory=list)


@dataclass(frozen=True)
class Identification:
    model_key: str
    close: bool
    """True when the first match reaches the key's calibrated close-match threshold: very likely this product."""
    results: list[IdentifiedProduct]


def photo_closest(*, data: bytes, limit: int) -> tuple[PhotoQuery, list[ProductMatch]]:
    """A photo's query (its vectors) and the closest products of the whole catalogue, published or not: the one
    staff path shared by identify, batch jobs and outside listings. Raises ImageRejected; nothing is stored."""
    query = photo_query(data)
    matches = products_near_photo(
        vector=query.vector, model_key=query.model_key, filters=SearchFilters(include_unpublished=True), limit=limit
    )
    return query, matches


def goods_identify(*, data: bytes, limit: int = 5) -> Identification:
    """The closest products to a photo of an item in hand, with stock, price and their latest orders.

    Raises ImageRejected for files that are not acceptable photos; nothing is stored.
    """
    query, matches = photo_closest(data=data, limit=limit)
    lines = (
        OrderLine.objects.filter(product_id__in=[m.product.id for m in matches])
        .select_related("order")
        .order_by("-order__created_at")
    )
    recent: dict[int, list[RecentOrder]] = {}
    for line in lines[: RECENT_ORDERS * max(len(matches), 1)]:
        entries = recent.setdefault(line.product_id, [])
        if len(entries) < RECENT_ORDERS:
            entries.append(RecentOrder(line.order.reference, line.order.created_at, line.quantity, line.order.status))
    return Identification(
        model_key=query.model_key,
        close=bool(matches) and matches[0].close,
        results=[IdentifiedProduct(match=m, recent_orders=recent.get(m.product.id, [])) for m in matches],
    )


@dataclass(frozen=True)
class OutsideListing:
    file: str
    title: str = ""
    price: Decimal | None = None
    url: str = ""


@dataclass(frozen=True)
class OutsideMatch:
    listing: OutsideListing
    close: bool
    matches: list[ProductMatch]
    error: str = ""
    """Why the photo could not be searched (the intake's message); then there are no matches."""
    error_code: str = ""
    model_key: str = ""

    @property
    def price_difference(self) -> Decimal | None:
        """The listing's price minus our closest product's (positive: they are dearer)."""
        if self.listing.price is None or not self.matches:
            return None
        return self.listing.price - self.matches[0].product.price


def outside_listing_match(*, listing: OutsideListing, data: bytes, limit: int = 5) -> OutsideMatch:
    """One outside listing's photo against the catalogue: its closest own products, and whether the shop sells
    the thing at all (the first match's close-match flag)."""
    try:
        query, matches = photo_closest(data=data, limit=limit)
    except ImageRejected as error:
        return OutsideMatch(listing=listing, close=False, matches=[], error=error.message, error_code=error.code.value)
    return OutsideMatch(listing=listing, close=bool(matches) and matches[0].close, matches=matches,
                        model_key=query.model_key)
