"""Storefront reads: product listings with filters and sorting, text search, category trees."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet

from catalog.models import Category, Product, ProductImage
from catalog.querysets import products_narrowed
from visualsearch.concepts import ParsedQuery
from visualsearch.selectors import SearchFilters
from visualsearch.textsearch import products_for_text

SORTS = {
    "new": ("-created_at", "-id"),
    "price": ("price", "id"),
    "-price": ("-price", "id"),
    "name": ("name", "id"),
}


@dataclass(frozen=True)
class ListingFilters:
    category: Category | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool = False
    sort: str = ""
    colour: str = ""
    """A palette key (``visualsearch.colours``): products with a picture of that colour."""


def products_published() -> QuerySet[Product]:
    return Product.objects.filter(is_published=True).select_related("category").prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.listed().order_by("position", "id"))
    )


def products_on_show() -> QuerySet[Product]:
    """Published products with at least one catalogue picture: what listings and text search show.

    A product created without pictures (API, admin) would be a grey card whose page promises similar items that
    can never come; it stays reachable by its address (and in a cart) but is listed once it has a picture.
    """
    has_picture = ProductImage.objects.listed().filter(product=OuterRef("pk"))
    return products_published().filter(Exists(has_picture))


def products_filtered(queryset: QuerySet[Product], *, filters: ListingFilters) -> QuerySet[Product]:
    queryset = products_narrowed(
        queryset,
        category=filters.category,
        min_price=filters.min_price,
        max_price=filters.max_price,
        in_stock=True if filters.in_stock else None,  # the storefront's box only ever narrows
        colour=filters.colour or None,
    )
    if filters.sort in SORTS:
        queryset = queryset.order_by(*SORTS[filters.sort])
    return queryset


def products_listed(*, filters: ListingFilters) -> QuerySet[Product]:
    """A category page or the whole catalogue: newest first unless another sort is chosen."""
    return products_filtered(products_on_show(), filters=filters)


def products_matching_text(
    *, text: str, filters: ListingFilters = ListingFilters()
) -> tuple[list[Product], ParsedQuery | None]:
    """The header box: full text in both languages fused with what the pictures show
    (``visualsearch.textsearch``), best first unless a sort is chosen; at most 200 products, and how the words
    were read (kinds of things, colours, plain words)."""
    text = text.strip()[:200]
    if not text:
        return [], None
    result = products_for_text(
        text=text,
        filters=SearchFilters(
            category=filters.category,
            min_price=filters.min_price,
            max_price=filters.max_price,
            colours=(filters.colour,) if filters.colour else (),
        ),
        in_stock=filters.in_stock,
    )
    ids = [hit.product_id for hit in result.hits]
    products = products_on_show().filter(id__in=ids)
    if filters.sort in SORTS:
        return list(products.order_by(*SORTS[filters.sort])), result.parsed
    by_id = {product.id: product for product in products}
    return [by_id[i] for i in ids if i in by_id], result.parsed


def colour_counts(products: QuerySet[Product] | list[Product]) -> list[tuple[str, int]]:
    """How many of these products have a picture of each colour: the colour facet, most common first."""
    ids = [p.id for p in products] if isinstance(products, list) else products.values("id")
    counts: dict[str, int] = {}
    rows = (
        ProductImage.objects.listed().filter(product_id__in=ids, colour_keys__isnull=False)
        .values_list("product_id", "colour_keys")
    )
    seen: set[tuple[int, str]] = set()
    for product_id, keys in rows:
        for key in keys:
            if (product_id, key) not in seen:
                seen.add((product_id, key))
                counts[key] = counts.get(key, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
