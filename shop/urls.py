from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views
from .api.urls import not_found as api_not_found


storefront = [
    path("", views.home, name="home"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("p/<slug:slug>/", views.product, name="product"),
    path("search/", views.text_search, name="search"),
    path("search/photo/", views.photo_search, name="photo_search"),
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/update/", views.cart_update, name="cart_update"),
    path("cart/remove/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("order/<str:reference>/", views.order_done, name="order_done"),
]

api_v1 = [
    path("", include("visualsearch.api.urls")),
    path("", include("catalog.api.urls")),
    path("", include("shop.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, so the docs work under the production CSP (no inline script).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),  # assets from the sidecar package
    path("", include(api_not_found)),  # last: JSON 404 for every other /api/v1/ path
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include((storefront, "shop"))),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
