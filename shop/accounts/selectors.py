"""Account reads."""

from __future__ import annotations

from .models import Preferences


def signals_account_id(user) -> int | None:
    """The account the interaction log may link a shopper's rows to: only a signed-in customer who agreed."""
    if user is None or not user.is_authenticated:
        return None
    agreed = Preferences.objects.filter(customer_id=user.id, signals_linked=True).exists()
    return user.id if agreed else None
