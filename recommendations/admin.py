"""Learning from clicks in the admin: every retrain with its figures, "retrain now", and "switch back"."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from visualsearch.versions import VersionError

from .learning import retrain_switch_back
from .models import Retrain, RetrainStatus


@admin.register(Retrain)
class RetrainAdmin(admin.ModelAdmin):
    change_list_template = "admin/recommendations/retrain/change_list.html"
    list_display = ["started_at", "status", "held_out", "pairs", "previous_key", "version_key", "message"]
    list_filter = ["status"]
    readonly_fields = ["status", "base_key", "previous_key", "version_key", "pairs", "figures", "message",
                       "started_at", "finished_at"]
    fields = readonly_fields
    actions = ["switch_back"]

    def has_add_permission(self, request):
        return False  # runs come from the schedule or the "retrain now" button

    def get_urls(self):
        return [
            path("run/", self.admin_site.admin_view(self.run_view), name="recommendations_retrain_run"),
            *super().get_urls(),
        ]

    def run_view(self, request: HttpRequest):
        """POST: a retrain on a worker now, whatever the schedule says; the list shows its outcome."""
        if request.method == "POST" and self.has_change_permission(request):
            from .tasks import clicks_retrain_task

            transaction.on_commit(lambda: clicks_retrain_task.delay(force=True))
            self.message_user(request, "a retrain from the shoppers' clicks runs on a worker; reload to see it")
        return HttpResponseRedirect(reverse("admin:recommendations_retrain_changelist"))

    @admin.display(description="Held-out Recall@1: active → new")
    def held_out(self, obj: Retrain) -> str:
        active, candidate = obj.figures.get("active", {}), obj.figures.get("candidate", {})
        if "held_out_recall_at_1" not in candidate:
            return "-"
        colour = "#1a7f37" if obj.status == RetrainStatus.SWITCHED else "#57606a"
        return format_html('<span style="color:{}">{:.3f} → {:.3f}</span>', colour,
                           active.get("held_out_recall_at_1", 0.0), candidate["held_out_recall_at_1"])

    @admin.action(description="Switch back to the version that was active before the selected run")
    def switch_back(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "select exactly one run", messages.ERROR)
            return
        try:
            version = retrain_switch_back(retrain_id=queryset.get().id)
        except VersionError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(request, f"search now uses {version.key} again")
