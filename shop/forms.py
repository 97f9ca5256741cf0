from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.models import Category


class PhotoSearchForm(forms.Form):
    image = forms.FileField(
        label=_("Photo"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    category = forms.ModelChoiceField(
        Category.objects.all(), required=False, to_field_name="slug", empty_label=_("All categories"),
        label=_("Category"),
    )
    min_price = forms.DecimalField(required=False, min_value=Decimal("0"), decimal_places=2, label=_("Min price"))
    max_price = forms.DecimalField(required=False, min_value=Decimal("0"), decimal_places=2, label=_("Max price"))

    def clean(self):
        data = super().clean()
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise forms.ValidationError(_("The minimum price is above the maximum price."))
        return data
