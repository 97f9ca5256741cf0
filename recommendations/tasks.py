"""Thin Celery tasks: the interaction log's retention, and learning from clicks. Running one twice does no harm."""

from celery import shared_task


@shared_task
def signals_purge_task() -> dict[str, int]:
    from .services import signals_purge

    result = signals_purge()
    return {"vectors_cleared": result.vectors_cleared, "lists_deleted": result.lists_deleted}
