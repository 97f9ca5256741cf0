"""The interaction log's write buffer: a shown list costs the request one Redis ``RPUSH``, and a flush writes the
waiting rows to PostgreSQL in one multi-row INSERT (beat every RECOMMENDATIONS_LOG_FLUSH_SECONDS, a worker when
RECOMMENDATIONS_LOG_BUFFER_ROWS are waiting, and every reader of the log before it reads).

Why not the INSERT in the request: it was the largest single cost of a similar-items request (BEGIN, SET LOCAL,
INSERT, COMMIT: four round trips and a transaction, 6 ms of a 10 ms request; bench/signals.py, bench/load.py).
Why Redis and not the outbox: the outbox is a table, so writing to it is the same INSERT. What it costs: rows
wait a few seconds in Redis, and a Redis crash in that window loses them, as ``synchronous_commit = off`` already
accepted for the last moments of the log; it never loses or corrupts a row already in PostgreSQL.

Ids are taken in blocks from the table's own sequence (one round trip per ID_BLOCK lists per process), so a
result link can carry its list's id (``?shown=``) before the row is written, and ids never collide with rows
written directly (the log's fallback when Redis is down, and RECOMMENDATIONS_LOG_BUFFER off).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from datetime import datetime

import numpy as np
import redis
from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connections, router, transaction

from pgvector import HalfVector

from ..models import Shown

logger = logging.getLogger(__name__)

BUFFER_KEY = "recommendations:log:shown"
FLUSH_LOCK_KEY = "recommendations:log:flush"
FLUSH_BATCH = 2000  # rows per INSERT: ~1 MB of statement with query vectors, a few ms of server time
ID_BLOCK = 100  # ids reserved per round trip; unused ones are lost when the process ends (a gap, not a clash)

_FIELDS = ("id", "visitor", "account_id", "kind", "channel", "model_key", "product_ids", "top_similarity",
           "close_match", "filters", "query_text", "source_product_id", "query_vector", "vector_key", "created_at")

_client: redis.Redis | None = None
_client_lock = threading.Lock()
_ids_lock = threading.Lock()  # its own: a thread taking a block of ids does not hold up the others' RPUSH
_ids: list[int] = []


def _redis() -> redis.Redis:
    """The cache's Redis database, one connection pool per process (short timeouts: the log must never hold a
    page up; on a timeout the row is written directly)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = redis.Redis.from_url(settings.CACHE_REDIS_URL, socket_timeout=1.0, socket_connect_timeout=1.0)
        return _client


def _write_alias() -> str:
    return router.db_for_write(Shown)


def shown_id_next() -> int:
    """An id for a list not written yet, from the table's own sequence."""
    with _ids_lock:
        if not _ids:
            with connections[_write_alias()].cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [Shown._meta.db_table, ID_BLOCK],
                )
                _ids.extend(row[0] for row in cursor.fetchall())
        return _ids.pop(0)


def _encode(row: Shown) -> str:
    values = {name: getattr(row, name) for name in _FIELDS}
    values["created_at"] = row.created_at.isoformat()
    if row.query_vector is not None:  # float16 bytes, as the column stores it: 2.5 kB, not 25 kB of JSON numbers
        values["query_vector"] = base64.b64encode(np.asarray(row.query_vector, dtype="<f2").tobytes()).decode()
    return json.dumps(values, separators=(",", ":"))


def _decode(item: bytes) -> Shown:
    values = json.loads(item)
    values["created_at"] = datetime.fromisoformat(values["created_at"])
    if values["query_vector"] is not None:
        values["query_vector"] = HalfVector(np.frombuffer(base64.b64decode(values["query_vector"]), dtype="<f2"))
    return Shown(**values)


def shown_buffer(row: Shown) -> bool:
    """Queue a row (its id already set) for the next flush. False when Redis did not take it: the caller writes it
    directly. Past RECOMMENDATIONS_LOG_BUFFER_ROWS waiting rows, a worker is asked to flush (once per that many)."""
    try:
        waiting = _redis().rpush(BUFFER_KEY, _encode(row))
    except redis.RedisError:
        logger.warning("interaction log: Redis refused a row, writing it directly", exc_info=True)
        return False
    if waiting % max(1, settings.RECOMMENDATIONS_LOG_BUFFER_ROWS) == 0:
        try:  # by name: the task module calls services, services never import it
            current_app.send_task("recommendations.tasks.signals_flush_task")
        except Exception:  # the broker down: beat's flush, or the next reader's, writes the rows
            logger.warning("interaction log: could not ask a worker to flush", exc_info=True)
    return True


def _still_valid(rows: list[Shown], alias: str) -> list[Shown]:
    """Lists whose product page or account was deleted while they waited are dropped (deleting it would have
    deleted them). Checked before the INSERT, not left to the foreign keys: those are deferred to the commit, and
    a flush may run inside a caller's transaction."""
    from django.contrib.auth import get_user_model

    from catalog.models import Product

    product_ids = {r.source_product_id for r in rows if r.source_product_id}
    account_ids = {r.account_id for r in rows if r.account_id}
    products = set(Product.objects.using(alias).filter(id__in=product_ids).values_list("id", flat=True)) \
        if product_ids else set()
    accounts = set(get_user_model().objects.using(alias).filter(id__in=account_ids).values_list("id", flat=True)) \
        if account_ids else set()
    kept = [r for r in rows if (r.source_product_id is None or r.source_product_id in products)
            and (r.account_id is None or r.account_id in accounts)]
    if len(kept) < len(rows):
        logger.info("interaction log: %d waiting lists dropped, their product or account is gone", len(rows) - len(kept))
    return kept


def _insert(rows: list[Shown]) -> int:
    """The rows still valid, in one multi-row INSERT (ids already set: a row flushed twice is written once)."""
    alias = _write_alias()
    rows = _still_valid(rows, alias)
    if not rows:
        return 0
    outer = connections[alias].in_atomic_block
    with transaction.atomic(using=alias):
        if not outer:  # why: see log.shown_record (never inside a caller's transaction)
            with connections[alias].cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        Shown.objects.using(alias).bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def log_flush(*, wait: float = 5.0) -> int:
    """Write every waiting row to PostgreSQL; returns the rows written. Flushes take turns (a Redis lock), so when
    this returns, rows another flush had taken are committed too: a reader that flushes first sees every list
    shown before it. Rows a failed INSERT could not write go back to the head of the queue."""
    if not settings.RECOMMENDATIONS_LOG_BUFFER:
        return 0
    client = _redis()
    written = 0
    try:
        with client.lock(FLUSH_LOCK_KEY, timeout=120, blocking_timeout=wait):
            while True:
                pipe = client.pipeline(transaction=True)
                pipe.lrange(BUFFER_KEY, 0, FLUSH_BATCH - 1)
                pipe.ltrim(BUFFER_KEY, FLUSH_BATCH, -1)
                items, _ = pipe.execute()
                if not items:
                    return written
                try:
                    written += _insert([_decode(item) for item in items])
                except DatabaseError:  # the database down: keep the rows for the next flush, fail no page
                    client.lpush(BUFFER_KEY, *reversed(items))
                    logger.exception("interaction log: %d waiting lists not written, kept for the next flush",
                                     len(items))
                    return written
                if len(items) < FLUSH_BATCH:
                    return written
    except redis.exceptions.LockError:
        logger.warning("interaction log: another flush held the lock for %.0f s", wait)
        return written
    except redis.RedisError:
        logger.warning("interaction log: Redis unavailable, nothing flushed", exc_info=True)
        return written


def log_waiting() -> int:
    """Rows waiting in the buffer (0 when Redis cannot say)."""
    try:
        return int(_redis().llen(BUFFER_KEY))
    except redis.RedisError:
        return 0

