from django.urls import path

from . import views

urlpatterns = [
    path("search/image", views.SearchByImageApi.as_view(), name="search-image"),
    path("products/<int:product_id>/similar", views.ProductSimilarApi.as_view(), name="product-similar"),
    path("images/<int:image_id>/near-duplicates", views.ImageNearDuplicatesApi.as_view(), name="image-near-duplicates"),
]
