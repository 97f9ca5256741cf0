"""Record events with the change that caused them; dispatch each to its subscribers exactly once.

Delivery guarantee: ``event_record`` writes the event in the caller's transaction, so an event exists if and
only if the change committed. After commit one message asks a worker to dispatch it; if the broker is down the
event stays pending and the beat reconciler sends it later. Dispatching locks the event row, and for each
subscriber commits the subscriber's writes together with an ``EventHandled`` row: a worker killed mid-way
rolls back that subscriber's part, and a second dispatch skips the subscribers already done. So every
subscriber handles every event once, however often the message is delivered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import Event, EventHandled, EventStatus
from .subscribers import subscribers_for

logger = logging.getLogger(__name__)

# By name, so this module never imports its task module (no cycle; see tasks.py).
DISPATCH_TASK = "shop.outbox.tasks.events_dispatch_task"


def event_record(*, topic: str, payload: dict) -> Event:
    """Write one event in the current transaction; it is dispatched after commit (or by the reconciler)."""
    event = Event.objects.create(topic=topic, payload=payload)
    if settings.OUTBOX_SEND_ON_COMMIT:
        transaction.on_commit(lambda: events_enqueue(event_ids=[event.id]))
    return event


def events_record(*, events: list[tuple[str, dict]]) -> list[Event]:
    """Write several (topic, payload) events in the current transaction with one INSERT, and ask for their
    dispatch with one message after commit (a batch of 32 embeddings: 32 inserts and 32 messages before)."""
    if not events:
        return []
    rows = Event.objects.bulk_create([Event(topic=topic, payload=payload) for topic, payload in events])
    if settings.OUTBOX_SEND_ON_COMMIT:
        ids = [row.id for row in rows]
        transaction.on_commit(lambda: events_enqueue(event_ids=ids))
    return rows


def events_enqueue(*, event_ids: list[int]) -> None:
    """Ask a worker to dispatch these events. A broker outage is logged, not raised: the rows stay pending."""
    from kombu.exceptions import OperationalError as BrokerError

    if not event_ids:
        return
    try:
        current_app.send_task(DISPATCH_TASK, args=(event_ids,))
    except BrokerError as error:
        logger.warning("broker unreachable, %d event(s) left to the reconciler: %s", len(event_ids), error)


@dataclass(frozen=True)
class DispatchOutcome:
    dispatched: int
    failed: int
    skipped: int


def _event_dispatch(event_id: int) -> str:
    """Dispatch one event; returns what became of it: dispatched, failed, retry or skipped."""
    with transaction.atomic():
        # SKIP LOCKED: a second worker handed the same id leaves it to the one that holds it.
        event = Event.objects.select_for_update(skip_locked=True).filter(id=event_id, status=EventStatus.PENDING).first()
        if event is None:
            return "skipped"
        done = set(EventHandled.objects.filter(event=event).values_list("subscriber", flat=True))
        error = ""
        for subscriber in subscribers_for(event.topic):
            if subscriber.name in done:
                continue
            try:
                with transaction.atomic():  # a savepoint: a failing subscriber keeps the others' work
                    subscriber.handler(event)
                    EventHandled.objects.create(event=event, subscriber=subscriber.name)
            except Exception as exc:
                logger.exception("outbox: subscriber %s failed on event %s", subscriber.name, event.id)
                error = f"{subscriber.name}: {type(exc).__name__}: {exc}"[:2000]
        event.attempts += 1
        event.last_error = error
        if not error:
            event.status, event.dispatched_at = EventStatus.DISPATCHED, timezone.now()
        elif event.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            event.status = EventStatus.FAILED
        event.save(update_fields=["attempts", "last_error", "status", "dispatched_at"])
        return {EventStatus.DISPATCHED: "dispatched", EventStatus.FAILED: "failed"}.get(event.status, "retry")


def events_dispatch(*, event_ids: list[int]) -> DispatchOutcome:
    """Hand each pending event among ``event_ids`` to its subscribers. Safe to run twice, or in parallel."""
    outcomes = [_event_dispatch(event_id) for event_id in sorted(set(event_ids))]
    return DispatchOutcome(
        dispatched=outcomes.count("dispatched"), failed=outcomes.count("failed"), skipped=outcomes.count("skipped")
    )


def events_reconcile() -> int:
    """Beat: send again the events still pending after ``OUTBOX_RESEND_AFTER_SECONDS`` (a lost message, a dead
    worker, a broker that was down at commit), and purge dispatched events past ``OUTBOX_RETENTION_DAYS``."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.OUTBOX_RESEND_AFTER_SECONDS)
    ids = list(
        Event.objects.filter(status=EventStatus.PENDING, created_at__lt=stale).order_by("id").values_list("id", flat=True)[:5000]
    )
    for start in range(0, len(ids), 500):
        events_enqueue(event_ids=ids[start : start + 500])
    Event.objects.filter(
        status=EventStatus.DISPATCHED, dispatched_at__lt=now - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    ).delete()
    return len(ids)


def events_retry(*, event_ids: list[int]) -> int:
    """Staff action: give failed events their attempts back and dispatch them again."""
    count = Event.objects.filter(id__in=event_ids, status=EventStatus.FAILED).update(
        status=EventStatus.PENDING, attempts=0
    )
    transaction.on_commit(lambda: events_enqueue(event_ids=event_ids))
    return count
