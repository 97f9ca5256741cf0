"""Staff pages outside the model admin: the dashboard."""

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.template.response import TemplateResponse

from shop.stafftools.identify import goods_identify

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
