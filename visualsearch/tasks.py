"""Thin Celery tasks: take ids, call one service. Running one twice does no harm."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def embeddings_compute_task(embedding_ids: list[int]) -> dict[str, int]:
    return services.embeddings_compute(embedding_ids=embedding_ids)


@shared_task
def embeddings_reconcile_task() -> dict[str, int]:
    return services.embeddings_reconcile()


@shared_task
def embeddings_concepts_fill_task() -> int:
    from .selectors import active_model_key

    return services.embeddings_concepts_fill(model_key=active_model_key())


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


@shared_task
def statistics_refresh_task() -> dict[str, int]:
    """Beat: the catalogue mean of every key in use, and this worker's pending query counts written."""
    from .services import model_keys_to_embed
    from .statistics import catalogue_statistics_refresh, query_statistics_flush

    counts = {key: catalogue_statistics_refresh(model_key=key) for key in model_keys_to_embed()}
    query_statistics_flush()
    return counts
