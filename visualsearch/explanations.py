"""Explain a match: where a query photo and a catalogue picture agree, and in words what they share.

The heat maps come from the embedding library (``embedding.explain``) through the key's own preprocessing; the
words are the ImageNet concepts both show (``concepts.vocabulary``) and the colours both have (``colours``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from PIL import Image

from catalog.models import ProductImage

from .colours import BY_KEY, picture_colours
from .concepts import vocabulary
from .embedding import embedder_for
from .embedding.explain import heat_overlaid, pair_explain
from .intake import query_photo_open, stored_image_open
from .selectors import active_model_key, close_match_threshold, intake_limits


@dataclass(frozen=True)
class MatchExplanation:
    image: ProductImage
    model_key: str
    query_heat: np.ndarray
    match_heat: np.ndarray
    similarity: float
    close_threshold: float | None
    shared_concepts: list[tuple[str, str, float]]
    """(English name, Chinese name, strength) of the concepts both pictures show."""
    shared_colours: list[str]
    query_view: Image.Image | None = None
    """The photo as the network saw it (``Preprocessing.view``): what ``query_heat`` lies over."""
    match_view: Image.Image | None = None


def explanation_jpegs(explained: MatchExplanation, *, quality: int = 82) -> tuple[bytes, bytes]:
    """Both pictures as the network saw them, their heat maps laid over them, as JPEGs (a page shows them as
    data: URIs; nothing is stored)."""
    out = []
    for view, heat in ((explained.query_view, explained.query_heat), (explained.match_view, explained.match_heat)):
        buffer = io.BytesIO()
        heat_overlaid(view, heat).save(buffer, "JPEG", quality=quality)
        out.append(buffer.getvalue())
    return out[0], out[1]


def match_explain(*, data: bytes, image_id: int) -> MatchExplanation | None:
    """Why this catalogue picture matches this photo; None when there is no such (listed) picture.

    Raises ImageRejected for a file that is not an acceptable photo. Nothing is stored.
    """
    image = ProductImage.objects.listed().select_related("product").filter(id=image_id).first()
    if image is None:
        return None
    model_key = active_model_key()
    query = query_photo_open(data, limits=intake_limits())
    with image.image.open("rb") as handle:
        match = stored_image_open(handle.read())
    embedder = embedder_for(model_key, settings.VISUALSEARCH_DEVICE)
    explained = pair_explain(embedder, query, match)
    names = vocabulary().concepts
    query_colours = {c.key for c in picture_colours(query)}
    match_colours = [c["key"] for c in (image.colours or [])] or [c.key for c in picture_colours(match)]
    return MatchExplanation(
        image=image,
        model_key=model_key,
        query_heat=explained.query_heat,
        match_heat=explained.match_heat,
        similarity=explained.similarity,
        close_threshold=close_match_threshold(model_key),
        shared_concepts=[(names[i].english, names[i].chinese, p) for i, p in explained.shared_concepts],
        shared_colours=[key for key in match_colours if key in query_colours and key in BY_KEY],
        query_view=embedder.spec.preprocessing.view(query),
        match_view=embedder.spec.preprocessing.view(match),
    )
