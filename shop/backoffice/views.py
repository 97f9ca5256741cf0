"""Staff pages outside the model admin: the dashboard, identify goods, analytics."""

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext

from recommendations.analytics import PERIODS, analytics_period, analytics_read
from shop.stafftools.identify import goods_identify

from .analytics import EXPORTS, days_from, export_csv, export_filename, ranks_chart, searches_chart
from .dashboard import LOW_STOCK, dashboard_read
from .forms import IdentifyForm


@staff_member_required
def dashboard(request):
    return TemplateResponse(
        request,
        "admin/backoffice/dashboard.html",
        {**admin.site.each_context(request), "title": "Dashboard", "board": dashboard_read(), "low_stock_limit": LOW_STOCK},
    )


@staff_member_required
def identify(request):
    """A photo of an item in hand (a return, a box without a label) -> the closest products with SKU, stock,
    price and their latest orders. The photo is not kept."""
    form = IdentifyForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        result = goods_identify(data=form.cleaned_data["photo"], limit=8)
    return TemplateResponse(
        request,
        "admin/backoffice/identify.html",
        {**admin.site.each_context(request), "title": "Identify goods from a photo", "form": form, "result": result},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def analytics(request):
    """What shoppers searched, opened, put in the cart and bought, from the interaction log (staff only: the URL
    wraps it in ``admin.site.admin_view``). ``?days=7|30|90``; ``?export=<table>`` answers that table as CSV."""
    days = days_from(request.GET.get("days"))
    table = request.GET.get("export")
    if table is not None:
        if table not in EXPORTS:
            message = gettext('There is no table "%(table)s" to export; the tables are: %(tables)s.') % {
                "table": table[:40], "tables": ", ".join(EXPORTS)}
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        period = analytics_period(days=days)
        response = HttpResponse(export_csv(table=table, period=period), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{export_filename(table=table, period=period)}"'
        return response
    board = analytics_read(days=days)
    return TemplateResponse(
        request,
        "admin/backoffice/analytics.html",
        {
            **admin.site.each_context(request), "title": gettext("Search analytics"), "board": board,
            "periods": PERIODS, "searches_chart": searches_chart(board.searches), "ranks_chart": ranks_chart(board.ranks),
        },
    )
