"""Orders: what a shopper bought, with prices and names copied at checkout (the catalogue may change later)."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _


def order_reference_new() -> str:
    # Unguessable: the confirmation page is reachable by reference from the shopper's session only,
    # but a short random reference also keeps order counts private.
    return secrets.token_hex(5).upper()


class OrderStatus(models.TextChoices):
    PLACED = "placed", _("Placed")
    PAID = "paid", _("Paid")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")


class PaymentMethod(models.TextChoices):
    CASH_ON_DELIVERY = "cod", _("Pay on delivery")
    TEST_CARD = "testcard", _("Card (test gateway, no real money)")


class Order(models.Model):
    reference = models.CharField(_("reference"), max_length=16, unique=True, default=order_reference_new)
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.PLACED)
    payment_method = models.CharField(
        _("payment"), max_length=8, choices=PaymentMethod.choices, default=PaymentMethod.CASH_ON_DELIVERY
    )
    full_name = models.CharField(_("full name"), max_length=200)
    email = models.EmailField(_("email"))
    address = models.CharField(_("address"), max_length=300)
    postcode = models.CharField(_("postcode"), max_length=20)
    city = models.CharField(_("city"), max_length=120)
    country = models.CharField(_("country"), max_length=120)
    currency = models.CharField(_("currency"), max_length=3)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    language = models.CharField(max_length=16, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    payment_reference = models.CharField(_("payment reference"), max_length=64, blank=True)
    """The gateway's own id for the payment (none for pay on delivery)."""
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    refund_reference = models.CharField(_("refund reference"), max_length=64, blank=True)
    """The gateway's id for the refund of a paid order that was cancelled."""
    customer = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders",
        verbose_name=_("customer account"),
    )
    """The account the order was placed from; null for a guest checkout (or once the account is deleted)."""
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(total__gte=0), name="order_total_not_negative")]

    def __str__(self) -> str:
        return self.reference


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("catalog.Product", on_delete=models.SET_NULL, null=True, related_name="+")
    variant = models.ForeignKey("catalog.ProductVariant", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")
    sku = models.CharField(_("SKU"), max_length=64)
    """The variant's SKU when a variant was bought, the product's otherwise."""
    product_name = models.CharField(_("product"), max_length=200)
    variant_name = models.CharField(_("variant"), max_length=120, blank=True)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=models.Q(quantity__gt=0), name="orderline_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.item_name}"

    @property
    def item_name(self) -> str:
        """What was bought, as the customer chose it: "Heart Cushion, Blue"."""
        return f"{self.product_name}, {self.variant_name}" if self.variant_name else self.product_name

    @property
    def line_total(self):
        return self.unit_price * self.quantity


class MailStatus(models.TextChoices):
    PENDING = "pending", _("to send")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class OrderMail(models.Model):
    """A mail the shop owes a customer about an order: written with the order, sent after commit by a worker.

    The row, not the queue, says what is still owed: the reconciler sends again what a lost message left.
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="mails")
    kind = models.CharField(max_length=16, default="confirmation")
    status = models.CharField(max_length=8, choices=MailStatus.choices, default=MailStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "kind"], name="ordermail_one_per_kind")]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} for {self.order_id}: {self.status}"
