"""The event log in the admin: what was recorded, who handled it, and a retry for events that failed."""

from django.contrib import admin, messages

from . import services
from .models import Event, EventHandled


class EventHandledInline(admin.TabularInline):
    model = EventHandled
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["subscriber", "handled_at"]
    readonly_fields = fields


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "topic", "status", "attempts", "created_at", "dispatched_at"]
    list_filter = ["status", "topic"]
    readonly_fields = ["topic", "payload", "status", "attempts", "last_error", "created_at", "dispatched_at"]
    inlines = [EventHandledInline]
    actions = ["retry"]

    def has_add_permission(self, request) -> bool:
        return False  # events are written by the domains' services only

    @admin.action(description="Dispatch the selected failed events again")
    def retry(self, request, queryset):
        count = services.events_retry(event_ids=list(queryset.values_list("id", flat=True)))
        messages.success(request, f"Queued {count} event(s) again.")
