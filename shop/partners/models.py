"""Partner API tables: API keys, product ownership, webhook endpoints and their deliveries."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

__all__ = [
    "ApiKey",
    "ApiScope",
    "PartnerProduct",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEvent",
]


class ApiScope(models.TextChoices):
    READ = "read", _("read: catalogue, search, own webhooks")
    WRITE = "write", _("write: create, change and delete products, images and webhooks")


def _default_scopes() -> list[str]:
    return [ApiScope.READ.value]


class ApiKey(AbstractAPIKey):
    """A partner's key. Only a SHA-512 hash is stored (djangorestframework-api-key); the key is shown once."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("owner")
    )
    scopes = ArrayField(
        models.CharField(max_length=10, choices=ApiScope.choices), default=_default_scopes, verbose_name=_("scopes")
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "partner API key"
        verbose_name_plural = "partner API keys"

    def has_scope(self, scope: ApiScope) -> bool:
        return scope.value in self.scopes


class PartnerProduct(models.Model):
    """Which partner (user) created a product through the API: only they (or staff) may change it."""

    product = models.OneToOneField("catalog.Product", on_delete=models.CASCADE, related_name="partner")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_products")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.product_id} owned by {self.owner_id}"


class WebhookEvent(models.TextChoices):
    PRODUCT_CREATED = "product.created", "product.created"
    PRODUCT_UPDATED = "product.updated", "product.updated"
    IMAGE_EMBEDDING_READY = "image.embedding_ready", "image.embedding_ready"
    IMAGE_EMBEDDING_FAILED = "image.embedding_failed", "image.embedding_failed"
    ORDER_PLACED = "order.placed", "order.placed"


def webhook_secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = ArrayField(models.CharField(max_length=40, choices=WebhookEvent.choices))
    # Kept in clear: the shop must compute the HMAC with it for every delivery.
    secret = models.CharField(max_length=80, default=webhook_secret_new, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint: the work item (status, attempts) and its log."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    # The outbox event this delivery came from (kept after the event is purged): one delivery per endpoint.
    outbox_event_id = models.BigIntegerField(null=True, blank=True, editable=False)
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="partners_delivery_due")]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "outbox_event_id"], name="partners_delivery_once_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint_id}: {self.status}"
