"""Search by words: full text in both languages fused with what the pictures show, and words that refine a photo.

A query is split (``concepts.query_parse``) into ImageNet concepts ("sneaker", 鞋), colours ("red", 红色) and
plain words. Text search ranks products by full text, by name trigrams when the words found almost nothing
(typos), and by how strongly their pictures show the concepts, fused by reciprocal rank in one SQL query
(``querysets.products_text_ranked``). A photo refined by words moves its vector toward the named concepts,
filters by the named colours and narrows by the other words inside the k-NN query.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
from django.conf import settings

from catalog.selectors import category_descendant_ids
from catalog.text import trigrams

from . import querysets
from .concepts import ParsedQuery, query_parse
from .embedding import embedder_for
from .selectors import SearchFilters, active_model_key

CONCEPT_PULL = 1.0
"""How far concept words move a photo's vector: q + 1.0 * (unit mean concept direction), then unit length. A
picture's cosine with a concept's direction is small (0.1-0.3 for the concept it shows, near 0 for others, on
the demo pictures), so an equal-weight pull shifts scores by about 0.1: the named kind rises among the photo's
neighbours, while the photo still decides among things of that kind. Not tuned on a labelled set (there is
none for photo + words yet)."""


def _category_ids(filters: SearchFilters) -> list[int] | None:
    return None if filters.category is None else category_descendant_ids(filters.category)


@dataclass(frozen=True)
class TextSearchResult:
    hits: list[querysets.TextHit]
    parsed: ParsedQuery
    model_key: str


def _fulltext_words(parsed: ParsedQuery) -> str:
    """What full text reads: the words and the concept words as typed (a product named "Sneaker" should match
    "sneaker" by its name too), without the colour and filler words."""
    return " ".join([*parsed.concept_terms, parsed.words]).strip()


def products_for_text(
    *, text: str, filters: SearchFilters = SearchFilters(), limit: int = 200, model_key: str | None = None,
    in_stock: bool = False, use_pictures: bool = True,
) -> TextSearchResult:
    """Products for the header box and ``GET /api/v1/search``: best first, one SQL query.

    ``use_pictures=False`` leaves the concepts out: full text alone, the baseline the evaluation compares with.
    """
    model_key = model_key or active_model_key()
    parsed = query_parse(text)
    words = _fulltext_words(parsed)
    colours = tuple(dict.fromkeys([*filters.colours, *parsed.colours]))
    hits = querysets.products_text_ranked(
        tsquery=querysets.words_tsquery(words) if words else None,
        trigrams=trigrams(words),
        concepts=parsed.concepts if use_pictures else {},
        model_key=model_key,
        filters=querysets.ProductFilters(
            category_ids=_category_ids(filters),
            min_price=filters.min_price,
            max_price=filters.max_price,
            colours=colours,
            in_stock=in_stock,
        ),
        limit=limit,
    )
    return TextSearchResult(hits=hits, parsed=replace(parsed, colours=colours), model_key=model_key)


@functools.lru_cache(maxsize=8)
def _concept_directions(model_key: str) -> np.ndarray | None:
    return embedder_for(model_key, settings.VISUALSEARCH_DEVICE).concept_directions()


def photo_refined_by_words(
    *, vector: np.ndarray, model_key: str, words: str, filters: SearchFilters
) -> tuple[np.ndarray, SearchFilters, ParsedQuery]:
    """A photo's vector and filters after the shopper's words: concepts pull the vector, colours filter the
    matching picture, other words narrow by full text inside the k-NN query (so a filter never drops a product
    that matches both)."""
    parsed = query_parse(words)
    directions = _concept_directions(model_key) if parsed.concepts else None
    rest = parsed.words
    if directions is not None:
        pull = directions[sorted(parsed.concepts)].mean(axis=0)
        pull = pull / max(float(np.linalg.norm(pull)), 1e-12)
        moved = vector + CONCEPT_PULL * pull
        vector = (moved / max(float(np.linalg.norm(moved)), 1e-12)).astype(np.float32)
    elif parsed.concepts:
        rest = _fulltext_words(parsed)  # a key without concept directions narrows by the words instead
    return (
        vector,
        replace(filters, colours=tuple(dict.fromkeys([*filters.colours, *parsed.colours])), words=rest),
        parsed,
    )
