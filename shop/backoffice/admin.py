"""The catalogue in the admin, with what only the back office composes: photo upload through the intake,
thumbnails, and each picture's embedding status (catalogue + visual search). Categories are catalog's own admin."""

from decimal import ROUND_HALF_UP, Decimal

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, F, Q
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext

from catalog import services
from catalog.admin import CategoryTreeFormMixin, CategoryTreeListFilter
from catalog.models import Product, ProductImage, ProductImageKind, ProductVariant
from visualsearch.categories import product_category_suggestions
from visualsearch.selectors import active_model_key, embedding_status_for_images
from visualsearch.services import embeddings_requeue, product_image_add

from .forms import BulkCategoryForm, BulkPriceForm, ProductImageAdminForm, ProductVariantAdminForm

SUGGESTION_APPLY_SHARE = 0.5
"""The bulk action moves a product only when at least half the neighbours' vote agrees on one category."""
STATUS_COLOURS = {"ready": "#1a7f37", "pending": "#9a6700", "failed": "#cf222e"}


def _status_html(image: ProductImage) -> str:
    if image.pk is None:
        return "-"
    # Lists annotate the status in their queryset (one query); a lone image asks for its own.
    row = getattr(image, "embedding_row", None) or embedding_status_for_images([image.pk]).get(image.pk)
    if row is None:
        return format_html('<span style="color:{}">not requested</span>', "#57606a")
    text = row.status
    if row.status == "failed":
        return format_html(
            '<span style="color:{}" title="{}">failed: {}</span>', STATUS_COLOURS["failed"], row.error, row.error[:120]
        )
    if row.status == "pending" and row.attempts:
        text = gettext("pending (attempt %(n)s)") % {"n": row.attempts}
    return format_html('<span style="color:{}">{}</span>', STATUS_COLOURS[row.status], text)


def _thumb_html(image: ProductImage) -> str:
    if not image.pk or not image.thumbnail:
        return "-"
    return format_html('<img src="{}" alt="{}" style="height:64px;border-radius:4px">', image.thumbnail.url, image.alt_text)


class ProductVariantInline(admin.TabularInline):
    """A product's colours and sizes, each with its own SKU and stock (the product's stock is their sum)."""

    model = ProductVariant
    form = ProductVariantAdminForm
    extra = 0
    fields = ["name", "name_zh", "sku", "price", "stock_quantity", "position"]


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    form = ProductImageAdminForm
    extra = 1
    fields = ["thumb", "upload", "position", "kind", "variant", "alt_text", "size", "embedding_status"]
    readonly_fields = ["thumb", "size", "embedding_status"]

    def get_formset(self, request, obj=None, **kwargs):
        self._product = obj  # the variant menu offers this product's variants only
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "variant":
            product = getattr(self, "_product", None)
            kwargs["queryset"] = ProductVariant.objects.filter(product=product) if product else ProductVariant.objects.none()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Thumbnail")
    def thumb(self, obj):
        return _thumb_html(obj)

    @admin.display(description="Size")
    def size(self, obj):
        return f"{obj.width}×{obj.height}" if obj.pk else "-"

    @admin.display(description="Embedding")
    def embedding_status(self, obj):
        return _status_html(obj)


class PictureStatusFilter(admin.SimpleListFilter):
    """Products by the state of their catalogue pictures' vectors for the active model key."""

    title = "pictures"
    parameter_name = "pictures"

    def lookups(self, request, model_admin):
        return [("failed", "failed"), ("pending", "pending"), ("ready", "all ready"), ("none", "no picture")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "failed":
            return queryset.filter(pictures_failed__gt=0)
        if value == "pending":
            return queryset.filter(pictures_pending__gt=0)
        if value == "ready":
            return queryset.filter(picture_count__gt=0, pictures_ready=F("picture_count"))
        if value == "none":
            return queryset.filter(picture_count=0)
        return queryset


@admin.register(Product)
class ProductAdmin(CategoryTreeFormMixin, admin.ModelAdmin):
    list_display = ["thumbnail", "name", "sku", "category", "price", "stock_quantity", "is_published", "pictures"]
    list_display_links = ["thumbnail", "name"]
    list_filter = ["is_published", PictureStatusFilter, ("category", CategoryTreeListFilter)]
    search_fields = ["name", "name_zh", "sku", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ProductVariantInline, ProductImageInline]
    list_select_related = ["category"]
    list_per_page = 50
    readonly_fields = ["category_suggestion"]

    def get_readonly_fields(self, request, obj=None):
        # With variants the stock is theirs (their sum): changed on each variant's row, not here.
        if obj is not None and obj.variants.exists():
            return [*self.readonly_fields, "stock_quantity"]
        return self.readonly_fields

    class Media:
        css = {"all": ["backoffice/admin.css"]}

    actions = ["publish", "unpublish", "category_move", "price_change", "category_apply_suggested"]

    def get_queryset(self, request):
        """Each row's picture counts by the state of their vectors, in the list's one query."""
        key = active_model_key()
        catalogue = Q(images__kind="catalogue")
        vectors = Q(images__kind="catalogue", images__embeddings__model_key=key)
        return (
            super()
            .get_queryset(request)
            .prefetch_related("images")
            .annotate(
                picture_count=Count("images", filter=catalogue, distinct=True),
                pictures_ready=Count("images", filter=vectors & Q(images__embeddings__status="ready"), distinct=True),
                pictures_pending=Count("images", filter=vectors & Q(images__embeddings__status="pending"), distinct=True),
                pictures_failed=Count("images", filter=vectors & Q(images__embeddings__status="failed"), distinct=True),
            )
        )

    @admin.display(description="")
    def thumbnail(self, obj):
        first = next((image for image in obj.images.all() if image.kind == ProductImageKind.CATALOGUE), None)
        if first is None:
            return "—"
        return format_html('<img src="{}" alt="" style="height:40px;width:40px;object-fit:contain">', first.thumbnail.url)

    @admin.display(description="Pictures", ordering="picture_count")
    def pictures(self, obj):
        if not obj.picture_count:
            return format_html('<span style="color:{}">none</span>', "#57606a")
        parts = [(obj.pictures_ready, "ready"), (obj.pictures_pending, "pending"), (obj.pictures_failed, "failed")]
        return format_html_join(
            " · ", '<span style="color:{}">{} {}</span>', ((STATUS_COLOURS[s], n, s) for n, s in parts if n)
        )

    def _bulk_update(self, request, queryset, changes, done: str) -> None:
        """Apply per-product changes through the catalogue service (search documents, events), all or none."""
        with transaction.atomic():
            count = 0
            # The list's queryset carries its picture counts (a GROUP BY): lock the plain rows instead.
            for product in Product.objects.filter(pk__in=queryset.values("pk")).select_for_update().order_by("pk"):
                fields = changes(product)
                if fields:
                    services.product_update(product=product, **fields)
                    count += 1
        self.message_user(request, done % {"n": count}, messages.SUCCESS)

    @admin.action(description="Publish the selected products")
    def publish(self, request, queryset):
        self._bulk_update(request, queryset, lambda p: {} if p.is_published else {"is_published": True},
                          "%(n)s product(s) published.")

    @admin.action(description="Unpublish the selected products")
    def unpublish(self, request, queryset):
        self._bulk_update(request, queryset, lambda p: {"is_published": False} if p.is_published else {},
                          "%(n)s product(s) unpublished.")

    def _second_step(self, request, queryset, form, title: str, action: str):
        return TemplateResponse(
            request,
            "admin/backoffice/bulk_action.html",
            {
                **self.admin_site.each_context(request),
                "title": title, "form": form, "action": action, "products": queryset,
                "opts": self.model._meta, "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Move the selected products to a category…")
    def category_move(self, request, queryset):
        form = BulkCategoryForm(request.POST if "apply" in request.POST else None)
        if not form.is_bound or not form.is_valid():
            return self._second_step(request, queryset, form, "Move products to a category", "category_move")
        target = form.cleaned_data["category"]
        self._bulk_update(request, queryset, lambda p: {} if p.category_id == target.id else {"category": target},
                          f"%(n)s product(s) moved to {target.name}.")
        return None

    @admin.action(description="Change the selected products' price by a percentage…")
    def price_change(self, request, queryset):
        form = BulkPriceForm(request.POST if "apply" in request.POST else None)
        if not form.is_bound or not form.is_valid():
            return self._second_step(request, queryset, form, "Change prices by a percentage", "price_change")
        factor = 1 + form.cleaned_data["percent"] / Decimal(100)

        def new_price(product):
            price = (product.price * factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            return {"price": price} if price != product.price else {}

        self._bulk_update(request, queryset, new_price, f"%(n)s price(s) changed by {form.cleaned_data['percent']} %%.")
        return None

    @admin.display(description="Category from the pictures")
    def category_suggestion(self, obj):
        """What the product's pictures say its category is (its nearest catalogue pictures' vote): a check on
        the chosen category, and the way to file products imported as "Uncategorised"."""
        suggestions = product_category_suggestions(product=obj) if obj.pk else []
        if not suggestions:
            return "— (once a picture has its vector)"
        return format_html_join(
            ", ", "{} ({}%)", ((s.category.name, round(100 * s.score)) for s in suggestions)
        )

    @admin.action(description="Move to the category the pictures suggest (when at least half the vote agrees)")
    def category_apply_suggested(self, request, queryset):
        moved = skipped = 0
        for product in queryset.select_related("category"):
            suggestions = product_category_suggestions(product=product, limit=1)
            if not suggestions or suggestions[0].score < SUGGESTION_APPLY_SHARE:
                skipped += 1
                continue
            if suggestions[0].category.id != product.category_id:
                services.product_update(product=product, category=suggestions[0].category)
                moved += 1
        self.message_user(request, f"{moved} product(s) moved; {skipped} left where they are (no clear suggestion).")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        response = super().changeform_view(request, object_id, form_url, extra_context)
        # Django re-shows an invalid form with HTTP 200. A refused photo (or any invalid field) answers 400
        # instead, so scripts and monitors see the refusal too; a person sees the same page with its messages.
        context = getattr(response, "context_data", None) or {}
        if request.method == "POST" and context.get("errors"):
            response.status_code = 400
        return response

    def save_model(self, request, obj, form, change):
        # Fields are validated by the ModelForm; the service keeps the search vector in step.
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            services.product_update(product=obj)

    def save_formset(self, request, form, formset, change):
        if formset.model is ProductVariant:
            return self._variants_save(form.instance, formset)
        if formset.model is not ProductImage:
            return super().save_formset(request, form, formset, change)
        for inline_form in formset.forms:
            if not inline_form.has_changed() and inline_form.instance.pk is None:
                continue
            if inline_form in formset.deleted_forms:
                if inline_form.instance.pk:
                    services.product_image_delete(image=inline_form.instance)
                continue
            data = getattr(inline_form, "upload_bytes", None)
            instance = inline_form.instance
            if instance.pk is not None and data is None:
                inline_form.save()  # position, kind or alt text changed; the photo stays
                continue
            if instance.pk is not None:
                services.product_image_delete(image=instance)  # a new photo replaces the old one
            product_image_add(
                product=form.instance,
                data=data,
                alt_text=inline_form.cleaned_data.get("alt_text", ""),
                position=inline_form.cleaned_data.get("position"),
                kind=inline_form.cleaned_data.get("kind") or ProductImageKind.CATALOGUE,
                variant=inline_form.cleaned_data.get("variant"),
            )
        # What formset.save() would have set; the admin's change message reads them.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @staticmethod
    def _variants_save(product: Product, formset) -> None:
        """Variants through the catalogue services: the product's stock stays their sum, events are recorded."""
        fields = ["name", "name_zh", "sku", "price", "stock_quantity", "position"]
        for inline_form in formset.forms:
            instance = inline_form.instance
            if inline_form in formset.deleted_forms:
                if instance.pk:
                    services.product_variant_delete(variant=instance)
                continue
            if not inline_form.has_changed():
                continue
            data = {name: inline_form.cleaned_data.get(name) for name in fields}
            if instance.pk is None:
                services.product_variant_create(product=product, data=services.VariantData(
                    sku=data["sku"], name=data["name"], name_zh=data["name_zh"] or "", price=data["price"],
                    stock_quantity=data["stock_quantity"] or 0, position=data["position"],
                ))
            else:
                services.product_variant_update(variant=instance, **data)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


@admin.register(ProductImage)
class ProductImageAdmin(admin.ModelAdmin):
    list_display = ["thumb", "product", "kind", "position", "size", "embedding_status", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["product"]
    search_fields = ["product__name", "product__sku", "content_hash"]
    actions = ["requeue_embedding"]
    readonly_fields = ["thumb", "product", "width", "height", "content_hash", "embedding_status"]
    fields = ["thumb", "product", "kind", "position", "alt_text", "width", "height", "content_hash", "embedding_status"]

    def has_add_permission(self, request):
        return False  # photos are added on their product's page, through the intake service

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = embedding_status_for_images([image.pk for image in changelist.result_list])
        for image in changelist.result_list:
            image.embedding_row = rows.get(image.pk)
        return changelist

    @admin.display(description="Thumbnail")
    def thumb(self, obj):
        return _thumb_html(obj)

    @admin.display(description="Size")
    def size(self, obj):
        return f"{obj.width}×{obj.height}"

    @admin.display(description="Embedding")
    def embedding_status(self, obj):
        return _status_html(obj)

    @admin.action(description="Compute the embedding again")
    def requeue_embedding(self, request, queryset):
        count = embeddings_requeue(image_ids=list(queryset.values_list("id", flat=True)))
        text = ngettext("%(count)s image queued for embedding.", "%(count)s images queued for embedding.", count)
        self.message_user(request, text % {"count": count}, messages.SUCCESS)
