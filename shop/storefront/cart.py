"""The shopper's cart, kept in the session as ``{"<product id>": quantity}`` (no table: carts are many and brief).

Prices and stock are never stored here; they are read from the catalogue each time the cart is shown,
and checked again, under lock, when the order is placed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from catalog.models import Product, ProductImage

from .selectors import products_published

SESSION_KEY = "cart"
MAX_QUANTITY = 99  # per line; a shop for people, not for resellers


@dataclass(frozen=True)
class CartLine:
    product: Product
    image: ProductImage | None
    quantity: int

    @property
    def line_total(self) -> Decimal:
        return self.product.price * self.quantity

    @property
    def exceeds_stock(self) -> bool:
        return self.quantity > self.product.stock_quantity


@dataclass(frozen=True)
class CartSummary:
    lines: list[CartLine]
    total: Decimal
    currency: str
    count: int


def cart_quantities(session) -> dict[int, int]:
    raw = session.get(SESSION_KEY, {})
    return {int(pid): int(qty) for pid, qty in raw.items() if str(pid).isdigit() and int(qty) > 0}


def _store(session, quantities: dict[int, int]) -> None:
    session[SESSION_KEY] = {str(pid): qty for pid, qty in quantities.items() if qty > 0}


def cart_add(session, *, product_id: int, quantity: int = 1) -> int:
    """Adds to the line (capped at MAX_QUANTITY) and returns the line's new quantity."""
    quantities = cart_quantities(session)
    quantities[product_id] = min(MAX_QUANTITY, quantities.get(product_id, 0) + max(1, quantity))
    _store(session, quantities)
    return quantities[product_id]


def cart_set(session, *, product_id: int, quantity: int) -> None:
    """Sets a line's quantity; 0 removes the line."""
    quantities = cart_quantities(session)
    if quantity <= 0:
        quantities.pop(product_id, None)
    else:
        quantities[product_id] = min(MAX_QUANTITY, quantity)
    _store(session, quantities)


def cart_remove(session, *, product_id: int) -> None:
    cart_set(session, product_id=product_id, quantity=0)


def cart_clear(session) -> None:
    session.pop(SESSION_KEY, None)


def cart_summary(session) -> CartSummary:
    """The cart's lines with today's prices; products no longer published drop out of it."""
    quantities = cart_quantities(session)
    products = products_published().filter(id__in=quantities).order_by("name")
    lines = [
        CartLine(product=p, image=next(iter(p.images.all()), None), quantity=quantities[p.id]) for p in products
    ]
    if len(lines) != len(quantities):
        _store(session, {line.product.id: line.quantity for line in lines})
    total = sum((line.line_total for line in lines), Decimal("0.00"))
    currency = lines[0].product.currency if lines else "EUR"
    return CartSummary(lines=lines, total=total, currency=currency, count=sum(line.quantity for line in lines))
