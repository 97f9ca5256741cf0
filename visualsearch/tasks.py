"""Thin Celery tasks: take ids, call one service. Running one twice does no harm."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def embeddings_compute_task(embedding_ids: list[int]) -> dict[str, int]:
    return services.embeddings_compute(embedding_ids=embedding_ids)


@shared_task
def embeddings_reconcile_task() -> dict[str, int]:
    return services.embeddings_reconcile()
