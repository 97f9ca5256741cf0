from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from catalog.models import ProductImage, ProductImageKind
from visualsearch.errors import ImageRejected
from visualsearch.intake import image_intake
from visualsearch.selectors import intake_limits


class ProductImageAdminForm(forms.ModelForm):
    """Admin inline form: the upload is validated by the intake service and stored by product_image_add."""

    upload = forms.FileField(required=False, label="Photo", help_text="JPEG, PNG, WebP, HEIC or AVIF")

    class Meta:
        model = ProductImage
        fields = ["position", "kind", "variant", "alt_text"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Optional in a post: a form that does not send it keeps the image's kind (new images: catalogue).
        self.fields["kind"].required = False

    def clean_kind(self):
        return self.cleaned_data.get("kind") or self.instance.kind or ProductImageKind.CATALOGUE

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload is None:
            if self.instance.pk is None and self.has_changed():
                raise ValidationError("Choose a photo.")
            return None
        data = upload.read()
        try:
            image_intake(data, limits=intake_limits())  # validation only; the service stores it
        except ImageRejected as error:
            # In the staff member's language, numbers included ("at most 25 MB").
            raise ValidationError(error.message_in(gettext), code=error.code.value) from None
        self.upload_bytes = data
        return upload


class ProductVariantAdminForm(forms.ModelForm):
    """Admin inline form for a variant; stored through ``catalog.services`` (stock sum, events)."""

    class Meta:
        from catalog.models import ProductVariant

        model = ProductVariant
        fields = ["name", "name_zh", "sku", "price", "stock_quantity", "position"]

    def clean_sku(self):
        from catalog.services import sku_in_use

        sku = self.cleaned_data["sku"]
        if sku_in_use(sku, exclude_variant_id=self.instance.pk):
            raise ValidationError("A product or variant with this SKU exists already.")
        return sku


class BulkCategoryForm(forms.Form):
    """The "move to a category" bulk action's second step."""

    category = forms.ModelChoiceField(queryset=None, label="Move to")

    def __init__(self, *args, **kwargs):
        from catalog.forms import CategoryTreeChoiceField
        from catalog.models import Category

        super().__init__(*args, **kwargs)
        self.fields["category"] = CategoryTreeChoiceField(Category.objects.all(), label="Move to")


class BulkPriceForm(forms.Form):
    """The "change price by a percentage" bulk action's second step: -90 % to +1000 %, to the cent."""

    percent = forms.DecimalField(
        label="Change by (%)", min_value=-90, max_value=1000, decimal_places=2,
        help_text="e.g. -15 for 15 % off, 5 for 5 % more; prices are rounded to the cent",
    )


class IdentifyForm(forms.Form):
    photo = forms.FileField(label="Photo of the item", help_text="JPEG, PNG, WebP, HEIC or AVIF")

    def clean_photo(self):
        data = self.cleaned_data["photo"].read()
        try:
            image_intake(data, limits=intake_limits())  # the one intake: a bad file is refused here, nothing kept
        except ImageRejected as error:
            raise ValidationError(error.message, code=error.code.value) from None
        return data
