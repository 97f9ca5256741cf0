"""Staff pages outside the model admin: the dashboard."""

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.template.response import TemplateResponse

from .dashboard import LOW_STOCK, dashboard_read


@staff_member_required
def dashboard(request):
    return TemplateResponse(
        request,
        "admin/backoffice/dashboard.html",
        {**admin.site.each_context(request), "title": "Dashboard", "board": dashboard_read(), "low_stock_limit": LOW_STOCK},
    )
