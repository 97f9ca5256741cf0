from django.contrib import admin, messages

from .models import Order, OrderLine, OrderMail, OrderStatus
from .services import OrderStatusRefused, order_status_set


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ("product_name", "variant_name", "sku", "unit_price", "quantity", "line_total")
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
    readonly_fields = (
        "reference", "status", "created_at", "total", "currency", "payment_method", "paid_at", "payment_reference",
        "refunded_at", "refund_reference", "language", "customer",
    )
    actions = ["mark_shipped", "mark_delivered", "cancel"]
    list_select_related = ("customer",)
    fieldsets = (
        (None, {"fields": ("reference", "status", "created_at", "total", "currency", "payment_method", "paid_at",
                           "payment_reference", "refunded_at", "refund_reference", "language")}),
        ("Customer", {"fields": ("customer", "full_name", "email", "address", "postcode", "city", "country")}),
    )

    def has_add_permission(self, request) -> bool:
        return False  # an order without its stock taken would oversell; orders come from checkout

    def _move(self, request, queryset, status: str, done: str) -> None:
        """The workflow decides (services.TRANSITIONS): orders that may not move are named, the others move."""
        moved, refused = 0, []
        for order in queryset.order_by("id"):
            try:
                order_status_set(order=order, status=status)
                moved += 1
            except OrderStatusRefused as error:
                refused.append(f"{order.reference} ({error.reason})")
        if moved:
            self.message_user(request, done % {"n": moved}, messages.SUCCESS)
        if refused:
            self.message_user(request, "Not changed: " + ", ".join(refused), messages.WARNING)

    @admin.action(description="Mark as shipped")
    def mark_shipped(self, request, queryset):
        self._move(request, queryset, OrderStatus.SHIPPED, "%(n)s order(s) shipped.")

    @admin.action(description="Mark as delivered")
    def mark_delivered(self, request, queryset):
        self._move(request, queryset, OrderStatus.DELIVERED, "%(n)s order(s) delivered.")

    @admin.action(description="Cancel (the stock goes back, a paid order is refunded)")
    def cancel(self, request, queryset):
        self._move(request, queryset, OrderStatus.CANCELLED,
                   "%(n)s order(s) cancelled; their stock is back and paid ones are refunded.")
