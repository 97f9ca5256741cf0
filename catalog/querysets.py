"""Reusable product filters: the storefront's listings and the partner API narrow products the same way."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet

from .models import Category, Product, ProductImage
from .selectors import category_descendant_ids


def products_narrowed(
    queryset: QuerySet[Product],
    *,
    category: Category | None = None,
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    in_stock: bool | None = None,
    colour: str | None = None,
) -> QuerySet[Product]:
    """Category (with its subcategories), price range, stock and colour; ``in_stock=None`` leaves stock alone."""
    if category is not None:
        queryset = queryset.filter(category_id__in=category_descendant_ids(category))
    if min_price is not None:
        queryset = queryset.filter(price__gte=min_price)
    if max_price is not None:
        queryset = queryset.filter(price__lte=max_price)
    if in_stock is True:
        queryset = queryset.filter(stock_quantity__gt=0)
    elif in_stock is False:
        queryset = queryset.filter(stock_quantity=0)
    if colour:
        queryset = queryset.filter(
            Exists(ProductImage.objects.listed().filter(product_id=OuterRef("pk"), colour_keys__contains=[colour]))
        )
    return queryset
