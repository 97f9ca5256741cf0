"""Payment providers behind one small interface, so a real gateway is a plugin (``SHOP_PAYMENT_PROVIDERS``).

A provider says how the shopper pays after the order is placed (``start``: the page to send them to, or None when
nothing is paid online) and checks what its gateway reports back (``callback``: a signed notification, verified
before anything changes). Two ship with the shop:

- ``cod`` — pay on delivery: nothing online; the order waits in "placed" until it is shipped.
- ``testcard`` — a clearly labelled *test* card gateway run by the shop itself (``/pay/test/<reference>/``): no
  real money. It signs its callback with HMAC-SHA256 over reference, amount, currency and outcome, with a key
  derived from SECRET_KEY, exactly as a real gateway signs with its webhook secret.

A paid order that is cancelled is refunded through its provider (``refund``) before anything changes: a refund
the gateway refuses leaves the order paid, its stock taken, and tells staff why.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from .models import Order, PaymentMethod


@dataclass(frozen=True)
class PaymentNotice:
    """What a gateway reports about one order's payment, once its signature is checked."""

    reference: str
    amount: Decimal
    currency: str
    paid: bool
    payment_reference: str


class PaymentRefused(Exception):
    """A callback that is not to be believed (bad signature, unknown order, wrong amount): nothing changes."""


class RefundFailed(Exception):
    """The gateway did not refund (declined, unreachable): the order stays as it was."""


class PaymentProvider(Protocol):
    key: str
    label: str

    def start(self, order: Order) -> str | None:
        """Where to send the shopper to pay, or None when nothing is paid online."""

    def callback(self, data: dict[str, str]) -> PaymentNotice:
        """Verify a gateway's notification; raises PaymentRefused when it is not genuine."""

    def refund(self, order: Order) -> str:
        """Give the whole payment of a paid order back; returns the gateway's refund reference. Raises
        RefundFailed. Called at most once per order (the order's row is locked and records the refund); a real
        gateway should pass ``order.reference`` as its idempotency key so a retried call never pays out twice."""


class CashOnDelivery:
    key = PaymentMethod.CASH_ON_DELIVERY.value
    label = PaymentMethod.CASH_ON_DELIVERY.label

    def start(self, order: Order) -> str | None:
        return None

    def callback(self, data: dict[str, str]) -> PaymentNotice:
        raise PaymentRefused("pay on delivery has no online callback")

    def refund(self, order: Order) -> str:
        # Paid only on delivery, and a delivered order cannot be cancelled: the courier's cash is a return's
        # business, not a gateway's.
        raise RefundFailed("pay on delivery is refunded by hand, with the returned goods")


TEST_CARD_APPROVED = "4242424242424242"
TEST_CARD_DECLINED = "4000000000000002"


def _test_gateway_key() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), b"lumen-test-card-gateway", hashlib.sha256).digest()


def signature_for_test_gateway(*, reference: str, amount: str, currency: str, outcome: str, payment_reference: str) -> str:
    message = "|".join([reference, amount, currency, outcome, payment_reference]).encode()
    return hmac.new(_test_gateway_key(), message, hashlib.sha256).hexdigest()


class TestCardGateway:
    key = PaymentMethod.TEST_CARD.value
    label = PaymentMethod.TEST_CARD.label

    def start(self, order: Order) -> str | None:
        return reverse("shop:pay_test", kwargs={"reference": order.reference})

    def callback(self, data: dict[str, str]) -> PaymentNotice:
        fields = ["reference", "amount", "currency", "outcome", "payment_reference"]
        if any(not data.get(name) for name in [*fields, "signature"]):
            raise PaymentRefused("the notification lacks fields")
        expected = signature_for_test_gateway(**{name: data[name] for name in fields})
        if not hmac.compare_digest(expected, data["signature"]):
            raise PaymentRefused("the signature does not match")
        try:
            amount = Decimal(data["amount"])
        except ArithmeticError:
            raise PaymentRefused("the amount is not a number") from None
        return PaymentNotice(
            reference=data["reference"], amount=amount, currency=data["currency"],
            paid=data["outcome"] == "approved", payment_reference=data["payment_reference"],
        )

    def refund(self, order: Order) -> str:
        """The test gateway refunds any payment it took (no real money moves)."""
        if not order.payment_reference.startswith("test_"):
            raise RefundFailed("the test gateway has no record of this payment")
        digest = hmac.new(_test_gateway_key(), f"refund|{order.reference}".encode(), hashlib.sha256).hexdigest()
        return f"test_refund_{digest[:12]}"


def payment_providers() -> dict[str, PaymentProvider]:
    """The providers this shop offers at checkout, by key, in the order of ``SHOP_PAYMENT_PROVIDERS``."""
    providers = [import_string(path)() for path in settings.SHOP_PAYMENT_PROVIDERS]
    return {provider.key: provider for provider in providers}
