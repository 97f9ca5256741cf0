"""The partner API's operations under /api/v1/: catalogue, search, similar items and bought together, webhook endpoints."""

from django.urls import path

from shop.api.routing import operations_view

from .views import catalog, search, stafftools, webhooks

urlpatterns = [
    # search by photo, similar items, near-duplicates
    path("search/image", search.SearchByImageApi.as_view(), name="search-image"),
    path("search", search.SearchByTextApi.as_view(), name="search-text"),
    path("search/explain", search.ExplainMatchApi.as_view(), name="search-explain"),
    path("search/actions", search.SearchActionApi.as_view(), name="search-actions"),
    # staff tools
    path("identify", stafftools.IdentifyApi.as_view(), name="identify"),
    path("identify/jobs", stafftools.IdentifyJobCreateApi.as_view(), name="identify-job-create"),
    path("identify/jobs/<int:job_id>", stafftools.IdentifyJobDetailApi.as_view(), name="identify-job-detail"),
    path("products/<int:product_id>/similar", search.ProductSimilarApi.as_view(), name="product-similar"),
    path(
        "products/<int:product_id>/bought-together", search.ProductBoughtTogetherApi.as_view(),
        name="product-bought-together",
    ),
    path("images/<int:image_id>/near-duplicates", search.ImageNearDuplicatesApi.as_view(), name="image-near-duplicates"),
    # catalogue
    path("categories", catalog.CategoryListApi.as_view(), name="category-list"),
    path("categories/suggest", search.CategorySuggestApi.as_view(), name="category-suggest"),
    path("products", operations_view(get=catalog.ProductListApi, post=catalog.ProductCreateApi), name="product-list"),
    path("products/bulk", catalog.ProductBulkCreateApi.as_view(), name="product-bulk-create"),
    path(
        "products/<int:product_id>",
        operations_view(get=catalog.ProductDetailApi, patch=catalog.ProductUpdateApi, delete=catalog.ProductDeleteApi),
        name="product-detail",
    ),
    path("products/<int:product_id>/images", catalog.ProductImageAddApi.as_view(), name="product-image-add"),
    path("products/<int:product_id>/variants", catalog.VariantCreateApi.as_view(), name="product-variant-create"),
    path(
        "products/<int:product_id>/variants/<int:variant_id>",
        operations_view(patch=catalog.VariantUpdateApi, delete=catalog.VariantDeleteApi),
        name="product-variant-detail",
    ),
    path(
        "products/<int:product_id>/images/<int:image_id>",
        catalog.ProductImageDeleteApi.as_view(),
        name="product-image-delete",
    ),
    # webhook endpoints
    path(
        "webhooks",
        operations_view(get=webhooks.WebhookEndpointListApi, post=webhooks.WebhookEndpointCreateApi),
        name="webhook-list",
    ),
    path(
        "webhooks/<int:endpoint_id>",
        operations_view(get=webhooks.WebhookEndpointDetailApi, delete=webhooks.WebhookEndpointDeleteApi),
        name="webhook-detail",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries", webhooks.WebhookDeliveryListApi.as_view(), name="webhook-deliveries"
    ),
]
