"""Short-lived memory of a shopper's query *vector* (never the photo), so filters can change without re-upload."""

from __future__ import annotations

import secrets

import numpy as np
from django.core.cache import cache

TTL_SECONDS = 30 * 60


def query_vector_remember(*, model_key: str, vector: np.ndarray) -> str:
    query_id = secrets.token_urlsafe(12)
    cache.set(f"photoq:{query_id}", (model_key, vector.astype(np.float16).tobytes()), TTL_SECONDS)
    return query_id


def query_vector_recall(query_id: str) -> tuple[str, np.ndarray] | None:
    if not query_id or len(query_id) > 32:
        return None
    entry = cache.get(f"photoq:{query_id}")
    if entry is None:
        return None
    model_key, raw = entry
    return model_key, np.frombuffer(raw, dtype=np.float16).astype(np.float32)
