"""Storefront reads: product listings with filters and sorting, text search, category trees."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet

from catalog.models import Category, Product, ProductImage
from catalog.querysets import products_narrowed

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
    )
    if filters.sort in SORTS:
        queryset = queryset.order_by(*SORTS[filters.sort])
    return queryset


def products_listed(*, filters: ListingFilters) -> QuerySet[Product]:
    """A category page or the whole catalogue: newest first unless another sort is chosen."""
    return products_filtered(products_on_show(), filters=filters)


def products_matching_text(*, text: str, filters: ListingFilters = ListingFilters()) -> QuerySet[Product]:
    """Full-text search over names (weight A) and descriptions (B), best rank first unless a sort is chosen.

    Falls back to a substring match on names when the words match nothing, so a half-typed "sneak" still finds
    sneakers (the "simple" configuration does no stemming, which also keeps Chinese and English alike).
    """
    text = text.strip()[:200]
    if not text:
        return Product.objects.none()
    query = SearchQuery(text, config="simple", search_type="websearch")
    ranked = (
        products_on_show()
        .filter(search_vector=query)
        .annotate(rank=SearchRank(F("search_vector"), query))
        .order_by("-rank", "name")
    )
    if not ranked.exists():
        ranked = products_on_show().filter(name__icontains=text).order_by("name")
    return products_filtered(ranked, filters=filters)


def product_ids_matching_text(*, text: str, product_ids: list[int]) -> set[int]:
    """Which of these products match the words: narrows photo search results by text."""
    return set(products_matching_text(text=text).filter(id__in=product_ids).values_list("id", flat=True))
