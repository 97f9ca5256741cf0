"""Webhook endpoints of the calling partner: register, list, see deliveries, delete."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from shop.api.errors import ERROR_RESPONSES, ApiError, ErrorCode
from shop.api.pagination import page

from ... import services
from ...auth import KeyRead, KeyWrite, owner_check
from ...models import WebhookEndpoint
from ...webhooks import WebhookUrlRefused
from ..serializers.webhooks import (
    WebhookDeliveryPageOutputSerializer,
    WebhookEndpointCreatedOutputSerializer,
    WebhookEndpointCreateInputSerializer,
    WebhookEndpointOutputSerializer,
    WebhookEndpointPageOutputSerializer,
    WebhookListInputSerializer,
)

TAG = "webhooks"
ERRORS = ERROR_RESPONSES


def _endpoint(request, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(id=endpoint_id).first()
    if endpoint is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such webhook endpoint.", http_status=404)
    owner_check(user=request.user, owner_id=endpoint.owner_id)
    return endpoint


def _page_params(request) -> dict:
    params = WebhookListInputSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


class WebhookEndpointListApi(APIView):
    """Your webhook endpoints (read scope)."""

    permission_classes = [KeyRead]

    @extend_schema(tags=[TAG], parameters=[WebhookListInputSerializer], responses={200: WebhookEndpointPageOutputSerializer, **ERRORS})
    def get(self, request):
        params = _page_params(request)
        endpoints = WebhookEndpoint.objects.filter(owner=request.user).order_by("id")
        result = page(request=request, queryset=endpoints, limit=params["limit"], offset=params["offset"])
        return Response(WebhookEndpointPageOutputSerializer(result).data)


class WebhookEndpointCreateApi(APIView):
    """Register a URL for some events (write scope). The answer holds the signing secret, shown only once."""

    permission_classes = [KeyWrite]
    parser_classes = [JSONParser]

    @extend_schema(
        tags=[TAG], request=WebhookEndpointCreateInputSerializer, responses={201: WebhookEndpointCreatedOutputSerializer, **ERRORS}
    )
    def post(self, request):
        params = WebhookEndpointCreateInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            endpoint = services.webhook_endpoint_create(owner=request.user, **params.validated_data)
        except WebhookUrlRefused as refused:
            raise ApiError(ErrorCode.INVALID, "The request has invalid fields.", details={"url": [str(refused)]}) from None
        return Response(WebhookEndpointCreatedOutputSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(APIView):
    """One of your webhook endpoints (read scope)."""

    permission_classes = [KeyRead]

    @extend_schema(tags=[TAG], responses={200: WebhookEndpointOutputSerializer, **ERRORS})
    def get(self, request, endpoint_id: int):
        return Response(WebhookEndpointOutputSerializer(_endpoint(request, endpoint_id)).data)


class WebhookEndpointDeleteApi(APIView):
    """Stop sending events to this endpoint and forget it (write scope)."""

    permission_classes = [KeyWrite]

    @extend_schema(tags=[TAG], request=None, responses={204: OpenApiResponse(description="deleted"), **ERRORS})
    def delete(self, request, endpoint_id: int):
        services.webhook_endpoint_delete(endpoint=_endpoint(request, endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListApi(APIView):
    """The deliveries to one of your endpoints, newest first: status, attempts, last answer (read scope)."""

    permission_classes = [KeyRead]

    @extend_schema(tags=[TAG], parameters=[WebhookListInputSerializer], responses={200: WebhookDeliveryPageOutputSerializer, **ERRORS})
    def get(self, request, endpoint_id: int):
        endpoint = _endpoint(request, endpoint_id)
        params = _page_params(request)
        deliveries = endpoint.deliveries.order_by("-created_at", "-id")
        result = page(request=request, queryset=deliveries, limit=params["limit"], offset=params["offset"])
        return Response(WebhookDeliveryPageOutputSerializer(result).data)
