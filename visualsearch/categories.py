"""Category prediction from a picture: what staff are offered when a picture's product has no (or another)
category, and what partner apps get from ``POST /api/v1/categories/suggest``.

The shop's own catalogue is the training set: a picture's nearest catalogue pictures (the same k-NN query as
search, centred on the catalogue mean) vote for their products' categories, weighted by similarity. The ImageNet
concepts could vote too (each category's mean concept profile), but the 1,280-d vectors carry what the 1,000
concept probabilities carry and more: on the demo catalogue's leave-one-out (``evaluate_text_search
--categories``) the neighbours' vote is the better predictor, so it is the one used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from catalog.models import Category, Product

from .selectors import active_model_key, catalogue_centring, product_first_vector, products_near_vector

NEIGHBOURS = 12
"""Twelve neighbours: enough to outvote one odd look-alike, few enough that a small category (5 products) can
still win its own pictures."""


@dataclass(frozen=True)
class CategorySuggestion:
    category: Category
    score: float
    """The category's share of the neighbours' similarity-weighted vote, 0..1 (the suggestions add up to 1)."""


def category_suggestions(
    *, vector: np.ndarray, model_key: str, exclude_product_id: int | None = None, limit: int = 3
) -> list[CategorySuggestion]:
    """The likeliest categories (leaves) for a picture's vector, best first."""
    matches = products_near_vector(
        vector=vector,
        model_key=model_key,
        limit=NEIGHBOURS,
        exclude_product_id=exclude_product_id,
        centring=catalogue_centring(model_key),
    )
    votes: dict[int, float] = {}
    for match in matches:
        votes[match.product.category_id] = votes.get(match.product.category_id, 0.0) + max(match.similarity, 0.0)
    total = sum(votes.values())
    if total <= 0:
        return []
    categories = Category.objects.in_bulk(list(votes))
    ranked = sorted(votes.items(), key=lambda item: -item[1])[:limit]
    return [CategorySuggestion(category=categories[cid], score=round(v / total, 3)) for cid, v in ranked]


def product_category_suggestions(*, product: Product, limit: int = 3) -> list[CategorySuggestion]:
    """Suggestions from the product's first picture with a vector, the product itself left out of the vote."""
    model_key = active_model_key()
    vector = product_first_vector(product=product, model_key=model_key)
    if vector is None:
        return []
    return category_suggestions(
        vector=vector, model_key=model_key, exclude_product_id=product.id, limit=limit
    )
