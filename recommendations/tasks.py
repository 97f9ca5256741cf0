"""Thin Celery tasks: the interaction log's flush and retention, and learning from clicks. Running one twice does no harm."""

from celery import shared_task


@shared_task
def signals_purge_task() -> dict[str, int]:
    from .services import signals_purge

    result = signals_purge()
    return {"vectors_cleared": result.vectors_cleared, "lists_deleted": result.lists_deleted}


@shared_task
def signals_flush_task() -> int:
    """The interaction log's buffered rows into PostgreSQL (beat every RECOMMENDATIONS_LOG_FLUSH_SECONDS)."""
    from .services import log_flush

    return log_flush()


@shared_task(acks_late=True)
def clicks_retrain_task(force: bool = False) -> str:
    """Beat runs it every RECOMMENDATIONS_RETRAIN_HOURS; it does nothing unless RECOMMENDATIONS_RETRAIN is on
    (the admin's "retrain now" sends force=True)."""
    from .learning import clicks_retrain

    run = clicks_retrain(force=force)
    return f"{run.status}: {run.message}"
