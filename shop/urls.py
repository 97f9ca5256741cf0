from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

"""The project's URL tree: admin, the partner API under /api/v1/, language switching, the storefront."""

from .api import schema  # noqa: F401  (registers the API-key scheme with drf-spectacular)
from .api.views import not_found as api_not_found
from .backoffice import views as backoffice_views

api_v1 = [
    path("", include("shop.partners.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, so the docs work under the production CSP (no inline script).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),  # assets from the sidecar package
    path("", include(api_not_found)),  # last: JSON 404 for every other /api/v1/ path
]

urlpatterns = [
    path("admin/dashboard/", backoffice_views.dashboard, name="admin-dashboard"),
    path("admin/identify/", backoffice_views.identify, name="admin-identify"),
    path("admin/identify/deliveries/", admin.site.admin_view(backoffice_views.identify_jobs), {"kind": "delivery"},
         name="admin-identify-deliveries"),
    path("admin/identify/outside/", admin.site.admin_view(backoffice_views.identify_jobs), {"kind": "outside"},
         name="admin-identify-outside"),
    path("admin/identify/jobs/<int:job_id>/", admin.site.admin_view(backoffice_views.identify_job),
         name="admin-identify-job"),
    path("admin/identify/jobs/<int:job_id>/delete/", admin.site.admin_view(backoffice_views.identify_job_remove),
         name="admin-identify-job-delete"),
    path("admin/identify/photos/<int:photo_id>/", admin.site.admin_view(backoffice_views.identify_job_photo),
         name="admin-identify-photo"),
    path("admin/analytics/", admin.site.admin_view(backoffice_views.analytics), name="admin-analytics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("account/", include("shop.accounts.urls")),
    path("", include(("shop.storefront.urls", "shop"))),  # namespace "shop": templates say {% url 'shop:product' %}
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
