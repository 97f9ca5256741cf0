"""Thin Celery tasks: take ids, call one service. Running one twice does no harm."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def embeddings_compute_task(embedding_ids: list[int]) -> dict[str, int]:
    return services.embeddings_compute(embedding_ids=embedding_ids)


@shared_task
def embeddings_reconcile_task() -> dict[str, int]:
    return services.embeddings_reconcile()


@shared_task(acks_late=True)
def adapter_train_task(version_id: int) -> str:
    """Train a reserved adapter version (staff pressed the admin button), then start its backfill."""
    from .models import ModelVersionStatus
    from .training import adapter_version_train
    from .versions import model_version_backfill

    version = adapter_version_train(version_id=version_id)
    if version.status == ModelVersionStatus.AVAILABLE:
        model_version_backfill(key=version.key)
    return version.status
