"""Read replicas: the shop's read paths go to a healthy streaming standby, everything else to the primary.

What goes where (``settings.DATABASE_REPLICA_URLS`` names the standbys; without any, this router does nothing):

- Writes, migrations and every read of an app outside ``REPLICA_APPS`` (sessions, accounts, orders, the interaction
  log, the outbox, partners' keys) go to ``default``, the primary.
- Reads of the catalogue and of visual search (product pages and lists, k-NN search, similar items) go to one
  replica, chosen at random among the healthy ones once per unit of work and kept for the rest of it, so one page
  reads one standby's consistent state. A unit of work is a request (``shop.middleware.ReplicaReadsMiddleware``)
  or a ``with replica_reads():`` block; Celery tasks and management commands read the primary, since they read to
  write (a task fetches a row again by the key it was given, moments after the commit that enqueued it).

Read-your-writes, kept simple (Django's router is not told whether a transaction wrote):

- A request reads replicas only if it is a GET or HEAD, or a view that only reads marks itself with
  ``@replica_reads()`` (search by photo in the API is a POST); a POST that writes reads what it wrote.
- Inside a transaction on the primary (``atomic()``: checkout, the admin's forms) reads stay on the primary.
- Once a unit of work writes a catalogue or visual-search row, its later reads go to the primary, and the response
  sets the ``lumen_primary`` cookie for ``DATABASE_REPLICA_PIN_SECONDS``: that browser's next requests read the
  primary until the standbys have replayed the write (streaming lag is milliseconds; the pin allows for seconds).
  Clients that keep no cookies (partner servers) may read a standby a few milliseconds behind their own write.

A replica that is down: each process checks a replica with a fresh connection (connect timeout
``DATABASE_REPLICA_CONNECT_TIMEOUT``) at most every ``DATABASE_REPLICA_CHECK_SECONDS`` and remembers the answer, so
an outage costs one wait per process and interval, not one per request. The first failed check of an outage logs a
warning; reads then go to the next healthy replica, or to the primary. A read that fails on a replica between two
checks is reported with the hint ``unavailable=<alias>`` (the vector queries do it, ``visualsearch.querysets``):
its connection is tested, a dead one marks the replica down at once, and the read is retried where this router
says. Lag is not measured: a standby that stops replaying but still answers keeps serving older rows.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)

# Apps whose reads may be served by a standby: what shoppers browse and search. The interaction log
# (recommendations) stays on the primary: "recently viewed" and suggestions read what the same request just wrote.
REPLICA_APPS = frozenset({"catalog", "visualsearch"})
PIN_COOKIE = "lumen_primary"


@dataclass
class _Routing:
    """Where the reads of one unit of work (a request, a ``replica_reads`` block) may go."""

    allowed: bool
    """A replica may serve them (a GET, or a view marked as reading only)."""
    pinned: bool = False
    """The client wrote moments ago (the pin cookie): the primary, whatever the method."""
    wrote: bool = False
    """This unit wrote a replicated app's row: its later reads go to the primary."""
    alias: str | None = None
    """The replica chosen for this unit, once one is."""


_routing: ContextVar[_Routing | None] = ContextVar("shop_db_routing", default=None)


def replica_aliases() -> list[str]:
    return list(getattr(settings, "DATABASE_REPLICA_ALIASES", ()))


@contextmanager
def replica_reads(*, pinned: bool = False) -> Iterator[None]:
    """Let the reads inside go to a replica; as ``@replica_reads()`` on a view (or a view's method) that only reads.

    Inside a request already routed by the middleware it widens that request's routing (a POST that only reads) and
    keeps what it learned (a write inside still pins the client); elsewhere it is a unit of work of its own.
    """
    state = _routing.get()
    if state is None:
        token = _routing.set(_Routing(allowed=not pinned, pinned=pinned))
        try:
            yield
        finally:
            _routing.reset(token)
        return
    allowed = state.allowed
    state.allowed = not state.pinned
    try:
        yield
    finally:
        state.allowed = allowed


@contextmanager
def request_routing(*, allowed: bool, pinned: bool) -> Iterator[_Routing]:
    """The middleware's unit of work; yields its state so the response can read whether it wrote."""
    state = _Routing(allowed=allowed and not pinned, pinned=pinned)
    token = _routing.set(state)
    try:
        yield state
    finally:
        _routing.reset(token)


# --- replica health, per process -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Health:
    up: bool
    checked_at: float


_health: dict[str, _Health] = {}
_health_lock = threading.Lock()


def _probe(alias: str) -> bool:
    """Whether the replica answers a query on a fresh connection (never the thread's own, which may be mid-work)."""
    wrapper = connections.create_connection(alias)
    try:
        wrapper.ensure_connection()
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError as error:
        logger.debug("replica %s: check failed: %s", alias, error)
        return False
    finally:
        wrapper.close()


def _health_set(alias: str, *, up: bool, reason: str = "") -> None:
    with _health_lock:
        before = _health.get(alias)
        _health[alias] = _Health(up=up, checked_at=time.monotonic())
    # Once per outage: the first failure after the replica was up (or never checked), and its return.
    if not up and (before is None or before.up):
        logger.warning("read replica %s is unavailable%s; its reads go to another replica or the primary",
                       alias, f" ({reason})" if reason else "")
    elif up and before is not None and not before.up:
        logger.info("read replica %s answers again; reads go to it", alias)


def replica_is_up(alias: str) -> bool:
    """The remembered answer while it is fresh, else a new check (which may wait the connect timeout once)."""
    seen = _health.get(alias)
    if seen is not None and time.monotonic() - seen.checked_at < settings.DATABASE_REPLICA_CHECK_SECONDS:
        return seen.up
    up = _probe(alias)
    _health_set(alias, up=up, reason="" if up else "no answer to the health check")
    return up


def replica_health_forget() -> None:
    """Check every replica again on its next use (after a database error in a request; between tests)."""
    with _health_lock:
        _health.clear()


def _replica_pick(*, exclude: str | None = None) -> str:
    candidates = [alias for alias in replica_aliases() if alias != exclude]
    random.shuffle(candidates)  # spreads processes and requests over the replicas; no shared counter needed
    for alias in candidates:
        if replica_is_up(alias):
            return alias
    return DEFAULT_DB_ALIAS


def _replica_failed(alias: str) -> bool:
    """A read on this replica raised: whether its connection is dead (then the replica is marked down)."""
    wrapper = connections[alias]
    if wrapper.is_usable():
        return False  # the server answers: the error was the query's (a conflict with recovery, a timeout)
    wrapper.close()  # a dead connection is not reused by the next read of this thread
    _health_set(alias, up=False, reason="a read lost its connection")
    return True


class ReplicaRouter:
    """``DATABASE_ROUTERS``: see the module's docstring for what goes where."""

    def db_for_read(self, model, **hints) -> str | None:
        replicas = replica_aliases()
        if not replicas:
            return None
        state = _routing.get()
        failed = hints.get("unavailable")
        if failed in replicas:
            marked_down = _replica_failed(failed)
            if state is not None and state.alias == failed:
                state.alias = None
            if not marked_down:
                return DEFAULT_DB_ALIAS  # retried once on the primary; the replica stays in use
        if state is None or not state.allowed or state.pinned or state.wrote:
            return DEFAULT_DB_ALIAS
        if model._meta.app_label not in REPLICA_APPS:
            return DEFAULT_DB_ALIAS
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS  # a transaction reads what it wrote
        if state.alias is None or (state.alias != DEFAULT_DB_ALIAS and not replica_is_up(state.alias)):
            state.alias = _replica_pick(exclude=failed)
        return state.alias

    def db_for_write(self, model, **hints) -> str | None:
        if not replica_aliases():
            return None
        state = _routing.get()
        if state is not None and model._meta.app_label in REPLICA_APPS:
            state.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # Every database holds the same rows: a product read from a standby may point at a category of the primary.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        if db in replica_aliases():
            return False  # standbys are read-only copies: they get the primary's schema by replaying it
        return None
