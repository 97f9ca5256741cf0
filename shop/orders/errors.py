"""Error codes of the storefront's cart and checkout; the pages show the message, the tests assert the code."""

from __future__ import annotations

import enum

from django.utils.translation import gettext_lazy as _


class ShopErrorCode(str, enum.Enum):
    CART_EMPTY = "cart_empty"
    OUT_OF_STOCK = "out_of_stock"
    PRODUCT_UNAVAILABLE = "product_unavailable"
    VARIANT_REQUIRED = "variant_required"


MESSAGES = {
    ShopErrorCode.CART_EMPTY: _("Your cart is empty."),
    ShopErrorCode.OUT_OF_STOCK: _("Sorry, not enough stock left of: %(names)s. Your cart was updated."),
    ShopErrorCode.PRODUCT_UNAVAILABLE: _("Sorry, this product is no longer sold: %(names)s."),
    ShopErrorCode.VARIANT_REQUIRED: _("Choose a colour or size of: %(names)s."),
}


class CheckoutRejected(Exception):
    """The order could not be placed; nothing was written. ``product_ids`` name the lines at fault."""

    def __init__(self, code: ShopErrorCode, *, product_ids: list[int] | None = None, names: list[str] | None = None):
        self.code = code
        self.product_ids = product_ids or []
        self.names = names or []
        super().__init__(code.value)

    @property
    def message(self) -> str:
        return str(MESSAGES[self.code]) % {"names": ", ".join(self.names)}
