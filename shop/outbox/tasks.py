"""Thin Celery tasks for the outbox: take ids, call one service. Running one twice does no harm."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def events_dispatch_task(event_ids: list[int]) -> dict[str, int]:
    outcome = services.events_dispatch(event_ids=event_ids)
    return {"dispatched": outcome.dispatched, "failed": outcome.failed, "skipped": outcome.skipped}


@shared_task
def events_reconcile_task() -> int:
    return services.events_reconcile()
