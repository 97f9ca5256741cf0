"""Model versions in the admin: train an adapter (a Celery task, with progress), backfill, switch, switch back."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext

from .models import ModelVersion, ModelVersionStatus
from .selectors import active_model_key
from .services import adapter_train_send
from .versions import VersionError, model_version_activate, model_version_backfill, model_version_coverage


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    change_list_template = "admin/visualsearch/modelversion/change_list.html"
    list_display = ["key", "is_active", "status", "training", "coverage", "recall", "training_images", "created_at"]
    readonly_fields = ["key", "is_active", "status", "base_key", "progress", "message", "metrics",
                       "training_images", "created_at", "activated_at", "coverage"]
    fields = readonly_fields
    actions = ["activate", "backfill"]

    def has_add_permission(self, request):
        return False  # versions come from the registry or from training, never typed in

    def get_urls(self):
        return [
            path("train/", self.admin_site.admin_view(self.train_view), name="visualsearch_modelversion_train"),
            *super().get_urls(),
        ]

    def train_view(self, request: HttpRequest):
        """POST: reserve a version and hand the training to a worker; the list shows its progress."""
        if request.method != "POST" or not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:visualsearch_modelversion_changelist"))
        from .training import adapter_version_start

        base = active_model_key()
        version = ModelVersion.objects.filter(key=base).first()
        if version is not None and version.base_key:
            base = version.base_key  # adapting an adapter: train again from its frozen base
        try:
            version = adapter_version_start(base_key=base)
        except VersionError as error:
            self.message_user(request, error.message, messages.ERROR)
        else:
            transaction.on_commit(lambda: adapter_train_send(version.id))
            self.message_user(request, f"training {version.key} on a worker; this page shows its progress")
        return HttpResponseRedirect(reverse("admin:visualsearch_modelversion_changelist"))

    @admin.display(description="Training")
    def training(self, obj: ModelVersion) -> str:
        if obj.status == ModelVersionStatus.TRAINING:
            return format_html('<progress max="1" value="{}"></progress> {}', obj.progress, obj.message)
        if obj.status == ModelVersionStatus.FAILED:
            return format_html('<span style="color:#cf222e">{}</span>', obj.message)
        return "-"

    @admin.display(description="Vectors")
    def coverage(self, obj: ModelVersion) -> str:
        if obj.status != ModelVersionStatus.AVAILABLE:
            return "-"
        c = model_version_coverage(key=obj.key)
        text = gettext("%(ready)s / %(images)s (%(pending)s pending, %(failed)s failed)") % {
            "ready": c.ready, "images": c.images, "pending": c.pending, "failed": c.failed}
        return format_html('<progress max="1" value="{}"></progress> {}', c.fraction, text)

    @admin.display(description="Held-out R@1")
    def recall(self, obj: ModelVersion) -> str:
        if "holdout_recall_at_1" not in obj.metrics:
            return "-"
        return f"{obj.metrics['holdout_recall_at_1']:.3f} (base {obj.metrics['holdout_recall_at_1_base']:.3f})"

    @admin.action(description="Switch search to the selected version (needs a complete backfill)")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "select exactly one version", messages.ERROR)
            return
        try:
            version = model_version_activate(key=queryset.get().key)
        except VersionError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(request, f"search now uses {version.key}")

    @admin.action(description="Backfill: embed every image for the selected versions")
    def backfill(self, request, queryset):
        for version in queryset:
            try:
                sent = model_version_backfill(key=version.key)
            except VersionError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                text = ngettext("%(key)s: %(count)s image queued", "%(key)s: %(count)s images queued", sent)
                self.message_user(request, text % {"key": version.key, "count": sent})
