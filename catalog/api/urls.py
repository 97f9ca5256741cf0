from django.urls import path

from shop.api.routing import operations_view

from . import views

urlpatterns = [
    path("categories", views.CategoryListApi.as_view(), name="category-list"),
    path("products", operations_view(get=views.ProductListApi, post=views.ProductCreateApi), name="product-list"),
    path("products/bulk", views.ProductBulkCreateApi.as_view(), name="product-bulk-create"),
    path(
        "products/<int:product_id>",
        operations_view(get=views.ProductDetailApi, patch=views.ProductUpdateApi, delete=views.ProductDeleteApi),
        name="product-detail",
    ),
    path("products/<int:product_id>/images", views.ProductImageAddApi.as_view(), name="product-image-add"),
    path(
        "products/<int:product_id>/images/<int:image_id>", views.ProductImageDeleteApi.as_view(), name="product-image-delete"
    ),
]
