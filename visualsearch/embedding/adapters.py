"""A learned adapter on top of a frozen model key: a small linear map applied to the base key's unit vectors.

Stored as an ``.npz`` blob (numpy arrays only, no pickle), so it can live in the database next to its model
version and every process (web, worker) loads the same weights. No Django, no torch needed to apply it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class LinearAdapter:
    """y = normalise((x - mean) @ weight + bias), x the base key's unit vector."""

    mean: np.ndarray
    weight: np.ndarray
    bias: np.ndarray

    @property
    def input_dimension(self) -> int:
        return int(self.weight.shape[0])

    @property
    def dimension(self) -> int:
        return int(self.weight.shape[1])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        projected = (np.asarray(vectors, dtype=np.float32) - self.mean) @ self.weight + self.bias
        norms = np.linalg.norm(projected, axis=1, keepdims=True)
        return (projected / np.maximum(norms, 1e-12)).astype(np.float32)

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        np.savez(out, mean=self.mean.astype(np.float32), weight=self.weight.astype(np.float32),
                 bias=self.bias.astype(np.float32))
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "LinearAdapter":
        with np.load(io.BytesIO(bytes(data)), allow_pickle=False) as arrays:
            return cls(mean=arrays["mean"], weight=arrays["weight"], bias=arrays["bias"])
