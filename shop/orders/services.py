"""Order writes with side effects: placing an order (stock taken, lines written, ``order.placed`` recorded)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from catalog.models import Product
from shop.outbox.services import event_record

from .errors import CheckoutRejected, ShopErrorCode
from .models import Order, OrderLine, PaymentMethod


@dataclass(frozen=True)
class CustomerData:
    full_name: str
    email: str
    address: str
    postcode: str
    city: str
    country: str


def order_place(*, quantities: dict[int, int], customer: CustomerData, language: str = "") -> Order:
    """Write the order and its lines and take the stock, all in one transaction, or nothing at all.

    Stock is taken with one conditional UPDATE per product (``stock = stock - n WHERE stock >= n``). Postgres
    locks the row for the update and, under READ COMMITTED, re-checks the WHERE clause against the latest
    committed stock once a concurrent checkout holding the lock commits, so two shoppers can never both take
    the last item. Rows are updated in id order so two carts sharing products cannot deadlock.

    Raises CheckoutRejected (CART_EMPTY, PRODUCT_UNAVAILABLE, OUT_OF_STOCK) with nothing written.
    """
    wanted = {pid: qty for pid, qty in quantities.items() if qty > 0}
    if not wanted:
        raise CheckoutRejected(ShopErrorCode.CART_EMPTY)
    with transaction.atomic():
        products = Product.objects.in_bulk(list(wanted))
        unavailable = [pid for pid in wanted if pid not in products or not products[pid].is_published]
        if unavailable:
            raise CheckoutRejected(
                ShopErrorCode.PRODUCT_UNAVAILABLE,
                product_ids=unavailable,
                names=[products[pid].name for pid in unavailable if pid in products],
            )
        short: list[int] = []
        for pid in sorted(wanted):
            taken = Product.objects.filter(id=pid, is_published=True, stock_quantity__gte=wanted[pid]).update(
                stock_quantity=F("stock_quantity") - wanted[pid]
            )
            if not taken:
                short.append(pid)
        if short:
            # Raising rolls back the stock already taken for the other lines.
            raise CheckoutRejected(
                ShopErrorCode.OUT_OF_STOCK, product_ids=short, names=[products[pid].name for pid in short]
            )
        # Prices are the ones in the database at the moment the stock was taken, never the session's.
        currencies = {products[pid].currency for pid in wanted}
        total = sum((products[pid].price * qty for pid, qty in wanted.items()), Decimal("0.00"))
        order = Order.objects.create(
            full_name=customer.full_name,
            email=customer.email,
            address=customer.address,
            postcode=customer.postcode,
            city=customer.city,
            country=customer.country,
            currency=sorted(currencies)[0],
            total=total,
            language=language,
            payment_method=PaymentMethod.CASH_ON_DELIVERY,
        )
        OrderLine.objects.bulk_create(
            [
                OrderLine(
                    order=order,
                    product=products[pid],
                    sku=products[pid].sku,
                    product_name=products[pid].name,
                    unit_price=products[pid].price,
                    quantity=qty,
                )
                for pid, qty in sorted(wanted.items())
            ]
        )
        event_record(topic="order.placed", payload=order_payload(order))
    return order


def order_payload(order: Order) -> dict:
    """What the ``order.placed`` event carries: enough for a back office, no address."""
    return {
        "reference": order.reference,
        "total": str(order.total),
        "currency": order.currency,
        "language": order.language,
        "lines": [
            {"sku": line.sku, "product_id": line.product_id, "quantity": line.quantity, "unit_price": str(line.unit_price)}
            for line in order.lines.all()
        ],
    }
