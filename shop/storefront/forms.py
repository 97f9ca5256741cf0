from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.models import Category
from visualsearch.colours import PALETTE

from .cart import MAX_QUANTITY
from .selectors import ListingFilters


class _PriceRangeForm(forms.Form):
    min_price = forms.DecimalField(
        required=False, min_value=Decimal("0"), decimal_places=2, label=_("Min price"),
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any", "placeholder": "0"}),
    )
    max_price = forms.DecimalField(
        required=False, min_value=Decimal("0"), decimal_places=2, label=_("Max price"),
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any", "placeholder": "∞"}),
    )

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
    return forms.ModelChoiceField(
        Category.objects.all(), required=False, to_field_name="slug", empty_label=_("All categories"),
        label=_("Category"),
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

    SORT_CHOICES = [
        ("", _("Relevance / newest")),
        ("new", _("Newest")),
        ("price", _("Price: low to high")),
        ("-price", _("Price: high to low")),
        ("name", _("Name")),
    ]
    color = _colour_field()
    in_stock = forms.BooleanField(required=False, label=_("In stock only"))
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, label=_("Sort by"))

    def __init__(self, *args, with_category: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if with_category:
            self.fields["category"] = _category_field()
            self.order_fields(["category", "min_price", "max_price", "color", "in_stock", "sort"])

    def filters(self) -> ListingFilters:
        """The valid filters (an invalid form filters nothing rather than failing the page)."""
        if not self.is_valid():
            return ListingFilters()
        data = self.cleaned_data
        return ListingFilters(
            category=data.get("category"),
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
            in_stock=data.get("in_stock") or False,
            sort=data.get("sort") or "",
            colour=data.get("color") or "",
        )


class AddToCartForm(forms.Form):
    product = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, initial=1, label=_("Quantity"))


class CartLineForm(forms.Form):
    product = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=0, max_value=MAX_QUANTITY, label=_("Quantity"))


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
