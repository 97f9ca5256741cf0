from django.urls import path, re_path

from . import schema, views  # noqa: F401  (schema registers the API-key scheme with drf-spectacular)
from .routing import operations_view

urlpatterns = [
    path(
        "webhooks",
        operations_view(get=views.WebhookEndpointListApi, post=views.WebhookEndpointCreateApi),
        name="webhook-list",
    ),
    path(
        "webhooks/<int:endpoint_id>",
        operations_view(get=views.WebhookEndpointDetailApi, delete=views.WebhookEndpointDeleteApi),
        name="webhook-detail",
    ),
    path("webhooks/<int:endpoint_id>/deliveries", views.WebhookDeliveryListApi.as_view(), name="webhook-deliveries"),
]

# Included last under /api/v1/ (see shop/urls.py): whatever no other API path matched.
not_found = [re_path(r"^[\s\S]*$", views.api_not_found, name="api-not-found")]  # [\s\S]: paths may hold %0A
