"""A small embedding library: model specs, preprocessing and a lazily loaded embedder. No Django here.

    from visualsearch.embedding import embedder_for
    vectors = embedder_for("effnet-lite0-avg-224").embed([pil_image])   # (1, 1280) float32, unit length
"""

from .embedder import Embedder, embedder_for, resolve_device
from .specs import REGISTRY, DEFAULT_MODEL_KEY, EmbeddingSpec, Preprocessing, spec_for

__all__ = [
    "DEFAULT_MODEL_KEY",
    "REGISTRY",
    "Embedder",
    "EmbeddingSpec",
    "Preprocessing",
    "embedder_for",
    "resolve_device",
    "spec_for",
]
