"""Recommendation reads. Vector SQL stays in visualsearch; this app decides what to recommend."""

from catalog.models import Product
from visualsearch.selectors import ProductMatch, products_near_products, products_similar_to_product

from .services import VIEWED_KEY

SIMILAR_ITEMS = 8
INSPIRED_MIN_VIEWS = 3  # one or two views say little about a taste; three start to


def similar_items(*, product: Product, limit: int = SIMILAR_ITEMS) -> list[ProductMatch]:
    """"Visually similar" on a product page: other published products, nearest first."""
    return products_similar_to_product(product=product, limit=limit)


def viewed_product_ids(session) -> list[int]:
    return [int(pid) for pid in session.get(VIEWED_KEY, [])]


def inspired_by_views(session, *, limit: int = SIMILAR_ITEMS) -> list[ProductMatch]:
    """"Inspired by what you viewed": products near the mean embedding of the products this session looked at,
    once it has looked at INSPIRED_MIN_VIEWS; the viewed products themselves are left out."""
    viewed = viewed_product_ids(session)
    if len(viewed) < INSPIRED_MIN_VIEWS:
        return []
    return products_near_products(product_ids=viewed, limit=limit)
