"""Staff pages outside the model admin: the dashboard, identify goods (one photo, or a batch job for a delivery or
outside listings), analytics."""

import base64

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from recommendations.analytics import PERIODS, analytics_period, analytics_read
from recommendations.services import log_flush
from shop.stafftools.errors import JobRejected
from shop.stafftools.identify import goods_identify
from shop.stafftools.models import IdentifyJob, IdentifyJobPhoto, JobKind
from shop.stafftools.selectors import EXPORTS as JOB_EXPORTS
from shop.stafftools.selectors import delivery_report, jobs_list, outside_report, report_csv
from shop.stafftools.services import identify_job_create, identify_job_delete
from visualsearch.explanations import explanation_jpegs, match_explain
from visualsearch.selectors import active_model_key, close_match_threshold

from .analytics import EXPORTS, days_from, export_csv, export_filename, ranks_chart, searches_chart
from .dashboard import LOW_STOCK, dashboard_read
from .forms import IdentifyForm, IdentifyJobForm


@staff_member_required
def dashboard(request):
    return TemplateResponse(
        request,
        "admin/backoffice/dashboard.html",
        {**admin.site.each_context(request), "title": "Dashboard", "board": dashboard_read(), "low_stock_limit": LOW_STOCK},
    )


def _heat_maps(*, data: bytes, image_id: int) -> tuple[str, str] | None:
    """Both pictures with where they look alike, as data: URIs (staff always see why a result came up)."""
    explained = match_explain(data=data, image_id=image_id)
    if explained is None:
        return None
    query_jpeg, match_jpeg = explanation_jpegs(explained, quality=75)
    return tuple("data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii") for jpeg in (query_jpeg, match_jpeg))


@staff_member_required
def identify(request):
    """A photo of an item in hand (a return, a box without a label) -> the closest products with SKU, stock,
    price and their latest orders. The photo is not kept."""
    form = IdentifyForm(request.POST or None, request.FILES or None)
    result, rows = None, []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["photo"]
        result = goods_identify(data=data, limit=8)
        rows = [(item, _heat_maps(data=data, image_id=item.match.image.id)) for item in result.results]
    return TemplateResponse(
        request,
        "admin/backoffice/identify.html",
        {**admin.site.each_context(request), "title": "Identify goods from a photo", "form": form, "result": result,
         "rows": rows, "threshold": close_match_threshold(result.model_key) if result else None},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def analytics(request):
    """What shoppers searched, opened, put in the cart and bought, from the interaction log (staff only: the URL
    wraps it in ``admin.site.admin_view``). ``?days=7|30|90``; ``?export=<table>`` answers that table as CSV."""
    days = days_from(request.GET.get("days"))
    table = request.GET.get("export")
    log_flush()  # the lists shown in the last seconds, still waiting in the log's buffer, count too
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


# --- batch identify jobs (staff only: the URLs wrap these in admin.site.admin_view) ----------------------------

JOB_PAGES = {
    JobKind.DELIVERY.value: ("Check a delivery from photos", "admin-identify-deliveries"),
    JobKind.OUTSIDE.value: ("Outside listings against the catalogue", "admin-identify-outside"),
}


def identify_jobs(request, *, kind: str):
    """A kind's jobs (newest first) and the form for a new one: photos or zips, and the CSV that comes with them.
    A job's page shows its progress, then its report."""
    form = IdentifyJobForm(request.POST or None, request.FILES or None, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            job = identify_job_create(
                kind=kind, photos=form.job_photos, title=form.cleaned_data["title"], expected=form.expected,
                listings=form.listings, created_by=request.user,
            )
        except JobRejected as error:
            form.add_error("listing", ValidationError(error.message, code=error.code.value))
        else:
            return redirect("admin-identify-job", job_id=job.id)
    title, _name = JOB_PAGES[kind]
    return TemplateResponse(
        request,
        "admin/backoffice/identify_jobs.html",
        {**admin.site.each_context(request), "title": title, "kind": kind, "form": form,
         "jobs": jobs_list(kind=kind)},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def identify_job(request, job_id: int):
    """One job: its progress while photos are left (the page reloads itself), then its report; ``?export=<table>``
    answers a table of the report as CSV."""
    job = get_object_or_404(IdentifyJob, id=job_id)
    table = request.GET.get("export")
    if table is not None:
        try:
            body = report_csv(job=job, table=table)
        except ValueError:
            return HttpResponseBadRequest(
                f"There is no table {table[:40]!r} to export; the tables are: {', '.join(JOB_EXPORTS[job.kind])}.",
                content_type="text/plain; charset=utf-8")
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{job.kind}-{job.id}-{table}.csv"'
        return response
    report = delivery_report(job=job) if job.kind == JobKind.DELIVERY else outside_report(job=job)
    title, list_name = JOB_PAGES[job.kind]
    model_key = job.photos.exclude(model_key="").values_list("model_key", flat=True).first() or active_model_key()
    return TemplateResponse(
        request,
        "admin/backoffice/identify_job.html",
        {**admin.site.each_context(request), "title": str(job), "job": job, "report": report,
         "progress": report.progress, "exports": JOB_EXPORTS[job.kind], "list_title": title, "list_url": list_name,
         "model_key": model_key, "threshold": close_match_threshold(model_key)},
    )


@require_POST
def identify_job_remove(request, job_id: int):
    job = get_object_or_404(IdentifyJob, id=job_id)
    kind, name = job.kind, str(job)
    identify_job_delete(job=job)
    messages.success(request, f"{name} and its photos were deleted.")
    return redirect(JOB_PAGES[kind][1])


def identify_job_photo(request, photo_id: int):
    """A job's stored photo (the intake's JPEG), for staff only: these are never served as public media."""
    photo = get_object_or_404(IdentifyJobPhoto.objects.exclude(file=""), id=photo_id)
    try:
        handle = photo.file.open("rb")
    except FileNotFoundError:
        raise Http404("the photo is gone") from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response
