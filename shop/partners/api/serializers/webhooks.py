"""Webhook endpoints in the partner API: explicit input and output serializers."""

from __future__ import annotations

from rest_framework import serializers

from shop.api.pagination import PageInputSerializer, page_output_serializer

from ...models import WebhookEvent


class WebhookEndpointCreateInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text="https URL the shop POSTs events to")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), min_length=1, max_length=len(WebhookEvent)
    )


class WebhookEndpointOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices))
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class WebhookEndpointCreatedOutputSerializer(WebhookEndpointOutputSerializer):
    secret = serializers.CharField(help_text="signs every delivery (HMAC-SHA256); shown only in this answer")


class WebhookDeliveryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.UUIDField()
    event = serializers.ChoiceField(choices=WebhookEvent.choices)
    status = serializers.ChoiceField(choices=["pending", "delivered", "failed"])
    attempts = serializers.IntegerField()
    response_status = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    payload = serializers.DictField()


WebhookEndpointPageOutputSerializer = page_output_serializer("WebhookEndpoint", WebhookEndpointOutputSerializer)
WebhookDeliveryPageOutputSerializer = page_output_serializer("WebhookDelivery", WebhookDeliveryOutputSerializer)


class WebhookListInputSerializer(PageInputSerializer):
    pass
