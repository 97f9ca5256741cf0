"""Thin Celery tasks for partner webhooks: take ids, call one service. Running one twice does no harm."""

from celery import shared_task

from . import webhooks


@shared_task(acks_late=True)
def webhook_deliver_task(delivery_id: int) -> str | None:
    outcome = webhooks.webhook_delivery_attempt(delivery_id=delivery_id)
    if outcome is None:
        return None
    if outcome.retry_in is not None:
        # The row keeps next_attempt_at, so the reconciler re-sends it if this delayed message is lost.
        webhook_deliver_task.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task
def webhook_deliveries_reconcile_task() -> int:
    return webhooks.webhook_deliveries_reconcile()
