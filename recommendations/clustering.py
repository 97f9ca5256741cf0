"""Spherical k-means over query vectors (cosine), for grouping the photo searches that found nothing close.

Hand-written in numpy because scikit-learn is not among the project's dependencies, and a few hundred to a few
thousand unit vectors into at most a dozen groups do not justify adding it (and its SciPy) to every install: the
whole algorithm is the forty lines below. Seeded, so the same rows give the same groups on every page load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_CLUSTERS = 12
"""More groups than a dozen is more than a person reads on one page."""


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray
    """The group of each input row (0..k-1)."""
    centroids: np.ndarray
    """One unit vector per group: the direction of its members' mean."""


def cluster_count(n: int) -> int:
    """How many groups for ``n`` vectors: about sqrt(n/2) (the usual rule of thumb), at most MAX_CLUSTERS."""
    if n <= 0:
        return 0
    return max(1, min(MAX_CLUSTERS, round(math.sqrt(n / 2))))


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _seeds(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++: each next seed drawn with probability proportional to its squared distance to the nearest seed,
    so that far-apart groups each get one."""
    chosen = [int(rng.integers(len(points)))]
    nearest = 1.0 - points @ points[chosen[0]]
    for _ in range(1, k):
        weights = np.maximum(nearest, 0.0) ** 2
        total = float(weights.sum())
        index = int(rng.choice(len(points), p=weights / total)) if total > 0 else int(rng.integers(len(points)))
        chosen.append(index)
        nearest = np.minimum(nearest, 1.0 - points @ points[index])
    return points[chosen].copy()


def kmeans(vectors: np.ndarray, *, k: int, seed: int = 0, restarts: int = 4, iterations: int = 50) -> Clustering:
    """Group ``vectors`` (rows) into ``k`` groups by cosine similarity; the best of ``restarts`` seeded runs (the
    highest total similarity of members to their group's centroid)."""
    points = _unit(np.asarray(vectors, dtype=np.float64))
    k = max(1, min(k, len(points)))
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(restarts):
        centroids = _seeds(points, k, rng)
        labels = np.full(len(points), -1)
        for _ in range(iterations):
            similarity = points @ centroids.T
            new_labels = similarity.argmax(axis=1)
            if np.array_equal(new_labels, labels):
                break
            labels = new_labels
            for group in range(k):
                members = points[labels == group]
                if len(members):
                    centroids[group] = members.sum(axis=0)
                else:  # an emptied group takes the point its centroid serves worst
                    centroids[group] = points[int(similarity.max(axis=1).argmin())]
            centroids = _unit(centroids)
        score = float((points * centroids[labels]).sum())
        if best is None or score > best[0]:
            best = (score, labels, centroids)
    assert best is not None
    return Clustering(labels=best[1], centroids=best[2].astype(np.float32))
