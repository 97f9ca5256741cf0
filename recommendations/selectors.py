"""Recommendation reads. Vector SQL stays in visualsearch; this app decides what to recommend."""

from django.conf import settings
from django.core.cache import cache

from catalog.models import Product, ProductImage
from visualsearch.selectors import (
    ProductMatch,
    SearchFilters,
    active_model_key_recent,
    products_near_products,
    products_similar_to_product,
)

from .services import VIEWED_KEY

SIMILAR_ITEMS = 8
INSPIRED_MIN_VIEWS = 3  # one or two views say little about a taste; three start to


def similar_items(*, product: Product, limit: int = SIMILAR_ITEMS) -> list[ProductMatch]:
    """"Visually similar" on a product page: other published products, nearest first.

    The ranking (image ids and similarities) is cached per product for RECOMMENDATIONS_SIMILAR_CACHE_SECONDS:
    bench/load.py measured the uncached k-NN path as the bulk of a similar-items request, and a ranking only
    changes when the catalogue's vectors do. Products are read fresh on every call, so a price change shows at
    once and an unpublished product drops out at once; a new product joins other products' lists within the TTL.
    """
    seconds = settings.RECOMMENDATIONS_SIMILAR_CACHE_SECONDS
    if seconds <= 0:
        return products_similar_to_product(product=product, limit=limit)
    model_key = active_model_key_recent()
    key = f"similar:{model_key}:{product.id}:{limit}"
    ranking = cache.get(key)
    if ranking is None:
        matches = products_similar_to_product(product=product, limit=limit, model_key=model_key)
        if matches:  # an empty list may just mean "not embedded yet": ask again next time
            cache.set(key, [(m.image.id, m.similarity, m.close) for m in matches], seconds)
        return matches
    images = ProductImage.objects.select_related("product").filter(product__is_published=True).in_bulk(
        [image_id for image_id, _, _ in ranking]
    )
    return [
        ProductMatch(product=images[image_id].product, image=images[image_id], similarity=similarity, close=close)
        for image_id, similarity, close in ranking
        if image_id in images
    ]


def similar_in_other_colours(*, product: Product, limit: int = 6) -> list[ProductMatch]:
    """"Similar, in another colour": the nearest products whose matching picture lacks this product's main colour
    (its first picture's largest colour). Empty until that colour is measured."""
    first = product.images.listed().filter(colour_keys__isnull=False).order_by("position", "id").first()
    if first is None or not first.colour_keys:
        return []
    return products_similar_to_product(
        product=product, limit=limit, filters=SearchFilters(colours_excluded=(first.colour_keys[0],))
    )


def viewed_product_ids(session) -> list[int]:
    return [int(pid) for pid in session.get(VIEWED_KEY, [])]


def inspired_by_views(session, *, limit: int = SIMILAR_ITEMS) -> list[ProductMatch]:
    """"Inspired by what you viewed": products near the mean embedding of the products this session looked at,
    once it has looked at INSPIRED_MIN_VIEWS; the viewed products themselves are left out."""
    viewed = viewed_product_ids(session)
    if len(viewed) < INSPIRED_MIN_VIEWS:
        return []
    return products_near_products(product_ids=viewed, limit=limit)
