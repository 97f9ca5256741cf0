"""Reads for the partner API: what each caller may see, and the product list filters."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import F, Prefetch, Q, QuerySet

from catalog.models import Category, Product, ProductImage
from catalog.querysets import products_narrowed


def products_visible_to(*, user) -> QuerySet[Product]:
    """Anonymous callers and partners see published products; partners also their own drafts; staff all."""
    products = Product.objects.all()
    if user is None:
        return products.filter(is_published=True)
    if user.is_staff:
        return products
    return products.filter(Q(is_published=True) | Q(partner__owner=user))


def listed_images() -> QuerySet[ProductImage]:
    """The product photos the shop shows; labelled shopper photos only teach the model and stay private."""
    return ProductImage.objects.listed()


@dataclass(frozen=True)
class ProductFilters:
    category: Category | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    q: str = ""


def products_list(*, user, filters: ProductFilters) -> QuerySet[Product]:
    products = products_narrowed(
        products_visible_to(user=user).select_related("category", "partner"),
        category=filters.category,
        min_price=filters.min_price,
        max_price=filters.max_price,
        in_stock=filters.in_stock,
    )
    if filters.q:
        # websearch syntax accepts any text a user types ("red -apple", quotes) without raising.
        query = SearchQuery(filters.q, config="english", search_type="websearch")
        products = products.filter(search_vector=query).annotate(rank=SearchRank(F("search_vector"), query))
        products = products.order_by("-rank", "-created_at", "-id")
    else:
        products = products.order_by("-created_at", "-id")
    return products.prefetch_related(Prefetch("images", queryset=listed_images()), "variants")


def product_detail(*, user, product_id: int) -> Product | None:
    return (
        products_visible_to(user=user)
        .select_related("category", "partner")
        .prefetch_related(Prefetch("images", queryset=listed_images()), "variants")
        .filter(id=product_id)
        .first()
    )
