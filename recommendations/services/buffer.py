"""The interaction log's write buffer: a shown list costs the request one Redis round trip (RPUSH), and a flush
writes the waiting rows to PostgreSQL in multi-row INSERTs (beat every RECOMMENDATIONS_LOG_FLUSH_SECONDS, a worker
once RECOMMENDATIONS_LOG_BUFFER_ROWS are waiting, a click on a list still waiting, and every reader of the log).

Why not the INSERT in the request: it was the largest single cost of a similar-items request (BEGIN, SET LOCAL,
INSERT, COMMIT: four round trips and a transaction, 6 ms of a 10 ms request; bench/signals.py, bench/load.py).
Why Redis and not the outbox: the outbox is a table, so writing to it is the same INSERT.

What it risks: rows wait a few seconds in Redis, and losing Redis's memory in that window (a crash without
persistence) loses them, as ``synchronous_commit = off`` already accepted for the last moments of the log. Nothing
else loses a row: a flush reads rows, commits them, and only then removes them from Redis, so a flusher killed
half-way leaves them for the next one (ids make a second INSERT of the same row a no-op); a row PostgreSQL
refuses is dropped alone, with a log line, as the direct INSERT did.

Ids are taken in blocks from the table's own sequence (one round trip per ID_BLOCK lists per process), so a
result link can carry its list's id (``?shown=``) before the row is written, and ids never collide with rows
written directly (the fallback when Redis is down, and RECOMMENDATIONS_LOG_BUFFER off). The queue's keys name the
database, so a throwaway database (the evaluation commands, the tests) never shares a queue with the shop's.
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
from django.db import DatabaseError, InterfaceError, OperationalError, connections, router, transaction

from pgvector import HalfVector

from ..models import Shown

logger = logging.getLogger(__name__)

FLUSH_BATCH = 500  # rows per INSERT: with query vectors ~2 MB of statement, ~0.5 s (bench/signals.py: 0.9 ms a row)
ID_BLOCK = 100  # ids reserved per round trip; unused ones are lost when the process ends (a gap, not a clash)
WAITING_SECONDS = 600  # how long a queued list's "still waiting" mark lives (a flush comes every few seconds)

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


def _prefix() -> str:
    """Every key of the buffer names the database the rows go to."""
    return f"recommendations:log:{connections[_write_alias()].settings_dict['NAME']}"


def _keys() -> tuple[str, str]:
    """The queue and the flush lock."""
    return f"{_prefix()}:shown", f"{_prefix()}:flush"


def _waiting_key(shown_id: int) -> str:
    return f"{_prefix()}:waiting:{shown_id}"


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


def shown_buffer(*, row: Shown) -> bool:
    """Queue a row (its id already set) for the next flush, and mark its id as waiting for its visitor (one round
    trip for both). False when Redis did not take it: the caller writes it directly. Past
    RECOMMENDATIONS_LOG_BUFFER_ROWS waiting rows a worker is asked to flush (once per that many)."""
    queue, _ = _keys()
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.rpush(queue, _encode(row))
        pipe.set(_waiting_key(row.id), row.visitor, ex=WAITING_SECONDS)
        waiting, _ = pipe.execute()
    except redis.RedisError:
        logger.warning("interaction log: Redis refused a row, writing it directly", exc_info=True)
        return False
    if waiting % max(1, settings.RECOMMENDATIONS_LOG_BUFFER_ROWS) == 0:
        try:  # by name: the task module calls services, services never import it
            current_app.send_task("recommendations.tasks.signals_flush_task")
        except Exception:  # the broker down: beat's flush, or the next reader's, writes the rows
            logger.warning("interaction log: could not ask a worker to flush", exc_info=True)
    return True


def shown_waiting_for(*, shown_id: int) -> str | None:
    """The visitor a list still waiting in the queue was shown to, or None (written already, never queued, or
    Redis cannot say): a click on someone else's or a made-up id costs no flush."""
    try:
        visitor = _redis().get(_waiting_key(shown_id))
    except redis.RedisError:
        return None
    return visitor.decode() if visitor is not None else None


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
    """The rows still valid in one multi-row INSERT (ids already set: a row flushed twice is written once); when
    PostgreSQL refuses the batch for its content, row by row, dropping (and logging) the ones it refuses."""
    alias = _write_alias()
    rows = _still_valid(rows, alias)
    if not rows:
        return 0
    try:
        shown_rows_insert(rows=rows, alias=alias)
        return len(rows)
    except (OperationalError, InterfaceError):
        raise  # the database is away: keep everything for the next flush
    except DatabaseError:
        if len(rows) == 1:
            logger.exception("interaction log: a waiting list the database refuses was dropped (id %s)", rows[0].id)
            return 0
    return sum(_insert([row]) for row in rows)


def shown_rows_insert(*, rows: list[Shown], alias: str | None = None) -> None:
    """Rows with their ids set, in one INSERT in a transaction of their own (a savepoint inside a caller's, so a
    refused row leaves the caller's transaction usable); a row already written is skipped.

    The log's own transaction need not wait for the WAL flush: a crash may lose the last moments of the log,
    never corrupt it, and the writer no longer waits ~10 ms for the disk (bench/signals.py). Never inside a
    caller's transaction: SET LOCAL would apply to its writes too."""
    alias = alias or _write_alias()
    outer = connections[alias].in_atomic_block
    with transaction.atomic(using=alias):
        if not outer:
            with connections[alias].cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        Shown.objects.using(alias).bulk_create(rows, ignore_conflicts=True)


def _decoded(items: list[bytes]) -> list[Shown]:
    rows = []
    for item in items:
        try:
            rows.append(_decode(item))
        except (ValueError, TypeError, KeyError):  # written by another version of the code: nothing to keep
            logger.exception("interaction log: a waiting row that cannot be read was dropped")
    return rows


class FlushIncomplete(Exception):
    """``log_flush(strict=True)`` could not write every waiting row (Redis or PostgreSQL away, or another flush
    held the queue too long): a caller that must not go on without them (forget-me) stops."""


def log_flush(*, wait: float = 5.0, strict: bool = False) -> int:
    """Write every waiting row to PostgreSQL; returns the rows written. Flushes take turns (a Redis lock), so when
    this returns, rows another flush was writing are committed too: a reader that flushes first sees every list
    shown before it. Rows leave the queue only once committed; inside a caller's transaction they stay queued
    as well (the caller may roll back), and the next flush outside one finds them written already.

    Drains even with RECOMMENDATIONS_LOG_BUFFER off (rows queued before it was turned off). Problems are logged and
    the rows kept; with ``strict`` they raise ``FlushIncomplete`` instead."""
    queue, lock_key = _keys()
    alias = _write_alias()
    client = _redis()
    written = 0
    try:
        with client.lock(lock_key, timeout=120, blocking_timeout=wait) as lock:
            inside = connections[alias].in_atomic_block  # then the rows stay queued too: see the docstring
            start = 0
            while True:
                items = client.lrange(queue, start, start + FLUSH_BATCH - 1)
                if not items:
                    return written
                written += _insert(_decoded(items))
                if inside:
                    start += len(items)
                    continue
                if not lock.owned():
                    raise FlushIncomplete("the flush lock expired while writing: the next flush takes over")
                client.ltrim(queue, len(items), -1)  # only this flush removes from the head while it holds the lock
    except redis.exceptions.LockError as error:
        problem: Exception = FlushIncomplete(f"another flush held the log's queue for {wait:.0f} s")
        problem.__cause__ = error
    except redis.RedisError as error:
        problem = FlushIncomplete("Redis unavailable")
        problem.__cause__ = error
    except (OperationalError, InterfaceError) as error:
        problem = FlushIncomplete("PostgreSQL unavailable: the rows stay queued")
        problem.__cause__ = error
    except FlushIncomplete as error:
        problem = error
    if strict:
        raise problem
    logger.warning("interaction log: flush incomplete (%s), %d rows written", problem, written)
    return written


def log_waiting() -> int:
    """Rows waiting in the buffer (0 when Redis cannot say)."""
    try:
        return int(_redis().llen(_keys()[0]))
    except redis.RedisError:
        return 0

