"""Customer accounts: sign-up, log-in with a lockout, password reset by mail, orders and addresses, deletion."""

import re
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.auth.models import User

from catalog.tests.factories import ProductFactory
from shop.accounts.models import Address
from shop.orders.models import Order

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-pass-phrase-42"
ADDRESS = {"full_name": "Ada Lovelace", "address": "12 Analytical Row", "postcode": "10115", "city": "Berlin",
           "country": "Germany"}


def _sign_up(client, email="Ada@Example.org", password=PASSWORD):
    return client.post("/account/sign-up/", {"email": email, "password": password})


def test_sign_up_logs_in_and_refuses_a_taken_email_or_a_weak_password(client):
    response = _sign_up(client)
    assert response.status_code == 302 and response["Location"] == "/account/"
    user = User.objects.get()
    assert (user.username, user.email, user.is_staff) == ("ada@example.org", "ada@example.org", False)
    assert "ada@example.org" in client.get("/account/").content.decode()

    client.post("/account/logout/")
    taken = _sign_up(client, email="ada@example.org")
    weak = _sign_up(client, email="bob@example.org", password="12345678")
    assert taken.status_code == 400 and "An account with this email exists already" in taken.content.decode()
    assert weak.status_code == 400 and User.objects.count() == 1


def test_login_by_email_in_any_case_and_a_lockout_after_five_wrong_passwords(client):
    User.objects.create_user(username="ada@example.org", email="ada@example.org", password=PASSWORD)
    ok = client.post("/account/login/", {"username": "ADA@example.org", "password": PASSWORD})
    assert ok.status_code == 302 and ok["Location"] == "/account/"
    client.post("/account/logout/")

    for _ in range(5):
        wrong = client.post("/account/login/", {"username": "ada@example.org", "password": "guess"})
    assert wrong.status_code in (200, 429)
    # locked: even the right password is refused now, with a page that says why
    locked = client.post("/account/login/", {"username": "ada@example.org", "password": PASSWORD})
    assert locked.status_code == 429 and "Too many attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_admin_login_is_locked_out_too(client):
    User.objects.create_superuser("boss", "boss@example.org", PASSWORD)
    for _ in range(5):
        client.post("/admin/login/", {"username": "boss", "password": "guess"})
    locked = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": PASSWORD})
    assert locked.status_code == 429 and "_auth_user_id" not in client.session


def test_password_reset_by_mail_sets_a_new_password(client, mailoutbox):
    User.objects.create_user(username="ada@example.org", email="ada@example.org", password=PASSWORD)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert client.post("/account/password-reset/", {"email": "ada@example.org"}).status_code == 302
    assert client.post("/account/password-reset/", {"email": "nobody@example.org"}).status_code == 302  # no tell
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["ada@example.org"] and mail.subject == "为您的 Lumen 账户设置新密码"
    link = re.search(r"http://testserver(/account/password-reset/\S+/)", mail.body).group(1)

    form = client.get(link, follow=True)
    new_password = "another-long-pass-phrase-7"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password})
    assert done.status_code == 302 and done["Location"] == "/account/password-reset/done/"
    assert User.objects.get().check_password(new_password)


def test_checkout_with_an_account_fills_the_form_saves_the_address_and_shows_the_order(client):
    mug = ProductFactory(name="Mug", price=Decimal("8.50"), stock_quantity=5)
    _sign_up(client)
    client.post("/cart/add/", {"product": mug.id, "quantity": 2})
    assert client.get("/checkout/").context["form"]["email"].value() == "ada@example.org"
    with mock.patch("celery.current_app.send_task"):
        response = client.post("/checkout/", {**ADDRESS, "email": "ada@example.org", "save_address": "on"})
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.customer.username == "ada@example.org"
    assert Address.objects.get().lines() == ["Ada Lovelace", "12 Analytical Row", "10115 Berlin", "Germany"]

    # the next checkout starts from the saved address; the account lists the order
    client.post("/cart/add/", {"product": mug.id, "quantity": 1})
    assert client.get("/checkout/").context["form"]["city"].value() == "Berlin"
    page = client.get("/account/").content.decode()
    assert order.reference in page and "2 × Mug" in page and "17.00 EUR" in page


def test_deleting_the_account_removes_the_customers_data_and_keeps_the_orders_anonymous(client):
    mug = ProductFactory(name="Mug", price=Decimal("8.50"), stock_quantity=5)
    _sign_up(client)
    user = User.objects.get()
    Address.objects.create(customer=user, **ADDRESS)
    client.post("/cart/add/", {"product": mug.id, "quantity": 1})
    with mock.patch("celery.current_app.send_task"):
        client.post("/checkout/", {**ADDRESS, "email": "ada@example.org"})

    refused = client.post("/account/delete/", {"password": "not it"})
    assert refused.status_code == 400 and User.objects.count() == 1 and Address.objects.count() == 1

    assert client.post("/account/delete/", {"password": PASSWORD}).status_code == 302
    assert User.objects.count() == 0 and Address.objects.count() == 0
    order = Order.objects.get()
    assert (order.customer, order.full_name, order.email, order.address) == (None, "(deleted)", "deleted@invalid", "")
    assert order.total == Decimal("8.50") and order.lines.get().product_name == "Mug"
    assert "_auth_user_id" not in client.session
