"""Admin for the partner API: keys (shown once, stored hashed), webhook endpoints and the delivery log."""

from django import forms
from django.contrib import admin, messages
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from . import services, webhooks
from .models import ApiKey, ApiScope, WebhookDelivery, WebhookEndpoint, WebhookEvent

# The library registers its own key model; the shop uses ApiKey (with an owner and scopes) instead.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class ApiKeyForm(forms.ModelForm):
    scopes = forms.TypedMultipleChoiceField(
        choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple, initial=[ApiScope.READ.value]
    )

    class Meta:
        model = ApiKey
        fields = ["name", "owner", "scopes", "expiry_date", "revoked"]


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    """Creating a key shows it once in a message; only its SHA-512 hash is kept. Revoking cannot be undone."""

    form = ApiKeyForm
    list_display = ["prefix", "name", "owner", "scopes", "created", "last_used_at", "expiry_date", "_has_expired", "revoked"]
    list_filter = ["revoked", "created"]
    list_select_related = ["owner"]
    search_fields = ["name", "prefix", "owner__username", "owner__email"]
    autocomplete_fields = ["owner"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        count = services.api_keys_revoke(key_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, f"Revoked {count} key(s).")


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["event", "status", "attempts", "response_status", "last_error", "created_at", "delivered_at"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    show_change_link = True


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.TypedMultipleChoiceField(choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["owner", "url", "events", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "owner", "events", "is_active", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["owner"]
    search_fields = ["url", "owner__username"]
    autocomplete_fields = ["owner"]
    inlines = [DeliveryInline]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "response_status", "created_at", "delivered_at", "next_attempt_at"]
    list_filter = ["status", "event"]
    list_select_related = ["endpoint"]
    search_fields = ["endpoint__url", "event_id"]
    readonly_fields = [
        "endpoint", "event_id", "event", "payload", "status", "attempts", "response_status", "last_error",
        "next_attempt_at", "created_at", "delivered_at",
    ]
    actions = ["retry"]

    def has_add_permission(self, request) -> bool:
        return False  # deliveries are made by events only

    @admin.action(description="Send the selected deliveries again")
    def retry(self, request, queryset):
        count = webhooks.webhook_deliveries_retry(delivery_ids=list(queryset.values_list("id", flat=True)))
        messages.success(request, f"Queued {count} delivery(ies) again.")
