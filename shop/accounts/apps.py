from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Customer accounts: sign-up, log-in (rate-limited by django-axes), password reset by mail, order history,
    saved addresses, and deleting the account with its data. Guest checkout needs none of it."""

    name = "shop.accounts"
    label = "accounts"
    verbose_name = "Customer accounts"
