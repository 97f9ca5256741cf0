from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.forms import CategoryTreeChoiceField
from catalog.models import Category
from visualsearch.colours import PALETTE

from .cart import MAX_QUANTITY
from .selectors import ListingFilters


# Said to the shopper when a price in the URL is not a number (``min_price=abc``), rather than Django's bare
# "Enter a number.", which does not say which box is wrong.
PRICE_ERRORS = {
    "invalid": _("Enter the price as a number, for example 25 or 19.99."),
    "min_value": _("The price cannot be below 0."),
    "max_decimal_places": _("Enter the price with at most two decimals."),
    "max_digits": _("This price is too large."),
    "max_whole_digits": _("This price is too large."),
}


def _price_field(label, placeholder: str) -> forms.DecimalField:
    return forms.DecimalField(
        required=False, min_value=Decimal("0"), max_digits=12, decimal_places=2, label=label,
        error_messages=PRICE_ERRORS,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any", "placeholder": placeholder}),
    )


class _PriceRangeForm(forms.Form):
    min_price = _price_field(_("Min price"), "0")
    max_price = _price_field(_("Max price"), "∞")

    def clean(self):
        data = super().clean()
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise forms.ValidationError(_("The minimum price is above the maximum price."))
        return data


def _colour_choices() -> list[tuple[str, str]]:
    from django.utils.translation import get_language

    chinese = (get_language() or "").startswith("zh")
    return [("", _("Any colour"))] + [(c.key, c.chinese if chinese else c.english) for c in PALETTE]


def _colour_field() -> forms.ChoiceField:
    return forms.ChoiceField(required=False, choices=_colour_choices, label=_("Colour"))


def _category_field() -> forms.ModelChoiceField:
    # In tree order with subcategories indented: a flat alphabet of 27 names hides which belongs where.
    return CategoryTreeChoiceField(
        Category.objects.all(), required=False, to_field_name="slug", empty_label=_("All categories"),
        label=_("Category"), error_messages={"invalid_choice": _("There is no such category. Choose one from the list.")},
    )


class PhotoSearchForm(_PriceRangeForm):
    image = forms.FileField(
        label=_("Photo"),
        required=False,
        # No `capture` here: phones then offer camera, library and files; the page adds a camera-only button.
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )
    category = _category_field()
    color = _colour_field()
    words = forms.CharField(
        required=False, max_length=200, label=_("With the words"),
        widget=forms.TextInput(attrs={"placeholder": _("e.g. red")}),
    )
    # The page's script sends cropped=1 with a part of the photo the shopper framed: their box wins, so the
    # server runs no object step on it. ``object`` picks one of the objects found in the photo (0 = the first).
    cropped = forms.BooleanField(required=False, widget=forms.HiddenInput)
    object = forms.IntegerField(required=False, min_value=0, max_value=20, widget=forms.HiddenInput)

    field_order = ["image", "category", "min_price", "max_price", "color", "words"]


class ListingForm(_PriceRangeForm):
    """Filters and sort of a category page or the text search results (all optional, all in the URL)."""

    # Relevance means something only for words: a category page (no words) lists newest first, and says so.
    # An empty sort is the listing's own order: best match for words, newest first otherwise.
    RELEVANCE = ("", _("Relevance"))
    SORT_CHOICES = [
        ("new", _("Newest")),
        ("price", _("Price: low to high")),
        ("-price", _("Price: high to low")),
        ("name", _("Name")),
    ]
    color = _colour_field()
    in_stock = forms.BooleanField(required=False, label=_("In stock only"))
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, label=_("Sort by"))

    def __init__(self, *args, with_category: bool = False, with_relevance: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if with_relevance:
            self.fields["sort"].choices = [self.RELEVANCE, *self.SORT_CHOICES]
        if with_category:
            self.fields["category"] = _category_field()
            self.order_fields(["category", "min_price", "max_price", "color", "in_stock", "sort"])

    def filters(self) -> ListingFilters:
        """The valid filters. A wrong one (``min_price=abc``) is left out and the form says why; the others still
        apply, so the page shows something useful next to the message. A reversed price range applies neither."""
        self.is_valid()
        data = self.cleaned_data
        prices_clash = bool(self.non_field_errors())
        return ListingFilters(
            category=data.get("category"),
            min_price=None if prices_clash else data.get("min_price"),
            max_price=None if prices_clash else data.get("max_price"),
            in_stock=data.get("in_stock") or False,
            sort=data.get("sort") or "",
            colour=data.get("color") or "",
        )


class AddToCartForm(forms.Form):
    product = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    variant = forms.IntegerField(min_value=1, required=False, label=_("Variant"))
    """Required by the view for a product sold in variants (the product page's choice)."""
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, initial=1, label=_("Quantity"))


class CartLineForm(forms.Form):
    line = forms.CharField(max_length=40, required=False, widget=forms.HiddenInput)
    """The line's key: "<product id>" or "<product id>:<variant id>" (``cart.CartKey``)."""
    product = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)
    """A product sold as one thing, as pages before variants sent it (the same as ``line=<product id>``)."""
    quantity = forms.IntegerField(min_value=0, max_value=MAX_QUANTITY, label=_("Quantity"))

    def clean(self):
        from .cart import CartKey

        data = super().clean()
        text = data.get("line") or (str(data["product"]) if data.get("product") else "")
        key = CartKey.parse(text) if text else None
        if key is None:
            raise forms.ValidationError(_("There is no such line in your cart."))
        data["line"] = key
        return data


class TestCardForm(forms.Form):
    """The test gateway's card form: only the number matters (4242 4242 4242 4242 pays, 4000 0000 0000 0002 is
    declined); no real card is ever asked for."""

    number = forms.CharField(max_length=23, label=_("Card number"),
                             widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))

    def clean_number(self) -> str:
        number = "".join(ch for ch in self.cleaned_data["number"] if ch.isdigit())
        from shop.orders.payments import TEST_CARD_APPROVED, TEST_CARD_DECLINED

        if number not in (TEST_CARD_APPROVED, TEST_CARD_DECLINED):
            raise forms.ValidationError(_("This is a test gateway: use 4242 4242 4242 4242 (paid) or 4000 0000 0000 0002 (declined)."))
        return number


class CheckoutForm(forms.Form):
    full_name = forms.CharField(max_length=200, label=_("Full name"),
                                widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    address = forms.CharField(max_length=300, label=_("Street and number"),
                              widget=forms.TextInput(attrs={"autocomplete": "street-address"}))
    postcode = forms.CharField(max_length=20, label=_("Postcode"),
                               widget=forms.TextInput(attrs={"autocomplete": "postal-code"}))
    city = forms.CharField(max_length=120, label=_("City"),
                           widget=forms.TextInput(attrs={"autocomplete": "address-level2"}))
    country = forms.CharField(max_length=120, label=_("Country"),
                              widget=forms.TextInput(attrs={"autocomplete": "country-name"}))

    def __init__(self, *args, with_account: bool = False, payment_choices: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.payment_choices = list(payment_choices)
        if with_account:  # a guest has nowhere to save it
            self.fields["save_address"] = forms.BooleanField(
                required=False, initial=False, label=_("Save this address to my account")
            )
