"""Webhooks: the outbox's events become one delivery row per subscribed endpoint; deliveries are POSTed by
Celery, signed with HMAC-SHA256 over ``"<timestamp>.<body>"``, retried with backoff, and logged.

Deliveries are rows first (the database is the source of truth). ``webhook_deliveries_for_event`` is the outbox
subscriber: it runs in the dispatcher's transaction, so an event makes its deliveries exactly once; the unique
(endpoint, outbox event) constraint holds that in the database too. Each delivery carries the same ``id`` for
every retry, so a receiver can drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from shop.outbox.models import Event

from .models import PartnerProduct, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Shop-Signature"
EVENT_HEADER = "X-Shop-Event"
DELIVERY_HEADER = "X-Shop-Delivery"
USER_AGENT = "Lumen-Shop-Webhooks/1"
# By name, so this module never imports tasks.py (which imports it).
DELIVER_TASK = "shop.partners.tasks.webhook_deliver_task"
WEBHOOK_TOPICS = [event.value for event in WebhookEvent]
# Webhook ids are derived from the outbox event, so one event has one id at every endpoint and every retry.
EVENT_ID_NAMESPACE = uuid.UUID("5b0b4e52-6a57-4a43-9d0c-4f6b1de1b7a1")


class WebhookUrlRefused(ValueError):
    """A URL the shop will not call; the message says why."""


def webhook_url_check(url: str) -> None:
    """Refuse URLs that would make the shop call itself or its private network (SSRF).

    ``SHOP_WEBHOOK_ALLOW_PRIVATE_URLS`` lets development and tests use loopback receivers.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlRefused("Use an http or https URL with a host name.")
    if settings.SHOP_WEBHOOK_ALLOW_PRIVATE_URLS:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookUrlRefused(f"The host name does not resolve ({error}).") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise WebhookUrlRefused("The URL points to a private, loopback or reserved address.")


# --- events into deliveries ----------------------------------------------------------------------------


def _product_owner_id(payload: dict, topic: str) -> int | None:
    product_id = payload.get("id") if topic.startswith("product.") else payload.get("product_id")
    if product_id is None:
        return None
    return PartnerProduct.objects.filter(product_id=product_id).values_list("owner_id", flat=True).first()


def webhook_deliveries_for_event(event: Event) -> list[int]:
    """Outbox subscriber: one delivery per active endpoint that listens to this topic and may hear it.

    Who hears an event: endpoints of the product's owner, and endpoints of staff users (the shop's own back
    office hears everything). Products made in admin have no owner: only staff endpoints hear them. Orders are
    heard by staff endpoints only.
    """
    audience = Q(owner__is_staff=True)
    owner_id = None if event.topic.startswith("order.") else _product_owner_id(event.payload, event.topic)
    if owner_id is not None:
        audience |= Q(owner_id=owner_id)
    endpoints = WebhookEndpoint.objects.filter(audience, is_active=True, owner__is_active=True, events__contains=[event.topic])
    event_id = uuid.uuid5(EVENT_ID_NAMESPACE, str(event.id))
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint, event=event.topic, payload=event.payload, event_id=event_id, outbox_event_id=event.id
            )
            for endpoint in endpoints
        ]
    )
    ids = [delivery.id for delivery in deliveries]
    if ids:
        transaction.on_commit(lambda: _deliveries_send(ids))
    return ids


def _deliveries_send(delivery_ids: list[int], countdown: float | None = None) -> None:
    """One message per delivery. A broker outage leaves them pending: the reconciler sends them later."""
    from kombu.exceptions import OperationalError as BrokerError

    for delivery_id in delivery_ids:
        try:
            current_app.send_task(DELIVER_TASK, args=(delivery_id,), countdown=countdown)
        except BrokerError as error:
            logger.warning("broker unreachable, webhook deliveries left to the reconciler: %s", error)
            return


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``b"<timestamp>." + body`` with the endpoint's secret (the timestamp stops replays)."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str
    attempts: int
    retry_in: float | None
    """Seconds until the next try; None when delivered or given up."""


def _backoff(attempts: int) -> float:
    return min(settings.SHOP_WEBHOOK_BACKOFF_SECONDS * 2 ** (attempts - 1), settings.SHOP_WEBHOOK_BACKOFF_MAX_SECONDS)


def webhook_delivery_attempt(*, delivery_id: int) -> DeliveryOutcome | None:
    """POST one pending delivery once. None if it is not pending (already delivered, failed or gone).

    The row stays locked during the call (SKIP LOCKED): a redelivered message cannot send it twice at once.
    """
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(id=delivery_id, status=WebhookDeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:
            return None
        endpoint = delivery.endpoint
        body = json.dumps(
            {
                "id": str(delivery.event_id),
                "event": delivery.event,
                "created_at": delivery.created_at.isoformat(),
                "data": delivery.payload,
            },
            separators=(",", ":"),
        ).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: str(delivery.event_id),
            SIGNATURE_HEADER: f"t={timestamp},v1={webhook_signature(secret=endpoint.secret, timestamp=timestamp, body=body)}",
        }
        delivery.attempts += 1
        error, response_status = "", None
        if not endpoint.is_active:
            error = "the endpoint was disabled"
        else:
            try:
                # Checked again at each attempt: the host may resolve elsewhere than at registration. (A DNS
                # server that answers differently within milliseconds is not stopped by this; egress
                # filtering at the network is the complete answer.)
                webhook_url_check(endpoint.url)
                # No redirects: a partner's server must not bounce the shop's request to another host.
                response = requests.post(
                    endpoint.url,
                    data=body,
                    headers=headers,
                    timeout=settings.SHOP_WEBHOOK_TIMEOUT_SECONDS,
                    allow_redirects=False,
                )
                response_status = response.status_code
                if not 200 <= response.status_code < 300:
                    error = f"HTTP {response.status_code}: {response.text[:300]}"
            except WebhookUrlRefused as refused:
                error = f"not sent: {refused}"
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
        now = timezone.now()
        delivery.response_status = response_status
        delivery.last_error = error
        retry_in = None
        if not error:
            delivery.status = WebhookDeliveryStatus.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif delivery.attempts >= settings.SHOP_WEBHOOK_MAX_ATTEMPTS or not endpoint.is_active:
            delivery.status = WebhookDeliveryStatus.FAILED
            delivery.next_attempt_at = None
        else:
            retry_in = _backoff(delivery.attempts)
            delivery.next_attempt_at = now + timedelta(seconds=retry_in)
        delivery.save(
            update_fields=["attempts", "status", "response_status", "last_error", "next_attempt_at", "delivered_at"]
        )
    if error:
        logger.info("webhook %s to %s: attempt %s failed: %s", delivery.id, endpoint.url, delivery.attempts, error)
    return DeliveryOutcome(status=delivery.status, attempts=delivery.attempts, retry_in=retry_in)


def webhook_deliveries_reconcile() -> int:
    """Re-send pending deliveries whose retry time passed long ago (a lost message or a dead worker)."""
    overdue = timezone.now() - timedelta(seconds=settings.SHOP_WEBHOOK_RESEND_AFTER_SECONDS)
    ids = list(
        WebhookDelivery.objects.filter(status=WebhookDeliveryStatus.PENDING)
        .filter(Q(next_attempt_at__lt=overdue) | Q(next_attempt_at__isnull=True, created_at__lt=overdue))
        .values_list("id", flat=True)[:1000]
    )
    _deliveries_send(ids)
    return len(ids)


def webhook_deliveries_retry(*, delivery_ids: list[int]) -> int:
    """Staff action: try failed deliveries again, attempts starting over."""
    count = WebhookDelivery.objects.filter(id__in=delivery_ids).exclude(status=WebhookDeliveryStatus.DELIVERED).update(
        status=WebhookDeliveryStatus.PENDING, attempts=0, next_attempt_at=None
    )
    transaction.on_commit(lambda: _deliveries_send(delivery_ids))
    return count
