"""Thin Celery tasks: take ids, call one service. Running one twice does no harm."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def identify_job_run_task(job_id: int) -> dict[str, int]:
    return services.identify_job_process(job_id=job_id)


@shared_task
def identify_jobs_reconcile_task() -> dict[str, int]:
    return services.identify_jobs_reconcile()
