"""Order writes with side effects: placing an order (stock taken, lines written, ``order.placed`` recorded)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F

from catalog.changes import products_changed
from catalog.models import Product, ProductVariant
from catalog.services import product_stock_sync
from shop.outbox.services import event_record

from .errors import CheckoutRejected, ShopErrorCode
from .models import MailStatus, Order, OrderLine, OrderMail, OrderStatus, PaymentMethod

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CustomerData:
    full_name: str
    email: str
    address: str
    postcode: str
    city: str
    country: str


def order_place(
    *,
    quantities: dict[int, int] | None = None,
    variant_quantities: dict[int, int] | None = None,
    customer: CustomerData,
    language: str = "",
    account_id: int | None = None,
    payment_method: str = PaymentMethod.CASH_ON_DELIVERY,
) -> Order:
    """Write the order and its lines and take the stock, all in one transaction, or nothing at all.

    ``quantities`` are products sold as one thing (product id -> quantity), ``variant_quantities`` the chosen
    variants of products that have them (variant id -> quantity).

    Stock is taken with one conditional UPDATE per product or variant (``stock = stock - n WHERE stock >= n``).
    Postgres locks the row for the update and, under READ COMMITTED, re-checks the WHERE clause against the
    latest committed stock once a concurrent checkout holding the lock commits, so two shoppers can never both
    take the last item. Rows are updated in id order (products, then variants) so two carts sharing products
    cannot deadlock; a product's total stock is then recomputed from its variants.

    Raises CheckoutRejected (CART_EMPTY, PRODUCT_UNAVAILABLE, VARIANT_REQUIRED, OUT_OF_STOCK) with nothing written.
    """
    wanted = {pid: qty for pid, qty in (quantities or {}).items() if qty > 0}
    wanted_variants = {vid: qty for vid, qty in (variant_quantities or {}).items() if qty > 0}
    if not wanted and not wanted_variants:
        raise CheckoutRejected(ShopErrorCode.CART_EMPTY)
    with transaction.atomic():
        variants = ProductVariant.objects.in_bulk(list(wanted_variants))
        products = Product.objects.in_bulk(list(wanted) + [v.product_id for v in variants.values()])
        unavailable = [pid for pid in wanted if pid not in products or not products[pid].is_published]
        unavailable += [
            variants[vid].product_id if vid in variants else vid
            for vid in wanted_variants
            if vid not in variants or not products[variants[vid].product_id].is_published
        ]
        if unavailable:
            raise CheckoutRejected(
                ShopErrorCode.PRODUCT_UNAVAILABLE,
                product_ids=unavailable,
                names=[products[pid].name for pid in unavailable if pid in products],
            )
        with_variants = set(
            ProductVariant.objects.filter(product_id__in=list(wanted)).values_list("product_id", flat=True)
        )
        if with_variants:
            raise CheckoutRejected(
                ShopErrorCode.VARIANT_REQUIRED, product_ids=sorted(with_variants),
                names=[products[pid].name for pid in sorted(with_variants)],
            )
        short: list[int] = []
        for pid in sorted(wanted):
            taken = Product.objects.filter(id=pid, is_published=True, stock_quantity__gte=wanted[pid]).update(
                stock_quantity=F("stock_quantity") - wanted[pid]
            )
            if not taken:
                short.append(pid)
        for vid in sorted(wanted_variants):
            taken = ProductVariant.objects.filter(id=vid, stock_quantity__gte=wanted_variants[vid]).update(
                stock_quantity=F("stock_quantity") - wanted_variants[vid]
            )
            if not taken:
                short.append(variants[vid].product_id)
        products_changed(product_ids=[*wanted, *(v.product_id for v in variants.values())])
        if short:
            # Raising rolls back the stock already taken for the other lines.
            raise CheckoutRejected(
                ShopErrorCode.OUT_OF_STOCK, product_ids=short,
                names=[products[pid].name for pid in dict.fromkeys(short)],
            )
        for pid in sorted({v.product_id for v in variants.values()}):
            product_stock_sync(product_id=pid)
        # Prices are the ones in the database at the moment the stock was taken, never the session's.
        lines = [
            OrderLine(product=products[pid], sku=products[pid].sku, product_name=products[pid].name,
                      unit_price=products[pid].price, quantity=qty)
            for pid, qty in sorted(wanted.items())
        ] + [
            OrderLine(
                product=products[variants[vid].product_id], variant=variants[vid], sku=variants[vid].sku,
                product_name=products[variants[vid].product_id].name, variant_name=variants[vid].name,
                unit_price=variants[vid].unit_price_of(products[variants[vid].product_id]), quantity=qty,
            )
            for vid, qty in sorted(wanted_variants.items())
        ]
        currencies = {line.product.currency for line in lines}
        order = Order.objects.create(
            full_name=customer.full_name,
            email=customer.email,
            address=customer.address,
            postcode=customer.postcode,
            city=customer.city,
            country=customer.country,
            currency=sorted(currencies)[0],
            total=sum((line.unit_price * line.quantity for line in lines), Decimal("0.00")),
            language=language,
            customer_id=account_id,
            payment_method=payment_method,
        )
        for line in lines:
            line.order = order
        OrderLine.objects.bulk_create(lines)
        event_record(topic="order.placed", payload=order_payload(order))
        # The confirmation the page promises: owed from the moment the order exists, sent once it is committed.
        mail = OrderMail.objects.create(order=order, kind="confirmation")
        if settings.SHOP_MAIL_SEND_ON_COMMIT:
            transaction.on_commit(lambda: _mail_send_soon(mail.id))
    return order


def order_payload(order: Order) -> dict:
    """What the ``order.placed`` event carries: enough for a back office, no address."""
    return {
        "reference": order.reference,
        "total": str(order.total),
        "currency": order.currency,
        "language": order.language,
        "lines": [
            {"sku": line.sku, "product_id": line.product_id, "variant_id": line.variant_id, "quantity": line.quantity,
             "unit_price": str(line.unit_price)}
            for line in order.lines.all()
        ],
    }


ORDER_MAIL_TASK = "shop.orders.tasks.order_mail_send_task"
MAIL_MAX_ATTEMPTS = 5


def _mail_send_soon(mail_id: int) -> None:
    """Hand the mail to a worker; with the broker down the reconciler sends it later, the order stands."""
    from celery import current_app
    from kombu.exceptions import OperationalError as BrokerError

    try:
        current_app.send_task(ORDER_MAIL_TASK, args=(mail_id,))
    except BrokerError as error:
        logger.warning("broker unreachable, order mail %s left to the reconciler: %s", mail_id, error)


def order_mail_send(*, mail_id: int) -> str:
    """Send one owed mail, in the language the customer shopped in; safe to run twice (a sent mail stays sent).

    The row is locked while sending, so two workers handed the same id never send it twice.
    """
    from django.core.mail import EmailMessage
    from django.template.loader import render_to_string
    from django.utils import timezone, translation

    with transaction.atomic():
        mail = (
            OrderMail.objects.select_for_update(skip_locked=True)
            .select_related("order")
            .filter(id=mail_id, status=MailStatus.PENDING)
            .first()
        )
        if mail is None:
            return "nothing to send"
        order = mail.order
        OrderMail.objects.filter(id=mail.id).update(attempts=F("attempts") + 1)
        with translation.override(order.language or settings.LANGUAGE_CODE):
            lines = [
                {"quantity": line.quantity, "name": line.item_name, "sku": line.sku, "total": line.line_total}
                for line in order.lines.all()
            ]
            subject = translation.gettext("Your order %(reference)s") % {"reference": order.reference}
            body = render_to_string(
                "orders/mail/confirmation.txt",
                {"order": order, "lines": lines, "payment": order.get_payment_method_display()},
            )
        try:
            EmailMessage(subject=subject, body=body, to=[order.email]).send()
        except Exception as error:  # SMTP refused or unreachable: kept, tried again by the reconciler
            status = MailStatus.FAILED if mail.attempts + 1 >= MAIL_MAX_ATTEMPTS else MailStatus.PENDING
            OrderMail.objects.filter(id=mail.id).update(status=status, error=str(error)[:2000])
            logger.warning("order mail %s not sent (attempt %s): %s", mail.id, mail.attempts + 1, error)
            return "not sent"
        OrderMail.objects.filter(id=mail.id).update(status=MailStatus.SENT, sent_at=timezone.now(), error="")
    return "sent"


def order_mails_reconcile(*, older_than_seconds: int = 120) -> int:
    """Beat: hand again to the workers every mail still owed after ``older_than_seconds``."""
    from datetime import timedelta

    from django.utils import timezone

    owed = list(
        OrderMail.objects.filter(
            status=MailStatus.PENDING, created_at__lt=timezone.now() - timedelta(seconds=older_than_seconds)
        ).values_list("id", flat=True)
    )
    for mail_id in owed:
        _mail_send_soon(mail_id)
    return len(owed)


def orders_anonymise(*, customer_id: int) -> int:
    """A customer deleted their account: their orders keep what was bought and paid, not who and where."""
    return Order.objects.filter(customer_id=customer_id).update(
        customer=None, full_name="(deleted)", email="deleted@invalid", address="", postcode="", city="", country=""
    )


# --- payment and the status workflow ----------------------------------------------------------------------------

TRANSITIONS: dict[str, set[str]] = {
    OrderStatus.PLACED: {OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.CANCELLED},
    OrderStatus.PAID: {OrderStatus.SHIPPED, OrderStatus.CANCELLED},
    OrderStatus.SHIPPED: {OrderStatus.DELIVERED},
    OrderStatus.DELIVERED: set(),
    OrderStatus.CANCELLED: set(),
}
"""new (placed) -> paid -> shipped -> delivered, or cancelled before it ships. A card order ships only once paid;
pay on delivery ships unpaid and counts as paid when delivered."""


class OrderStatusRefused(Exception):
    def __init__(self, order: Order, status: str, reason: str):
        self.order, self.status, self.reason = order, status, reason
        super().__init__(f"order {order.reference}: {order.status} -> {status} refused: {reason}")


def order_status_set(*, order: Order, status: str) -> Order:
    """Move an order along the workflow; cancelling gives its stock back. One transaction, the row locked."""
    from django.utils import timezone

    with transaction.atomic():
        order = Order.objects.select_for_update().get(id=order.id)
        if status not in TRANSITIONS.get(order.status, set()):
            raise OrderStatusRefused(order, status, f"not allowed after {order.status}")
        if (status == OrderStatus.SHIPPED and order.payment_method != PaymentMethod.CASH_ON_DELIVERY
                and order.paid_at is None):
            raise OrderStatusRefused(order, status, "a card order ships once it is paid")
        changes = {"status": status}
        if status == OrderStatus.CANCELLED and order.paid_at is not None and order.refunded_at is None:
            changes.update(_refund(order))
        if status == OrderStatus.CANCELLED:
            with_variants, restocked = set(), set()
            for line in order.lines.exclude(product=None).order_by("product_id", "variant_id"):
                restocked.add(line.product_id)
                if line.variant_id is not None:
                    ProductVariant.objects.filter(id=line.variant_id).update(
                        stock_quantity=F("stock_quantity") + line.quantity
                    )
                    with_variants.add(line.product_id)
                elif not ProductVariant.objects.filter(product_id=line.product_id).exists():
                    # A variant deleted since (SET NULL) or variants added later: the stock has no row to go back to.
                    Product.objects.filter(id=line.product_id).update(stock_quantity=F("stock_quantity") + line.quantity)
            for product_id in sorted(with_variants):
                product_stock_sync(product_id=product_id)  # marks them changed too
            products_changed(product_ids=restocked - with_variants)
        if status == OrderStatus.DELIVERED and order.paid_at is None:
            changes["paid_at"] = timezone.now()  # pay on delivery: the courier took the money
        Order.objects.filter(id=order.id).update(**changes)
        event_record(topic="order.status_changed", payload={
            "reference": order.reference, "from": order.status, "to": status,
            **({"refunded": str(order.total)} if "refunded_at" in changes else {}),
        })
        order.refresh_from_db()
    return order


def _refund(order: Order) -> dict:
    """Refund a paid order through its provider, before the cancellation is written (the row is locked, so
    this runs once per order). Raises OrderStatusRefused when the gateway does not refund: nothing changes."""
    from django.utils import timezone

    from .payments import RefundFailed, payment_providers

    provider = payment_providers().get(order.payment_method)
    if provider is None:
        raise OrderStatusRefused(order, OrderStatus.CANCELLED, f"no payment provider {order.payment_method} to refund")
    try:
        reference = provider.refund(order)
    except RefundFailed as error:
        raise OrderStatusRefused(order, OrderStatus.CANCELLED, f"the refund failed: {error}") from None
    logger.info("order %s refunded: %s %s (%s)", order.reference, order.total, order.currency, reference)
    return {"refunded_at": timezone.now(), "refund_reference": reference[:64]}


def order_payment_record(*, notice) -> Order:
    """A verified gateway notice (``payments.PaymentNotice``): a payment of the order's exact amount marks it
    paid; a declined one leaves it placed. Repeated notices change nothing. Raises PaymentRefused otherwise."""
    from django.utils import timezone

    from .payments import PaymentRefused

    with transaction.atomic():
        order = Order.objects.select_for_update().filter(reference=notice.reference).first()
        if order is None:
            raise PaymentRefused("no such order")
        if (notice.amount, notice.currency) != (order.total, order.currency):
            raise PaymentRefused(f"the amount {notice.amount} {notice.currency} is not the order's")
        if not notice.paid or order.paid_at is not None:
            return order
        if order.status != OrderStatus.PLACED:
            raise PaymentRefused(f"the order is {order.status}")
        Order.objects.filter(id=order.id).update(
            status=OrderStatus.PAID, paid_at=timezone.now(), payment_reference=notice.payment_reference
        )
        event_record(topic="order.status_changed", payload={"reference": order.reference, "from": order.status, "to": "paid"})
        order.refresh_from_db()
    return order
