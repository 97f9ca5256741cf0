"""Cart in the session, checkout in one transaction, stock never oversold, orders in admin."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from catalog.models import Product
from catalog.tests.factories import ProductFactory
from shop.orders.errors import CheckoutRejected, ShopErrorCode
from shop.orders.models import Order, OrderLine
from shop.orders.services import CustomerData, order_place

CUSTOMER = {
    "full_name": "Ada Lovelace", "email": "ada@example.org", "address": "12 Analytical Row",
    "postcode": "10115", "city": "Berlin", "country": "Germany",
}


def _customer() -> CustomerData:
    return CustomerData(**CUSTOMER)


@pytest.mark.django_db
def test_cart_add_change_quantity_and_remove(client):
    # given two products
    mug = ProductFactory(name="Mug", price=Decimal("8.50"), stock_quantity=10)
    lamp = ProductFactory(name="Lamp", price=Decimal("40.00"), stock_quantity=2)

    # when the shopper adds both, then changes and removes lines
    assert client.post("/cart/add/", {"product": mug.id, "quantity": 2}).status_code == 302
    client.post("/cart/add/", {"product": lamp.id, "quantity": 1})
    client.post("/cart/add/", {"product": mug.id, "quantity": 1})
    page = client.get("/cart/")

    # then the cart shows today's prices and the sum
    assert [(line.product.name, line.quantity) for line in page.context["cart"].lines] == [("Lamp", 1), ("Mug", 3)]
    assert page.context["cart"].total == Decimal("65.50")
    assert page.context["cart_count"] == 4

    client.post("/cart/update/", {"product": mug.id, "quantity": 1})
    assert client.get("/cart/").context["cart"].total == Decimal("48.50")
    client.post("/cart/remove/", {"product": lamp.id})
    summary = client.get("/cart/").context["cart"]
    assert [(line.product.name, line.quantity) for line in summary.lines] == [("Mug", 1)]
    client.post("/cart/update/", {"product": mug.id, "quantity": 0})
    assert client.get("/cart/").context["cart"].lines == []


@pytest.mark.django_db
def test_cart_refuses_bad_quantities_and_unknown_products(client):
    mug = ProductFactory(stock_quantity=10)
    client.post("/cart/add/", {"product": mug.id, "quantity": 0})
    client.post("/cart/add/", {"product": mug.id, "quantity": "lots"})
    assert client.post("/cart/add/", {"product": 999999, "quantity": 1}).status_code == 404
    client.post("/cart/update/", {"product": mug.id, "quantity": -3})
    assert client.get("/cart/").context["cart"].lines == []


@pytest.mark.django_db
def test_out_of_stock_product_cannot_be_added(client):
    gone = ProductFactory(stock_quantity=0)
    response = client.post("/cart/add/", {"product": gone.id, "quantity": 1})
    assert response["Location"] == gone.get_absolute_url()
    assert client.get("/cart/").context["cart"].lines == []


@pytest.mark.django_db
def test_checkout_places_the_order_takes_the_stock_and_empties_the_cart(client):
    # given a cart with two lines
    mug = ProductFactory(name="Mug", sku="MUG-1", price=Decimal("8.50"), stock_quantity=10)
    lamp = ProductFactory(name="Lamp", sku="LAMP-1", price=Decimal("40.00"), stock_quantity=2)
    client.post("/cart/add/", {"product": mug.id, "quantity": 3})
    client.post("/cart/add/", {"product": lamp.id, "quantity": 2})

    # when the shopper checks out
    assert client.get("/checkout/").status_code == 200
    response = client.post("/checkout/", CUSTOMER)

    # then one order with its lines, the stock taken, the confirmation page, an empty cart
    order = Order.objects.get()
    assert response["Location"] == f"/order/{order.reference}/"
    assert (order.full_name, order.email, order.city, order.total, order.currency, order.payment_method) == (
        "Ada Lovelace", "ada@example.org", "Berlin", Decimal("105.50"), "EUR", "cod"
    )
    assert sorted(order.lines.values_list("sku", "product_name", "unit_price", "quantity")) == [
        ("LAMP-1", "Lamp", Decimal("40.00"), 2), ("MUG-1", "Mug", Decimal("8.50"), 3)
    ]
    assert Product.objects.get(id=mug.id).stock_quantity == 7
    assert Product.objects.get(id=lamp.id).stock_quantity == 0
    done = client.get(response["Location"])
    assert order.reference in done.content.decode() and "105.50" in done.content.decode()
    assert client.get("/cart/").context["cart"].lines == []


@pytest.mark.django_db
def test_checkout_with_missing_fields_writes_nothing(client):
    mug = ProductFactory(stock_quantity=10)
    client.post("/cart/add/", {"product": mug.id, "quantity": 1})

    response = client.post("/checkout/", {**CUSTOMER, "email": "not-an-email", "city": ""})

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"email", "city"}
    assert Order.objects.count() == 0 and OrderLine.objects.count() == 0
    assert Product.objects.get(id=mug.id).stock_quantity == 10


@pytest.mark.django_db
def test_checkout_short_of_stock_writes_nothing_and_lowers_the_cart(client):
    # given a cart whose second line wants more than is left (someone bought meanwhile)
    mug = ProductFactory(name="Mug", stock_quantity=10)
    lamp = ProductFactory(name="Lamp", stock_quantity=3)
    client.post("/cart/add/", {"product": mug.id, "quantity": 2})
    client.post("/cart/add/", {"product": lamp.id, "quantity": 3})
    Product.objects.filter(id=lamp.id).update(stock_quantity=1)

    # when the shopper checks out
    response = client.post("/checkout/", CUSTOMER)

    # then nothing was written, no stock taken, and the cart offers what is left
    assert response["Location"] == "/cart/"
    assert Order.objects.count() == 0 and OrderLine.objects.count() == 0
    assert Product.objects.get(id=mug.id).stock_quantity == 10
    assert Product.objects.get(id=lamp.id).stock_quantity == 1
    page = client.get("/cart/")
    assert "not enough stock left of: Lamp" in page.content.decode()
    assert {line.product.name: line.quantity for line in page.context["cart"].lines} == {"Mug": 2, "Lamp": 1}


@pytest.mark.django_db
def test_order_place_refuses_empty_and_unpublished():
    hidden = ProductFactory(name="Hidden", is_published=False, stock_quantity=5)
    with pytest.raises(CheckoutRejected) as empty:
        order_place(quantities={}, customer=_customer())
    with pytest.raises(CheckoutRejected) as unpublished:
        order_place(quantities={hidden.id: 1}, customer=_customer())
    assert empty.value.code == ShopErrorCode.CART_EMPTY
    assert (unpublished.value.code, unpublished.value.names) == (ShopErrorCode.PRODUCT_UNAVAILABLE, ["Hidden"])
    assert Order.objects.count() == 0
    assert Product.objects.get(id=hidden.id).stock_quantity == 5


@pytest.mark.django_db
def test_confirmation_page_is_only_for_the_session_that_ordered(client, django_user_model):
    mug = ProductFactory(stock_quantity=10)
    order = order_place(quantities={mug.id: 1}, customer=_customer())
    assert client.get(f"/order/{order.reference}/").status_code == 404


@pytest.mark.django_db
def test_orders_are_listed_in_admin_with_their_lines(admin_client):
    mug = ProductFactory(name="Mug", stock_quantity=10)
    order = order_place(quantities={mug.id: 2}, customer=_customer())

    listing = admin_client.get("/admin/orders/order/")
    detail = admin_client.get(f"/admin/orders/order/{order.id}/change/")

    assert listing.status_code == 200 and order.reference in listing.content.decode()
    assert detail.status_code == 200 and "Mug" in detail.content.decode()
    assert admin_client.get("/admin/orders/order/add/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_concurrent_checkouts_never_oversell():
    # given 3 left of a product, and 8 shoppers who each want 1 of it (and 1 of a plentiful one)
    scarce = ProductFactory(name="Last lamps", stock_quantity=3)
    plenty = ProductFactory(name="Mugs", stock_quantity=100)
    shoppers = 8
    start = threading.Barrier(shoppers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def shopper(n: int) -> None:
        try:
            start.wait()  # all transactions race for the same rows at once
            # Half order the lines one way round, half the other: the service must not deadlock.
            quantities = {scarce.id: 1, plenty.id: 1} if n % 2 else {plenty.id: 1, scarce.id: 1}
            order_place(quantities=quantities, customer=_customer())
            result = "ordered"
        except CheckoutRejected as rejected:
            result = rejected.code.value
        except Exception as error:  # noqa: BLE001 - a deadlock or other error must fail the test, not hang it
            result = f"error: {error!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    # when they check out at the same time, each in its own thread, connection and transaction
    threads = [threading.Thread(target=shopper, args=(n,)) for n in range(shoppers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then exactly 3 got the lamp, the others were told it was out of stock, and the stock adds up
    assert sorted(outcomes) == ["ordered"] * 3 + ["out_of_stock"] * 5
    assert Product.objects.get(id=scarce.id).stock_quantity == 0
    assert Product.objects.get(id=plenty.id).stock_quantity == 97
    assert Order.objects.count() == 3
    assert OrderLine.objects.filter(product=scarce).count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_order_confirmation_is_owed_with_the_order_and_sent_once_in_the_shoppers_language(mailoutbox, settings):
    from unittest import mock

    settings.SHOP_MAIL_SEND_ON_COMMIT = True
    from shop.orders.models import OrderMail
    from shop.orders.services import order_mail_send, order_mails_reconcile

    teapot = ProductFactory(name="Teapot", sku="TEA-1", price=Decimal("35.00"), stock_quantity=3)
    with mock.patch("celery.current_app.send_task") as send_task:
        order = order_place(quantities={teapot.id: 2}, customer=_customer(), language="zh-hans")
    mail = OrderMail.objects.get(order=order)
    # written with the order, handed to a worker once committed
    assert (mail.kind, mail.status, mail.attempts) == ("confirmation", "pending", 0)
    send_task.assert_called_once_with("shop.orders.tasks.order_mail_send_task", args=(mail.id,))

    # the mail server refuses: the mail stays owed, with the reason
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=ConnectionRefusedError("no SMTP")):
        assert order_mail_send(mail_id=mail.id) == "not sent"
    mail.refresh_from_db()
    assert (mail.status, mail.attempts, mail.error) == ("pending", 1, "no SMTP") and mailoutbox == []

    assert order_mail_send(mail_id=mail.id) == "sent"
    assert order_mail_send(mail_id=mail.id) == "nothing to send"  # a redelivered message sends nothing twice
    assert len(mailoutbox) == 1
    sent = mailoutbox[0]
    assert sent.to == ["ada@example.org"] and sent.from_email == settings.DEFAULT_FROM_EMAIL
    assert sent.subject == f"您的订单 {order.reference}"
    assert "2 × Teapot (TEA-1)   70.00 EUR" in sent.body and "总计: 70.00 EUR" in sent.body and "付款: 货到付款" in sent.body
    assert "Ada Lovelace\n12 Analytical Row\n10115 Berlin\nGermany" in sent.body
    mail.refresh_from_db()
    assert mail.status == "sent" and mail.sent_at is not None

    # nothing is owed any more: the reconciler hands nothing out
    with mock.patch("celery.current_app.send_task") as send_task:
        assert order_mails_reconcile(older_than_seconds=0) == 0
    send_task.assert_not_called()
