"""Payment providers, the signed test-card callback, and the order status workflow with stock back on cancel."""

from decimal import Decimal
from unittest import mock

import pytest

from catalog.models import Product
from catalog.tests.factories import ProductFactory
from shop.orders.models import Order
from shop.orders.payments import signature_for_test_gateway
from shop.orders.services import CustomerData, OrderStatusRefused, order_place, order_status_set

pytestmark = pytest.mark.django_db

ADDRESS = {"full_name": "Ada Lovelace", "email": "ada@example.org", "address": "12 Analytical Row",
           "postcode": "10115", "city": "Berlin", "country": "Germany"}


@pytest.fixture(autouse=True)
def _no_broker():
    with mock.patch("celery.current_app.send_task"):
        yield


def _checkout(client, product, payment):
    client.post("/cart/add/", {"product": product.id, "quantity": 2})
    return client.post("/checkout/", {**ADDRESS, "payment": payment})


def test_the_test_card_pays_and_a_declined_card_changes_nothing(client):
    lamp = ProductFactory(name="Lamp", price=Decimal("40.00"), stock_quantity=5)
    response = _checkout(client, lamp, "testcard")
    order = Order.objects.get()
    assert response["Location"] == f"/pay/test/{order.reference}/"
    page = client.get(response["Location"]).content.decode()
    assert "TEST GATEWAY — no real card, no real money" in page and "Pay 80.00 EUR" in page

    assert client.post(response["Location"], {"number": "1234 5678"}).status_code == 400  # not a test card
    declined = client.post(response["Location"], {"number": "4000 0000 0000 0002"})
    order.refresh_from_db()
    assert declined["Location"] == response["Location"] and (order.status, order.paid_at) == ("placed", None)

    paid = client.post(response["Location"], {"number": "4242 4242 4242 4242"})
    order.refresh_from_db()
    assert paid["Location"] == f"/order/{order.reference}/"
    assert order.status == "paid" and order.paid_at is not None and order.payment_reference.startswith("test_")
    assert "Total, paid" in client.get(paid["Location"]).content.decode()


def test_the_callback_believes_only_a_signed_notice_of_the_exact_amount(client):
    lamp = ProductFactory(name="Lamp", price=Decimal("40.00"), stock_quantity=5)
    _checkout(client, lamp, "testcard")
    order = Order.objects.get()
    fields = {"reference": order.reference, "amount": "80.00", "currency": "EUR", "outcome": "approved",
              "payment_reference": "gw_1"}
    good = {**fields, "signature": signature_for_test_gateway(**fields)}

    forged = client.post("/pay/callback/testcard/", {**good, "signature": "0" * 64})
    cheaper = {**fields, "amount": "1.00"}
    underpaid = client.post("/pay/callback/testcard/", {**cheaper, "signature": signature_for_test_gateway(**cheaper)})
    assert forged.status_code == 400 and "signature" in forged.content.decode()
    assert underpaid.status_code == 400 and "not the order's" in underpaid.content.decode()
    assert client.post("/pay/callback/nobody/", good).status_code == 404
    order.refresh_from_db()
    assert order.paid_at is None

    assert client.post("/pay/callback/testcard/", good).content.decode() == f"ok {order.reference} paid"
    assert client.post("/pay/callback/testcard/", good).status_code == 200  # a repeated notice changes nothing
    order.refresh_from_db()
    assert (order.status, order.payment_reference) == ("paid", "gw_1")


def test_the_workflow_ships_paid_orders_delivers_and_cancelling_gives_the_stock_back():
    mug = ProductFactory(name="Mug", price=Decimal("8.50"), stock_quantity=5)
    customer = CustomerData(**ADDRESS)
    card = order_place(quantities={mug.id: 2}, customer=customer, payment_method="testcard")
    cod = order_place(quantities={mug.id: 1}, customer=customer)
    assert Product.objects.get(id=mug.id).stock_quantity == 2

    with pytest.raises(OrderStatusRefused, match="ships once it is paid"):
        order_status_set(order=card, status="shipped")
    with pytest.raises(OrderStatusRefused, match="not allowed after placed"):
        order_status_set(order=cod, status="delivered")

    cod = order_status_set(order=cod, status="shipped")
    cod = order_status_set(order=cod, status="delivered")
    assert cod.paid_at is not None  # pay on delivery: paid when delivered
    with pytest.raises(OrderStatusRefused):
        order_status_set(order=cod, status="cancelled")  # delivered: too late to cancel

    card = order_status_set(order=card, status="cancelled")
    assert card.status == "cancelled" and Product.objects.get(id=mug.id).stock_quantity == 4
    with pytest.raises(OrderStatusRefused):
        order_status_set(order=card, status="cancelled")  # twice would give the stock back twice


def test_staff_move_orders_in_bulk_and_are_told_which_could_not_move(admin_client):
    mug = ProductFactory(name="Mug", price=Decimal("8.50"), stock_quantity=5)
    customer = CustomerData(**ADDRESS)
    cod = order_place(quantities={mug.id: 1}, customer=customer)
    card = order_place(quantities={mug.id: 1}, customer=customer, payment_method="testcard")
    page = admin_client.post(
        "/admin/orders/order/", {"action": "mark_shipped", "_selected_action": [cod.id, card.id]}, follow=True
    ).content.decode()
    assert "1 order(s) shipped." in page and f"Not changed: {card.reference} (a card order ships once it is paid)" in page
    assert list(Order.objects.order_by("id").values_list("status", flat=True)) == ["shipped", "placed"]


def _paid_card_order(client, mug):
    _checkout(client, mug, "testcard")
    order = Order.objects.get()
    client.post(f"/pay/test/{order.reference}/", {"number": "4242 4242 4242 4242"})
    order.refresh_from_db()
    assert order.status == "paid" and order.payment_reference.startswith("test_")
    return order


class RefusingGateway:
    """A gateway plugin whose refunds are declined (as a real one's may be: the card closed, the gateway down)."""

    from shop.orders.payments import TestCardGateway as _Base

    key, label = _Base.key, _Base.label
    start, callback = _Base.start, _Base.callback

    def refund(self, order):
        from shop.orders.payments import RefundFailed

        raise RefundFailed("the card account is closed")


def test_cancelling_a_paid_card_order_refunds_it_once_through_its_gateway(client):
    from shop.outbox.models import Event

    mug = ProductFactory(name="Mug", price=Decimal("8.50"), stock_quantity=5)
    order = _paid_card_order(client, mug)

    order = order_status_set(order=order, status="cancelled")

    assert order.status == "cancelled" and order.refunded_at is not None
    assert order.refund_reference.startswith("test_refund_") and len(order.refund_reference) == 24
    assert Product.objects.get(id=mug.id).stock_quantity == 5
    event = Event.objects.filter(topic="order.status_changed").order_by("-id").first()
    assert event.payload == {"reference": order.reference, "from": "paid", "to": "cancelled", "refunded": "17.00"}


def test_a_refund_the_gateway_declines_leaves_the_order_paid_and_its_stock_taken(client, settings):
    mug = ProductFactory(name="Mug", price=Decimal("8.50"), stock_quantity=5)
    order = _paid_card_order(client, mug)
    settings.SHOP_PAYMENT_PROVIDERS = [
        "shop.orders.payments.CashOnDelivery", "shop.orders.tests.test_payments.RefusingGateway",
    ]

    with pytest.raises(OrderStatusRefused, match="the refund failed: the card account is closed"):
        order_status_set(order=order, status="cancelled")

    order.refresh_from_db()
    assert (order.status, order.refunded_at, order.refund_reference) == ("paid", None, "")
    assert Product.objects.get(id=mug.id).stock_quantity == 3


def test_an_unpaid_card_order_is_cancelled_without_a_refund(client):
    mug = ProductFactory(name="Mug", price=Decimal("8.50"), stock_quantity=5)
    _checkout(client, mug, "testcard")

    order = order_status_set(order=Order.objects.get(), status="cancelled")

    assert (order.status, order.refunded_at, order.refund_reference) == ("cancelled", None, "")
