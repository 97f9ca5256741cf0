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


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern); cleans to a list of uploads."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,.heic,.heif,.avif,.zip"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)) and data:
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class IdentifyJobForm(forms.Form):
    """A batch for a job: photos (several, or zips of them) through the one intake, and the list that comes with
    them (a delivery's expected ``sku,quantity``, or the listings' ``file,title,price,url``)."""

    title = forms.CharField(label="Title", max_length=200, required=False)
    photos = MultipleFileField(
        label="Photos", help_text="Choose several photos, or a zip of them (JPEG, PNG, WebP, HEIC or AVIF; at most 25 MB "
                                  "per upload: send a larger delivery as several jobs)")
    listing = forms.FileField(required=False)

    def __init__(self, *args, kind: str, **kwargs):
        from shop.stafftools.models import JobKind

        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind == JobKind.DELIVERY:
            self.fields["listing"].label = "Expected list (CSV, optional)"
            self.fields["listing"].help_text = "Columns sku,quantity: what the delivery should hold"
        else:
            self.fields["listing"].label = "Listings (CSV, optional)"
            self.fields["listing"].help_text = "Columns file,title,price,url; file is the photo's name (its path in the zip)"
        self.job_photos = None
        self.expected = []
        self.listings = {}

    def clean_photos(self):
        from shop.stafftools.batches import job_photos_read
        from shop.stafftools.errors import JobRejected

        uploads = self.cleaned_data["photos"]
        try:
            self.job_photos = job_photos_read(files=[(upload.name, upload.read()) for upload in uploads])
        except ImageRejected as error:
            raise ValidationError(error.message_in(gettext), code=error.code.value) from None
        except JobRejected as error:
            raise ValidationError(error.message, code=error.code.value) from None
        return uploads

    def clean_listing(self):
        from shop.stafftools.batches import expected_read, listings_read
        from shop.stafftools.errors import ErrorCode, JobRejected
        from shop.stafftools.models import JobKind

        upload = self.cleaned_data.get("listing")
        if upload is None:
            return None
        try:
            text = upload.read().decode("utf-8-sig")
            if self.kind == JobKind.DELIVERY:
                self.expected = expected_read(text)
            else:
                self.listings = listings_read(text)
        except UnicodeDecodeError:
            raise ValidationError("The CSV must be UTF-8 text.", code=ErrorCode.CSV_INVALID.value) from None
        except JobRejected as error:
            raise ValidationError(error.message, code=error.code.value) from None
        return upload
