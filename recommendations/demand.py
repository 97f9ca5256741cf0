"""Unmet demand: the photo searches whose first result was not a close match, grouped by their query vectors, each
group shown by the catalogue's products nearest its centre, with its size and its trend."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.utils import timezone

from visualsearch.selectors import ProductMatch, SearchFilters, active_model_key, plain_model_key, products_near_photo

from .clustering import cluster_count, kmeans
from .models import Shown, ShownKind

DEMAND_MAX_VECTORS = 5000
"""The newest photo searches clustered at most: 5,000 x 1,280 half-floats are 13 MB to read and a few hundred
milliseconds of k-means; older ones add little to what the groups look like."""
DEMAND_PICTURES = 4


@dataclass(frozen=True)
class DemandCluster:
    number: int
    size: int
    first_half: int
    """Its searches in the first half of the window."""
    second_half: int
    pictures: list[ProductMatch]
    """The catalogue's products nearest the group's centre (published or not), nearest first."""

    @property
    def trend(self) -> int:
        return self.second_half - self.first_half


@dataclass(frozen=True)
class Demand:
    vector_key: str
    """The plain model key whose query vectors were grouped (the active version's, or its base key)."""
    start: datetime
    """The window's start: the period's, or later where query vectors are kept fewer days than the period has."""
    end: datetime
    searches: int
    """Photo searches of the window without a close match that still have their query vector."""
    clusters: list[DemandCluster]
    singles: int
    """Searches in groups of one (not shown: one shopper's odd photo is not demand)."""
    kept_days: int
    """RECOMMENDATIONS_VECTOR_RETENTION_DAYS: how long the log keeps query vectors."""

    @property
    def midpoint(self) -> datetime:
        return self.start + (self.end - self.start) / 2


def _as_array(value) -> np.ndarray:
    return value.to_numpy() if hasattr(value, "to_numpy") else np.asarray(value, dtype=np.float32)


def unmet_demand(*, start: datetime, now: datetime | None = None) -> Demand:
    """Photo searches from ``start`` to ``now`` whose first result was not a close match, grouped by their query
    vectors (cosine k-means, about sqrt(n/2) groups, at most 12), largest group first, each with its trend (the
    second half of the window against the first) and the catalogue's products nearest its centre.

    Only vectors of the active version's plain key are grouped: vectors of two keys are never compared, and the
    log keeps every vector in its plain key's space (``Shown.vector_key``).
    """
    key = plain_model_key(active_model_key())
    # Vectors are cleared after RECOMMENDATIONS_VECTOR_RETENTION_DAYS: a 90-day period with 30 days of vectors
    # would otherwise show every group "rising" (nothing left in its first half).
    end = now or timezone.now()
    kept_days = settings.RECOMMENDATIONS_VECTOR_RETENTION_DAYS
    start = max(start, end - timedelta(days=kept_days))
    rows = list(
        Shown.objects.filter(
            kind=ShownKind.PHOTO, close_match=False, vector_key=key, query_vector__isnull=False,
            created_at__gte=start, created_at__lte=end,
        )
        .order_by("-created_at", "-id")
        .values_list("query_vector", "created_at")[:DEMAND_MAX_VECTORS]
    )
    if len(rows) < 2:
        return Demand(vector_key=key, start=start, end=end, searches=len(rows), clusters=[], singles=len(rows),
                      kept_days=kept_days)
    vectors = np.stack([_as_array(vector) for vector, _ in rows])
    clustering = kmeans(vectors, k=cluster_count(len(rows)))
    demand = Demand(vector_key=key, start=start, end=end, searches=len(rows), clusters=[], singles=0,
                    kept_days=kept_days)
    groups = []
    singles = 0
    for group in range(len(clustering.centroids)):
        members = np.flatnonzero(clustering.labels == group)
        if len(members) < 2:
            singles += len(members)
            continue
        second = sum(1 for m in members if rows[m][1] >= demand.midpoint)
        groups.append((len(members), second, clustering.centroids[group]))
    groups.sort(key=lambda g: (-g[0], -g[1]))
    clusters = [
        DemandCluster(
            number=number, size=size, first_half=size - second, second_half=second,
            pictures=products_near_photo(
                vector=centroid, model_key=key, filters=SearchFilters(include_unpublished=True), limit=DEMAND_PICTURES
            ),
        )
        for number, (size, second, centroid) in enumerate(groups, start=1)
    ]
    return replace(demand, clusters=clusters, singles=singles)
