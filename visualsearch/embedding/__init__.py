"""A small embedding library: model specs, preprocessing and a lazily loaded embedder. No Django here.

    from visualsearch.embedding import embedder_for
    vectors = embedder_for("effnet-lite0-avg-224").embed([pil_image])   # (1, 1280) float32, unit length
"""

from .adapters import LinearAdapter
from .embedder import CONCEPTS_KEPT, AdapterEmbedder, EmbeddedBatch, Embedder, embedder_for, resolve_device
from .specs import (
    DEFAULT_MODEL_KEY,
    REGISTRY,
    EmbeddingSpec,
    Preprocessing,
    adapter_spec,
    spec_for,
    spec_resolver_add,
)

__all__ = [
    "AdapterEmbedder",
    "CONCEPTS_KEPT",
    "EmbeddedBatch",
    "DEFAULT_MODEL_KEY",
    "LinearAdapter",
    "adapter_spec",
    "spec_resolver_add",
    "REGISTRY",
    "Embedder",
    "EmbeddingSpec",
    "Preprocessing",
    "embedder_for",
    "resolve_device",
    "spec_for",
]
