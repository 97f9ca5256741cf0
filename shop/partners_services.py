"""Partner API writes: products with their owner, webhook endpoints, and webhook events and deliveries.

Catalogue writes go through ``catalog.services`` (the same services as admin); this module adds who owns the
product and which partners hear about it. Deliveries are rows first (the database is the source of truth),
sent by Celery after commit, signed with HMAC-SHA256 over ``"<timestamp>.<body>"``, retried with backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import Product, ProductImage
from catalog.services import ProductData, product_create, product_image_add, product_image_delete, product_update

from .models_partners import (
    ApiKey,
    PartnerProduct,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Shop-Signature"
EVENT_HEADER = "X-Shop-Event"
DELIVERY_HEADER = "X-Shop-Delivery"
USER_AGENT = "Lumen-Shop-Webhooks/1"


# --- products ------------------------------------------------------------------------------------------


def product_owner_id(product: Product) -> int | None:
    return PartnerProduct.objects.filter(product=product).values_list("owner_id", flat=True).first()


def product_payload(product: Product) -> dict:
    return {
        "id": product.id,
        "sku": product.sku,
        "name": product.name,
        "slug": product.slug,
        "price": str(product.price),
        "currency": product.currency,
        "stock_quantity": product.stock_quantity,
        "is_published": product.is_published,
        "category": product.category.slug,
        "updated_at": product.updated_at.isoformat(),
    }


@transaction.atomic
def partner_product_create(*, owner, data: ProductData) -> Product:
    product = product_create(data=data)
    PartnerProduct.objects.create(product=product, owner=owner)
    webhook_event_emit(event=WebhookEvent.PRODUCT_CREATED, payload=product_payload(product), owner_id=owner.id)
    return product


@transaction.atomic
def partner_products_bulk_create(*, owner, items: list[ProductData]) -> list[Product]:
    """All or nothing: one transaction, so a failing item leaves no product of the batch behind."""
    return [partner_product_create(owner=owner, data=data) for data in items]


@transaction.atomic
def partner_product_update(*, product: Product, fields: dict[str, object]) -> Product:
    product = product_update(product=product, **fields)
    webhook_event_emit(
        event=WebhookEvent.PRODUCT_UPDATED, payload=product_payload(product), owner_id=product_owner_id(product)
    )
    return product


@transaction.atomic
def partner_product_delete(*, product: Product) -> None:
    # Order lines keep their copied name and price (their product link is SET_NULL), images cascade.
    product.delete()


def partner_product_image_add(
    *, product: Product, data: bytes, alt_text: str = "", position: int | None = None
) -> tuple[ProductImage, bool]:
    """The admin's intake service: validation, re-encoding, and embedding after commit."""
    return product_image_add(product=product, data=data, alt_text=alt_text, position=position)


def partner_product_image_delete(*, image: ProductImage) -> None:
    product_image_delete(image=image)


# --- keys --------------------------------------------------------------------------------------------


def api_keys_revoke(*, key_ids: list[str]) -> int:
    """Revoke keys at once (for good: the library refuses to un-revoke)."""
    return ApiKey.objects.filter(pk__in=key_ids, revoked=False).update(revoked=True)


# --- webhook endpoints ---------------------------------------------------------------------------------


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


@transaction.atomic
def webhook_endpoint_create(*, owner, url: str, events: list[str]) -> WebhookEndpoint:
    webhook_url_check(url)
    return WebhookEndpoint.objects.create(owner=owner, url=url, events=sorted(set(events)))


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


# --- events and deliveries -----------------------------------------------------------------------------


def webhook_event_emit(*, event: WebhookEvent, payload: dict, owner_id: int | None) -> list[int]:
    """Record one delivery per subscribed endpoint and send them after commit.

    Who hears an event: endpoints of the product's owner, and endpoints of staff users (the shop's own back
    office hears everything). Products made in admin have no owner: only staff endpoints hear them.
    """
    audience = Q(owner__is_staff=True)
    if owner_id is not None:
        audience |= Q(owner_id=owner_id)
    endpoints = WebhookEndpoint.objects.filter(audience, is_active=True, owner__is_active=True, events__contains=[event.value])
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint=endpoint, event=event.value, payload=payload) for endpoint in endpoints]
    )
    ids = [delivery.id for delivery in deliveries]
    if ids:
        transaction.on_commit(lambda: _deliveries_send(ids))
    return ids


def _deliveries_send(delivery_ids: list[int], countdown: float | None = None) -> None:
    from .tasks import webhook_deliver_task

    for delivery_id in delivery_ids:
        webhook_deliver_task.apply_async((delivery_id,), countdown=countdown)


def webhook_embedding_outcomes_emit(*, embedding_ids: list[int]) -> list[int]:
    """Called by visualsearch once embeddings are stored: tell partners which images are ready or failed.

    Reads the rows again, so only rows that really ended ready or failed (for the active model key) are
    announced; a backfill of another model key stays silent.
    """
    from visualsearch.models import EmbeddingStatus, ImageEmbedding
    from visualsearch.selectors import active_model_key

    rows = ImageEmbedding.objects.filter(
        id__in=embedding_ids,
        model_key=active_model_key(),
        status__in=[EmbeddingStatus.READY, EmbeddingStatus.FAILED],
    ).values_list("image_id", "image__product_id", "image__product__partner__owner_id", "model_key", "status", "error")
    sent: list[int] = []
    with transaction.atomic():
        for image_id, product_id, owner_id, model_key, status, error in rows:
            ready = status == EmbeddingStatus.READY
            sent += webhook_event_emit(
                event=WebhookEvent.IMAGE_EMBEDDING_READY if ready else WebhookEvent.IMAGE_EMBEDDING_FAILED,
                payload={
                    "image_id": image_id,
                    "product_id": product_id,
                    "model_key": model_key,
                    "status": status,
                    "error": "" if ready else error,
                },
                owner_id=owner_id,
            )
    return sent


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
