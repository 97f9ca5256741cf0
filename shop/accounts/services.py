"""Account writes: sign up, addresses, and deleting an account with the customer's data."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from recommendations.services import signals_unlink
from shop.orders.services import orders_anonymise

from .models import Address, Preferences


@transaction.atomic
def customer_sign_up(*, email: str, password: str) -> User:
    """A customer account: the email (lower case) is its username; no staff rights."""
    return User.objects.create_user(username=email.lower(), email=email.lower(), password=password)


def address_add(*, customer: User, full_name: str, address: str, postcode: str, city: str, country: str) -> Address:
    return Address.objects.create(
        customer=customer, full_name=full_name, address=address, postcode=postcode, city=city, country=country
    )


@transaction.atomic
def signals_link_set(*, customer: User, linked: bool) -> Preferences:
    """The customer's choice whether the interaction log links their rows to the account. Turning it off unlinks
    what was linked (the rows stay only as an anonymous session's; "forget me" deletes them); when that cannot be
    done now (``FlushIncomplete``), the choice is not saved either."""
    preferences, _ = Preferences.objects.update_or_create(customer=customer, defaults={"signals_linked": linked})
    if not linked:
        signals_unlink(account_id=customer.id)
    return preferences


def address_delete(*, customer: User, address_id: int) -> bool:
    deleted, _ = Address.objects.filter(customer=customer, id=address_id).delete()
    return bool(deleted)


@transaction.atomic
def account_delete(*, customer: User) -> int:
    """Delete the account, its addresses and the personal data on its orders; returns the orders kept.

    Orders stay (the shop's books and stock need them) without name, email or address, and without the link
    to the account; staff accounts are not deleted here.
    """
    if customer.is_staff:
        raise PermissionError("staff accounts are removed by an administrator")
    kept = orders_anonymise(customer_id=customer.id)
    customer.delete()  # addresses go with it (CASCADE)
    return kept
