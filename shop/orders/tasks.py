"""Thin Celery tasks: take ids, call one service. Running one twice does no harm."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def order_mail_send_task(mail_id: int) -> str:
    return services.order_mail_send(mail_id=mail_id)


@shared_task
def order_mails_reconcile_task() -> int:
    return services.order_mails_reconcile()
