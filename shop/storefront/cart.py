"""The shopper's cart, kept in the session as ``{"<product id>": quantity, "<product id>:<variant id>": quantity}``
(no table: carts are many and brief). A product sold in variants has one line per chosen variant.

Prices and stock are never stored here; they are read from the catalogue each time the cart is shown,
and checked again, under lock, when the order is placed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from catalog.models import Product, ProductImage, ProductVariant

from .selectors import products_published

SESSION_KEY = "cart"
MAX_QUANTITY = 99  # per line; a shop for people, not for resellers


@dataclass(frozen=True)
class CartKey:
    product_id: int
    variant_id: int | None = None

    @property
    def text(self) -> str:
        """The line's key in the session and in the cart page's forms."""
        return str(self.product_id) if self.variant_id is None else f"{self.product_id}:{self.variant_id}"

    @classmethod
    def parse(cls, text: object) -> CartKey | None:
        product, _, variant = str(text).partition(":")
        if not product.isdigit() or (variant and not variant.isdigit()):
            return None
        return cls(int(product), int(variant) if variant else None)


@dataclass(frozen=True)
class CartLine:
    product: Product
    variant: ProductVariant | None
    image: ProductImage | None
    quantity: int

    @property
    def key(self) -> str:
        return CartKey(self.product.id, self.variant.id if self.variant else None).text

    @property
    def unit_price(self) -> Decimal:
        return self.variant.unit_price_of(self.product) if self.variant else self.product.price

    @property
    def stock_quantity(self) -> int:
        return self.variant.stock_quantity if self.variant else self.product.stock_quantity

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def exceeds_stock(self) -> bool:
        return self.quantity > self.stock_quantity


@dataclass(frozen=True)
class CartSummary:
    lines: list[CartLine]
    total: Decimal
    currency: str
    count: int


def cart_items(session) -> dict[CartKey, int]:
    raw = session.get(SESSION_KEY, {})
    items = {}
    for text, qty in raw.items():
        key = CartKey.parse(text)
        if key is not None and str(qty).isdigit() and int(qty) > 0:
            items[key] = int(qty)
    return items


def cart_quantities(session) -> dict[int, int]:
    """Quantities per product, all its variants together (the header's count, "2 already in your cart")."""
    totals: dict[int, int] = {}
    for key, qty in cart_items(session).items():
        totals[key.product_id] = totals.get(key.product_id, 0) + qty
    return totals


def _store(session, items: dict[CartKey, int]) -> None:
    session[SESSION_KEY] = {key.text: qty for key, qty in items.items() if qty > 0}


def cart_add(session, *, product_id: int, variant_id: int | None = None, quantity: int = 1) -> int:
    """Adds to the line (capped at MAX_QUANTITY) and returns the line's new quantity."""
    items, key = cart_items(session), CartKey(product_id, variant_id)
    items[key] = min(MAX_QUANTITY, items.get(key, 0) + max(1, quantity))
    _store(session, items)
    return items[key]


def cart_set(session, *, key: CartKey, quantity: int) -> None:
    """Sets a line's quantity; 0 removes the line."""
    items = cart_items(session)
    if quantity <= 0:
        items.pop(key, None)
    else:
        items[key] = min(MAX_QUANTITY, quantity)
    _store(session, items)


def cart_remove(session, *, key: CartKey) -> None:
    cart_set(session, key=key, quantity=0)


def cart_clear(session) -> None:
    session.pop(SESSION_KEY, None)


def cart_summary(session) -> CartSummary:
    """The cart's lines with today's prices; products no longer published, variants gone, and a product line
    without a variant for a product that is now sold in variants drop out of it."""
    items = cart_items(session)
    products = products_published().filter(id__in={key.product_id for key in items}).prefetch_related("variants")
    by_id = {product.id: product for product in products}
    lines = []
    for key, quantity in sorted(items.items(), key=lambda kv: (kv[0].product_id, kv[0].variant_id or 0)):
        product = by_id.get(key.product_id)
        if product is None:
            continue
        variants = {variant.id: variant for variant in product.variants.all()}
        if (key.variant_id is None) != (not variants) or (key.variant_id is not None and key.variant_id not in variants):
            continue
        variant = variants.get(key.variant_id) if key.variant_id is not None else None
        pictures = list(product.images.all())
        image = next((im for im in pictures if variant is not None and im.variant_id == variant.id), None)
        lines.append(CartLine(product=product, variant=variant, image=image or next(iter(pictures), None),
                              quantity=quantity))
    lines.sort(key=lambda line: (line.product.name, line.variant.position if line.variant else 0))
    if len(lines) != len(items):
        _store(session, {CartKey(line.product.id, line.variant.id if line.variant else None): line.quantity
                         for line in lines})
    total = sum((line.line_total for line in lines), Decimal("0.00"))
    currency = lines[0].product.currency if lines else "EUR"
    return CartSummary(lines=lines, total=total, currency=currency, count=sum(line.quantity for line in lines))
