from django.contrib import admin

from .models import Order, OrderLine, OrderMail


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ("product_name", "sku", "unit_price", "quantity", "line_total")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # lines are written by checkout only, together with the stock they took

    @admin.display(description="line total")
    def line_total(self, line: OrderLine):
        return line.line_total


class OrderMailInline(admin.TabularInline):
    """What the customer was sent (or is still owed, with the mail server's last answer)."""

    model = OrderMail
    extra = 0
    can_delete = False
    fields = ("kind", "status", "attempts", "sent_at", "error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "reference", "created_at", "full_name", "email", "customer", "total", "currency", "payment_method", "status"
    )
    list_filter = ("status", "payment_method", "created_at")
    search_fields = ("reference", "full_name", "email", "lines__product_name", "lines__sku")
    date_hierarchy = "created_at"
    inlines = [OrderLineInline, OrderMailInline]
    readonly_fields = ("reference", "created_at", "total", "currency", "payment_method", "language", "customer")
    list_select_related = ("customer",)
    fieldsets = (
        (None, {"fields": ("reference", "status", "created_at", "total", "currency", "payment_method", "language")}),
        ("Customer", {"fields": ("customer", "full_name", "email", "address", "postcode", "city", "country")}),
    )

    def has_add_permission(self, request) -> bool:
        return False  # an order without its stock taken would oversell; orders come from checkout
