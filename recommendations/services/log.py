"""Recommendation writes: the session's view history, and the interaction log (``models.Shown`` / ``Action``).

The log costs the hot paths one Redis RPUSH per list shown (``buffer``: the rows reach PostgreSQL in batches;
bench/signals.py measures both ways); what the shopper does next is one INSERT when it happens. Attribution needs
no cookie of its own: result links carry the list's id (``?shown=``), and the session remembers, per product, the
last list that led there, so that putting it in the cart and buying it count for that list.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from ..models import Action, ActionKind, Channel, Shown, ShownKind
from .buffer import FlushIncomplete, log_flush, shown_buffer, shown_id_next, shown_rows_insert, shown_waiting_for

logger = logging.getLogger(__name__)

VIEWED_KEY = "viewed_products"
VIEWED_KEPT = 12  # enough to describe a taste, few enough that an old visit fades out
VISITOR_KEY = "visitor"
LED_HERE_KEY = "shown_for_product"
LED_HERE_KEPT = 30  # products whose cart and purchase are attributed to the list that led to them


def product_view_record(session, *, product_id: int) -> list[int]:
    """Put the product first in the session's history (most recent first, no repeats); returns the history."""
    viewed = [pid for pid in session.get(VIEWED_KEY, []) if pid != product_id]
    viewed.insert(0, product_id)
    session[VIEWED_KEY] = viewed[:VIEWED_KEPT]
    return session[VIEWED_KEY]


def visitor_id(session) -> str:
    """The session's random id in the log (made on first use; nothing about the shopper is in it)."""
    visitor = session.get(VISITOR_KEY)
    if not visitor:
        visitor = session[VISITOR_KEY] = secrets.token_urlsafe(12)
    return visitor


@dataclass(frozen=True)
class ShownList:
    """What a list showed, for ``shown_record``; built by the page or API view that showed it."""

    kind: str
    product_ids: Sequence[int]
    channel: str = Channel.PAGE
    model_key: str = ""
    top_similarity: float | None = None
    close_match: bool | None = None
    filters: dict = field(default_factory=dict)
    query_text: str = ""
    source_product_id: int | None = None
    query_vector: np.ndarray | None = None
    vector_key: str = ""


def _text(value) -> str:
    """Text PostgreSQL can store: a NUL (possible in a URL's query) is refused by text and jsonb alike."""
    return str(value).replace("\x00", "")


def shown_record(*, visitor: str, shown: ShownList, account_id: int | None = None) -> Shown | None:
    """Log one list shown; returns the row (its id goes into the result links), or None when the log is off or
    the database refused the row: the shopper's page never fails because of the log.

    The row's id comes from the table's sequence. With RECOMMENDATIONS_LOG_BUFFER (the default) the row is queued
    in Redis and written by the next ``log_flush``; readers of the log flush first. Without it, or with Redis
    down, it is the same INSERT here."""
    if not settings.RECOMMENDATIONS_LOG:
        return None
    vector = shown.query_vector
    keep_vector = vector is not None and shown.vector_key and settings.RECOMMENDATIONS_VECTOR_RETENTION_DAYS > 0
    row = Shown(
        visitor=visitor[:32],
        account_id=account_id,
        kind=shown.kind,
        channel=shown.channel,
        model_key=shown.model_key,
        product_ids=[int(pid) for pid in shown.product_ids],
        top_similarity=None if shown.top_similarity is None else round(float(shown.top_similarity), 4),
        close_match=shown.close_match,
        filters={k: _text(v) for k, v in shown.filters.items() if v not in (None, "", ())},
        query_text=_text(shown.query_text)[:200],
        source_product_id=shown.source_product_id,
        query_vector=np.asarray(vector, dtype=np.float32).tolist() if keep_vector else None,
        vector_key=shown.vector_key if keep_vector else "",
    )
    try:
        row.id = shown_id_next()
        if settings.RECOMMENDATIONS_LOG_BUFFER and shown_buffer(row=row):
            return row
        shown_rows_insert(rows=[row])
    except DatabaseError:
        logger.exception("interaction log: a shown list was not recorded")
        return None
    return row


def _led_here_remember(session, *, product_id: int, shown_id: int) -> None:
    led = {k: v for k, v in session.get(LED_HERE_KEY, {}).items() if k != str(product_id)}
    led[str(product_id)] = shown_id
    session[LED_HERE_KEY] = dict(list(led.items())[-LED_HERE_KEPT:])


def action_record(*, visitor: str, shown_id: int, product_id: int, kind: str) -> Action | None:
    """Record what the shopper did with a product of a list they were shown. Ignored (None) when the list is not
    this visitor's or did not show the product: a link passed on to someone else proves nothing."""
    if not settings.RECOMMENDATIONS_LOG:
        return None
    lists = Shown.objects.filter(id=shown_id, visitor=visitor).only("id", "product_ids")
    shown = lists.first()
    if shown is None and shown_waiting_for(shown_id=shown_id) == visitor:  # this visitor's list, not written yet
        log_flush(wait=2.0)
        shown = lists.first()
    if shown is None or product_id not in shown.product_ids:
        return None
    action, _ = Action.objects.get_or_create(
        shown=shown, product_id=product_id, kind=kind,
        defaults={"rank": shown.product_ids.index(product_id) + 1},
    )
    return action


def result_opened(session, *, shown_id: int | str | None, product_id: int) -> Action | None:
    """A product page opened from a result link (``?shown=<id>``): log it and remember the list for the cart."""
    try:
        shown_id = int(shown_id) if shown_id else None
    except (TypeError, ValueError):
        return None
    if shown_id is None:
        return None
    action = action_record(visitor=visitor_id(session), shown_id=shown_id, product_id=product_id,
                           kind=ActionKind.OPEN)
    if action is not None:
        _led_here_remember(session, product_id=product_id, shown_id=shown_id)
    return action


def products_acted_on(session, *, product_ids: Iterable[int], kind: str) -> int:
    """Cart or purchase of products a list led to (those the session remembers); returns the actions logged."""
    led = session.get(LED_HERE_KEY, {})
    visitor = session.get(VISITOR_KEY)
    if not visitor:
        return 0
    logged = 0
    for product_id in product_ids:
        shown_id = led.get(str(product_id))
        if shown_id is not None and action_record(
            visitor=visitor, shown_id=shown_id, product_id=int(product_id), kind=kind
        ):
            logged += 1
    return logged


def signals_forget(*, visitor: str | None = None, account_id: int | None = None) -> int:
    """"Forget me": delete every logged list (and, with them, the actions) of this visitor id and this account.
    Returns the lists deleted. Raises ``FlushIncomplete`` (nothing deleted) when rows still waiting in the buffer
    cannot be written first: the shopper is told to try again, never told "forgotten" while rows remain."""
    log_flush(strict=True)  # rows still waiting in the buffer are deleted too; unable to, delete nothing yet
    return _signals_delete(visitor=visitor, account_id=account_id)


@transaction.atomic
def _signals_delete(*, visitor: str | None, account_id: int | None) -> int:
    deleted = 0
    if visitor:
        deleted += Shown.objects.filter(visitor=visitor).delete()[1].get("recommendations.Shown", 0)
    if account_id:
        deleted += Shown.objects.filter(account_id=account_id).delete()[1].get("recommendations.Shown", 0)
    return deleted


def signals_unlink(*, account_id: int) -> int:
    """The account's rows lose their link to it (the customer withdrew their agreement); returns rows unlinked.
    Raises ``FlushIncomplete`` (nothing changed) when rows still waiting cannot be written first."""
    log_flush(strict=True)
    return Shown.objects.filter(account_id=account_id).update(account=None)


def session_signals_forget(session, *, account_id: int | None = None) -> int:
    """Forget-me for a shop session: the log's rows, the view history and the id itself (a new one is made)."""
    deleted = signals_forget(visitor=session.get(VISITOR_KEY), account_id=account_id)
    for key in (VISITOR_KEY, LED_HERE_KEY, VIEWED_KEY):
        session.pop(key, None)
    return deleted


@dataclass(frozen=True)
class PurgeResult:
    vectors_cleared: int
    lists_deleted: int


def signals_purge(*, now=None) -> PurgeResult:
    """The retention rules: query vectors are cleared after RECOMMENDATIONS_VECTOR_RETENTION_DAYS, whole lists
    (and their actions) deleted after RECOMMENDATIONS_LOG_RETENTION_DAYS. Safe to run twice."""
    log_flush()
    now = now or timezone.now()
    vector_cutoff = now - timedelta(days=settings.RECOMMENDATIONS_VECTOR_RETENTION_DAYS)
    log_cutoff = now - timedelta(days=settings.RECOMMENDATIONS_LOG_RETENTION_DAYS)
    cleared = Shown.objects.filter(created_at__lt=vector_cutoff, query_vector__isnull=False).update(
        query_vector=None, vector_key=""
    )
    deleted = Shown.objects.filter(created_at__lt=log_cutoff).delete()[1].get("recommendations.Shown", 0)
    return PurgeResult(vectors_cleared=cleared, lists_deleted=deleted)


__all__ = [
    "ActionKind", "Channel", "FlushIncomplete", "ShownKind", "ShownList", "action_record", "log_flush",
    "product_view_record", "products_acted_on", "result_opened", "session_signals_forget", "shown_record",
    "signals_forget", "signals_purge", "signals_unlink", "visitor_id",
]
