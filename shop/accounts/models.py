"""A customer's saved delivery addresses (the account itself is Django's user: the email is its username)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Address(models.Model):
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses")
    full_name = models.CharField(_("full name"), max_length=200)
    address = models.CharField(_("address"), max_length=300)
    postcode = models.CharField(_("postcode"), max_length=20)
    city = models.CharField(_("city"), max_length=120)
    country = models.CharField(_("country"), max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        return f"{self.full_name}, {self.address}, {self.postcode} {self.city}, {self.country}"

    def lines(self) -> list[str]:
        return [self.full_name, self.address, f"{self.postcode} {self.city}", self.country]


class Preferences(models.Model):
    """A customer's choices about their data (one row once they chose anything)."""

    customer = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences")
    signals_linked = models.BooleanField(
        _("link my searches and clicks to my account"), default=False,
        help_text=_("Suggestions then follow you across devices. Without it the shop knows a browser session only."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"preferences of {self.customer_id}"
