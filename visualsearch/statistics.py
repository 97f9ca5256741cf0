"""Running means of vectors per model key, so search by photo works in the centred space.

ImageNet features of shoppers' photos and of packshots sit in different regions of the space (light, background,
camera), and a few products sit near everything (hubs). Centring each side on its own mean removes the shared
offset: a query is centred on the mean of recent query vectors, a catalogue picture on the catalogue's mean.
Measured on cached features through the shop's intake (var-eval, 2026-12-01): protocol A R@1 0.328 -> 0.361 for
``effnet-lite1-avg-240`` (0.247 -> 0.318 for Lite0, 0.243 -> 0.368 for Lite2) and protocol C P@1 0.785 -> 0.802; a
query mean taken from another shop's kind of photos hurt (-0.05 R@1), so the query mean is always this shop's own.
About 10 queries already give the whole gain; before that (a fresh shop) queries are centred on the catalogue's
mean, which is neutral on A and +0.017 on C. Whitening and hubness re-ranks were tried and not kept (see README).

Only aggregates are kept: one mean vector and a count per (model key, kind). No photo, nothing per shopper.
Queries are added in memory and written every ``VISUALSEARCH_QUERY_STATS_FLUSH_EVERY`` searches (one UPDATE),
so the hot path pays no database round trip; the catalogue mean is refreshed by beat and after a backfill.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction

from . import querysets
from .models import VectorStatistics, VectorStatisticsKind


@dataclass(frozen=True)
class Centring:
    """The two means a search subtracts: from the query, and from every catalogue vector."""

    query_mean: np.ndarray
    catalogue_mean: np.ndarray
    queries_seen: int


# --- queries: added in memory, written in batches ----------------------------------------------------------

_lock = threading.Lock()
_pending: dict[str, tuple[np.ndarray, int]] = {}
_last_flush = time.monotonic()


def query_vector_observe(*, model_key: str, vector: np.ndarray) -> None:
    """Count one shopper's query vector into its key's running mean (in memory; written in batches)."""
    global _last_flush
    with _lock:
        total, n = _pending.get(model_key, (np.zeros(len(vector), dtype=np.float64), 0))
        _pending[model_key] = (total + np.asarray(vector, dtype=np.float64), n + 1)
        due = sum(n for _, n in _pending.values()) >= settings.VISUALSEARCH_QUERY_STATS_FLUSH_EVERY or (
            time.monotonic() - _last_flush >= settings.VISUALSEARCH_QUERY_STATS_FLUSH_SECONDS
        )
    if due:
        query_statistics_flush()


def query_statistics_flush() -> int:
    """Write what this process has gathered; returns the number of queries written.

    The stored mean weighs at most ``VISUALSEARCH_QUERY_STATS_WINDOW`` earlier queries, so it follows what
    shoppers send lately (a new season, a new phone) instead of freezing on the first months.
    """
    global _last_flush
    with _lock:
        batches = dict(_pending)
        _pending.clear()
        _last_flush = time.monotonic()
    written = 0
    for model_key, (total, n) in batches.items():
        # On the primary by name, not through the router: a search request that happens to flush would otherwise
        # count as a unit of work that wrote catalogue data and read its own k-NN query from the primary (and pin
        # the shopper there); nobody reads these means back within the request.
        with transaction.atomic(using=DEFAULT_DB_ALIAS):
            row = (
                VectorStatistics.objects.using(DEFAULT_DB_ALIAS).select_for_update()
                .filter(model_key=model_key, kind=VectorStatisticsKind.QUERY)
                .first()
            )
            if row is None:
                VectorStatistics.objects.using(DEFAULT_DB_ALIAS).create(
                    model_key=model_key, kind=VectorStatisticsKind.QUERY, mean=(total / n).tolist(), count=n
                )
            else:
                weight = min(row.count, settings.VISUALSEARCH_QUERY_STATS_WINDOW)
                row.mean = ((np.asarray(row.mean, dtype=np.float64) * weight + total) / (weight + n)).tolist()
                row.count = weight + n
                row.save(using=DEFAULT_DB_ALIAS, update_fields=["mean", "count", "updated_at"])
        written += n
    _forget()
    return written


def query_statistics_discard() -> None:
    """Drop what this process gathered and has not written (tests; a process that must not write)."""
    with _lock:
        _pending.clear()
    _forget()


def query_statistics_reset(*, model_key: str) -> None:
    """Forget a key's query mean, written and pending (evaluation: each half of a test set gets its own traffic)."""
    with _lock:
        _pending.pop(model_key, None)
    VectorStatistics.objects.filter(model_key=model_key, kind=VectorStatisticsKind.QUERY).delete()
    _forget()


# --- the catalogue: recomputed from its vectors --------------------------------------------------------------


def catalogue_statistics_refresh(*, model_key: str) -> int:
    """Recompute the mean of the key's ready catalogue vectors (beat; after a backfill). Returns their count."""
    mean, count = querysets.catalogue_vector_mean(model_key=model_key)
    if not count:
        VectorStatistics.objects.filter(model_key=model_key, kind=VectorStatisticsKind.CATALOGUE).delete()
    else:
        VectorStatistics.objects.update_or_create(
            model_key=model_key, kind=VectorStatisticsKind.CATALOGUE, defaults={"mean": mean.tolist(), "count": count}
        )
    _forget()
    return count


# --- reading them ----------------------------------------------------------------------------------------------

_cache: dict[str, tuple[float, Centring | None]] = {}


def _forget() -> None:
    _cache.clear()


def centring_for(model_key: str) -> Centring | None:
    """The key's means, read at most every ``VISUALSEARCH_STATS_MAX_AGE`` seconds per process.

    None while the catalogue has no vector yet (nothing to centre on) or when centring is turned off.
    """
    if not settings.VISUALSEARCH_CENTRING:
        return None
    now = time.monotonic()
    cached = _cache.get(model_key)
    if cached is not None and now - cached[0] < settings.VISUALSEARCH_STATS_MAX_AGE:
        return cached[1]
    rows = {row.kind: row for row in VectorStatistics.objects.filter(model_key=model_key)}
    catalogue = rows.get(VectorStatisticsKind.CATALOGUE)
    if catalogue is None and catalogue_statistics_refresh(model_key=model_key):
        catalogue = VectorStatistics.objects.filter(model_key=model_key, kind=VectorStatisticsKind.CATALOGUE).first()
    centring = None
    if catalogue is not None:
        catalogue_mean = np.asarray(catalogue.mean, dtype=np.float32)
        queries = rows.get(VectorStatisticsKind.QUERY)
        enough = queries is not None and queries.count >= settings.VISUALSEARCH_CENTRING_MIN_QUERIES
        centring = Centring(
            query_mean=np.asarray(queries.mean, dtype=np.float32) if enough else catalogue_mean,
            catalogue_mean=catalogue_mean,
            queries_seen=queries.count if queries is not None else 0,
        )
    _cache[model_key] = (now, centring)
    return centring


# --- searches per day: a counter per kind and day, for the staff dashboard (no query, no shopper) ---------------

SEARCH_COUNT_DAYS = 31
"""Daily counts live 31 days in the cache (Redis): the dashboard shows the last two weeks."""


def _count_key(kind: str, day) -> str:
    return f"searches:{kind}:{day.isoformat()}"


def searches_count(*, kind: str) -> None:
    """One more search of ``kind`` ("photo", "text") today: one Redis INCR, nothing about the search kept."""
    from django.core.cache import cache
    from django.utils import timezone

    key = _count_key(kind, timezone.localdate())
    cache.add(key, 0, timeout=SEARCH_COUNT_DAYS * 86400)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr, at midnight a month on
        cache.set(key, 1, timeout=SEARCH_COUNT_DAYS * 86400)


def searches_per_day(*, kind: str, days: int = 14) -> list[tuple[object, int]]:
    """(day, count) for the last ``days`` days, oldest first, today last."""
    from datetime import timedelta

    from django.core.cache import cache
    from django.utils import timezone

    today = timezone.localdate()
    wanted = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    found = cache.get_many([_count_key(kind, day) for day in wanted])
    return [(day, int(found.get(_count_key(kind, day), 0))) for day in wanted]
