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

A replica that is down: when a unit of work picks a replica, this thread's connection to it is checked there (a
reused connection answers SELECT 1, the check Django makes once per request anyway; a new one connects, with
``DATABASE_REPLICA_CONNECT_TIMEOUT``), so a failure can still send the reads to the next healthy replica or the
primary. A replica found down is skipped by the whole process for ``DATABASE_REPLICA_CHECK_SECONDS`` (an outage
costs one connect timeout per process and interval, not one per request); the first failure of an outage logs a
warning, the return an info line. A read that fails on a replica after the pick (it went down mid-request) is
reported with the hint ``unavailable=<alias>`` by the vector queries (``visualsearch.querysets``), which then run
again where this router says; other reads fail that one request (the 503 page). Lag is not measured: a standby that
stops replaying but still answers keeps serving older rows.
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
def replica_reads() -> Iterator[None]:
    """Let the reads inside go to a replica; as ``@replica_reads()`` on a view (or a view's method) that only reads.

    Inside a request already routed by the middleware it widens that request's routing (a POST that only reads) and
    keeps what it learned (a write inside still pins the client); elsewhere it is a unit of work of its own.
    """
    state = _routing.get()
    if state is None:
        token = _routing.set(_Routing(allowed=True))
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


# --- replica health -------------------------------------------------------------------------------------------

# Replicas found down, with when (time.monotonic()), for this process: skipped until DATABASE_REPLICA_CHECK_SECONDS
# have passed, so an outage costs one connect timeout per process and interval, not one per request.
_down: dict[str, float] = {}
_down_lock = threading.Lock()


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def replica_mark_down(alias: str, *, reason: str) -> None:
    with _down_lock:
        was_up = alias not in _down
        _down[alias] = time.monotonic()
    if was_up:  # once per outage; the checks that fail during it say nothing more
        logger.warning("read replica %s is unavailable (%s); its reads go to another replica or the primary",
                       alias, reason)


def replica_is_up(alias: str) -> bool:
    """Whether this thread's connection to the replica works: a reused one answers SELECT 1 (the check
    CONN_HEALTH_CHECKS makes once per request), else the connect the first read would make (a short
    connect_timeout) succeeds, here where a failure can still send the reads elsewhere. A replica found down is not
    tried again for DATABASE_REPLICA_CHECK_SECONDS."""
    down_at = _down.get(alias)
    if down_at is not None and time.monotonic() - down_at < settings.DATABASE_REPLICA_CHECK_SECONDS:
        return False
    wrapper = connections[alias]
    try:
        if wrapper.connection is not None and not wrapper.is_usable():
            wrapper.close()  # the server went away since this thread's last read: connect again, or fail here
        wrapper.ensure_connection()
        # One SELECT 1 per unit of work, as CONN_HEALTH_CHECKS makes per request: it need not run again at the
        # first query.
        wrapper.health_check_done = True
    except DatabaseError as error:
        replica_mark_down(alias, reason=_first_line(error))
        return False
    if down_at is not None:
        with _down_lock:
            _down.pop(alias, None)
        logger.info("read replica %s answers again; reads go to it", alias)
    return True


def replica_health_forget() -> None:
    """Try every replica again on its next use (between tests)."""
    with _down_lock:
        _down.clear()


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
    replica_mark_down(alias, reason="a read lost its connection")
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
            if not _replica_failed(failed):
                return DEFAULT_DB_ALIAS  # this read runs again on the primary; the unit keeps its replica
            if state is not None and state.alias == failed:
                state.alias = None  # picked again below, among the others
        if state is None or not state.allowed or state.pinned or state.wrote:
            return DEFAULT_DB_ALIAS
        if model._meta.app_label not in REPLICA_APPS:
            return DEFAULT_DB_ALIAS
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS  # a transaction reads what it wrote
        if state.alias is None:
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
