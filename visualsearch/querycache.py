"""Short-lived memory of a shopper's query *vectors* (never the photo), so filters can change, and another object
of the photo can be searched, without an upload: the leading vector, and each found object's box and vector."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache

TTL_SECONDS = 30 * 60


@dataclass(frozen=True)
class RememberedObject:
    box: tuple[float, float, float, float]
    """x, y, width, height in fractions of the photo."""
    vector: np.ndarray
    concept: int | None = None
    """``FoundObject.concept``: None for a salient object, the ImageNet concept of a recognised region."""


@dataclass(frozen=True)
class RememberedQuery:
    model_key: str
    vector: np.ndarray
    objects: tuple[RememberedObject, ...] = ()
    base_key: str = ""
    base_vector: np.ndarray | None = None
    """The leading vector in the plain key (``PhotoQuery.base_vector``), for the interaction log."""


def _packed(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


def query_vector_remember(
    *, model_key: str, vector: np.ndarray, objects=(), base_key: str = "", base_vector: np.ndarray | None = None
) -> str:
    """``objects``: (x, y, width, height, vector[, concept]) of each object found in the photo, in search order."""
    query_id = secrets.token_urlsafe(12)
    packed_objects = [
        (tuple(float(v) for v in item[:4]), _packed(item[4]), item[5] if len(item) > 5 else None) for item in objects
    ]
    base = (base_key, _packed(base_vector)) if base_key and base_vector is not None else ("", b"")
    cache.set(f"photoq:{query_id}", (model_key, _packed(vector), packed_objects, *base), TTL_SECONDS)
    return query_id


def query_vector_recall(query_id: str) -> RememberedQuery | None:
    if not query_id or len(query_id) > 32:
        return None
    entry = cache.get(f"photoq:{query_id}")
    if entry is None:
        return None
    # Entries written before a field existed lack it (a cache outlives a deploy by up to TTL_SECONDS).
    model_key, raw, packed_objects, base_key, base_raw = (*entry, *([], "", b"")[len(entry) - 2 :])

    def unpacked(data: bytes) -> np.ndarray:
        return np.frombuffer(data, dtype=np.float16).astype(np.float32)

    return RememberedQuery(
        model_key=model_key,
        vector=unpacked(raw),
        objects=tuple(
            RememberedObject(box=item[0], vector=unpacked(item[1]), concept=item[2] if len(item) > 2 else None)
            for item in packed_objects
        ),
        base_key=base_key,
        base_vector=unpacked(base_raw) if base_key else None,
    )
