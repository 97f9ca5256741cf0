"""Recommendation reads. Vector SQL stays in visualsearch; this app decides what to recommend."""

from catalog.models import Product
from visualsearch.selectors import ProductMatch, products_similar_to_product

SIMILAR_ITEMS = 8


def similar_items(*, product: Product, limit: int = SIMILAR_ITEMS) -> list[ProductMatch]:
    """"Visually similar" on a product page: other published products, nearest first."""
    return products_similar_to_product(product=product, limit=limit)
