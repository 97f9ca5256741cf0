"""Explicit input and output serializers of the catalogue API (one pair per operation)."""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings
from rest_framework import serializers

from catalog.models import Category, Product, ProductImage
from catalog.selectors import category_by_slug
from shop.api.errors import ErrorCode
from shop.api.pagination import PageInputSerializer, page_output_serializer

SLUG_SHAPE = re.compile(r"[-a-zA-Z0-9_]{1,140}")
MAX_INT = 2_147_483_647  # PostgreSQL integer: larger stock would not fit the column
BULK_MAX = 100


# --- output ----------------------------------------------------------------------------------------------


class CategoryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    name_zh = serializers.CharField(allow_blank=True, help_text="the name in Simplified Chinese; empty if none")
    slug = serializers.CharField()
    parent = serializers.CharField(source="parent.slug", allow_null=True, help_text="the parent category's slug")
    position = serializers.IntegerField()


class CategoryListOutputSerializer(serializers.Serializer):
    results = CategoryOutputSerializer(many=True)


class EmbeddingOutputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["pending", "ready", "failed", "not_requested"],
        help_text="pending until the worker has embedded the image; ready images are searchable",
    )
    model_key = serializers.CharField(allow_null=True)
    attempts = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)


class ProductImageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    alt_text = serializers.CharField(allow_blank=True)
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    content_hash = serializers.CharField(help_text="SHA-256 of the stored, re-encoded image")
    variant_id = serializers.IntegerField(allow_null=True, help_text="the variant this picture shows; null: the product")
    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    embedding = serializers.SerializerMethodField()

    def get_image_url(self, image: ProductImage) -> str:
        return self.context["request"].build_absolute_uri(image.image.url)

    def get_thumbnail_url(self, image: ProductImage) -> str:
        return self.context["request"].build_absolute_uri(image.thumbnail.url)

    @staticmethod
    def _embedding(row) -> dict:
        if row is None:
            return {"status": "not_requested", "model_key": None, "attempts": 0, "error": ""}
        return {"status": row.status, "model_key": row.model_key, "attempts": row.attempts, "error": row.error}

    def get_embedding(self, image: ProductImage) -> EmbeddingOutputSerializer:
        return self._embedding(self.context.get("embeddings", {}).get(image.id))


class VariantOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField(help_text="what the shopper chooses: Red, XL")
    name_zh = serializers.CharField(allow_blank=True)
    price = serializers.SerializerMethodField(help_text="the variant's own price, or the product's")
    own_price = serializers.DecimalField(
        source="price", max_digits=12, decimal_places=2, allow_null=True, help_text="null: the product's price"
    )
    stock_quantity = serializers.IntegerField()
    in_stock = serializers.BooleanField()
    position = serializers.IntegerField()

    def get_price(self, variant) -> str:
        return str(variant.unit_price)


class ProductOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    name_zh = serializers.CharField(allow_blank=True, help_text="the name in Simplified Chinese; empty if none")
    slug = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    description_zh = serializers.CharField(allow_blank=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    stock_quantity = serializers.IntegerField(help_text="with variants: the sum of their stock")
    in_stock = serializers.BooleanField()
    is_published = serializers.BooleanField()
    category = serializers.CharField(source="category.slug", help_text="the category's slug")
    variants = VariantOutputSerializer(
        many=True, help_text="the versions a shopper chooses from (colour, size), each with its SKU and stock; "
        "empty: the product is sold as one thing"
    )
    url = serializers.SerializerMethodField(help_text="the product page in the shop")
    owned_by_you = serializers.SerializerMethodField(help_text="true when your key's owner created it")
    images = ProductImageOutputSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_url(self, product: Product) -> str:
        return self.context["request"].build_absolute_uri(product.get_absolute_url())

    def get_owned_by_you(self, product: Product) -> bool:
        user = self.context["request"].user
        partner = getattr(product, "partner", None)
        return bool(user is not None and partner is not None and partner.owner_id == user.id)


ProductPageOutputSerializer = page_output_serializer("Product", ProductOutputSerializer)


class ProductBulkOutputSerializer(serializers.Serializer):
    results = ProductOutputSerializer(many=True)


class ProductImageAddOutputSerializer(ProductImageOutputSerializer):
    created = serializers.SerializerMethodField(help_text="false when the product already had this exact photo")
    product_id = serializers.IntegerField()

    def get_created(self, image: ProductImage) -> bool:
        return self.context["created"]


class CategorySlugField(serializers.SlugRelatedField):
    """A category by slug, whatever its letter case (``Clothing`` finds ``clothing``, as the shop's URLs do).

    The slug's shape is checked before the query: PostgreSQL refuses NUL bytes with a DataError, which must be a
    400 for the caller, not a 503. An unknown slug answers the code ``category_not_found`` with a message that
    says where the slugs are listed, not Django's "Object with slug=... does not exist."
    """

    default_error_messages = {
        "does_not_exist": "No category has the slug \"{value}\". GET /api/v1/categories lists them.",
        "invalid": "A category is given by its slug, a string such as \"shoes\".",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Category.objects.all())
        super().__init__(slug_field="slug", **kwargs)

    def fail(self, key, **kwargs):
        if key not in ("does_not_exist", "invalid"):
            super().fail(key, **kwargs)  # "required", "null": the request's shape, not an unknown category
        raise serializers.ValidationError(
            self.error_messages[key].format(**kwargs), code=ErrorCode.CATEGORY_NOT_FOUND.value
        )

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if not SLUG_SHAPE.fullmatch(data):
            self.fail("does_not_exist", value=data[:100].replace("\x00", ""))
        category = category_by_slug(data)
        if category is None or not self.get_queryset().filter(pk=category.pk).exists():
            self.fail("does_not_exist", value=data)
        return category


class PriceField(serializers.DecimalField):
    """A price or price bound: a number of at least 0 with at most two decimals. Every refusal (``abc``, ``-1``,
    ``1.999``) answers the code ``price_invalid``, so a wrong filter is never mistaken for an empty result."""

    default_error_messages = {
        "invalid": "A price is a number such as 25 or 19.99.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0"))
        super().__init__(**kwargs)

    def fail(self, key, **kwargs):
        if key in ("required", "null"):
            super().fail(key, **kwargs)
        try:
            super().fail(key, **kwargs)
        except serializers.ValidationError as error:
            messages = [str(message) for message in error.detail]
            raise serializers.ValidationError(messages, code=ErrorCode.PRICE_INVALID.value) from None

    def run_validators(self, value):
        try:
            super().run_validators(value)
        except serializers.ValidationError as error:  # min_value: DRF's validators, not fail()
            messages = [str(message) for message in error.detail]
            raise serializers.ValidationError(messages, code=ErrorCode.PRICE_INVALID.value) from None


# --- input -----------------------------------------------------------------------------------------------


class ProductListInputSerializer(PageInputSerializer):
    category = CategorySlugField(required=False, help_text="category slug (any letter case), subcategories included")
    min_price = PriceField(required=False)
    max_price = PriceField(required=False)
    in_stock = serializers.BooleanField(required=False, allow_null=True, default=None)
    q = serializers.CharField(required=False, max_length=200, default="", help_text="words in the name or description")

    def validate(self, attrs):
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"min_price": ["must not be above max_price"]})
        return attrs


def _sku_free(sku: str, *, exclude_id: int | None = None, exclude_variant_id: int | None = None) -> str:
    from catalog.services import sku_in_use

    if sku_in_use(sku, exclude_product_id=exclude_id, exclude_variant_id=exclude_variant_id):
        raise serializers.ValidationError("A product or variant with this SKU exists already.")
    return sku


class VariantWriteFields(serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text="the variant's own SKU (unique among products and variants)")
    name = serializers.CharField(max_length=120, help_text="what the shopper chooses: Red, XL, Red / XL")
    name_zh = serializers.CharField(max_length=120, allow_blank=True, required=False, default="")
    price = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False, allow_null=True, default=None,
        help_text="omit or null: the product's price",
    )
    stock_quantity = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False, default=0)
    position = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False)


class VariantCreateInputSerializer(VariantWriteFields):
    def validate_sku(self, sku: str) -> str:
        return _sku_free(sku)


class VariantUpdateInputSerializer(VariantWriteFields):
    """PATCH: send only the fields to change."""

    def validate_sku(self, sku: str) -> str:
        return _sku_free(sku, exclude_variant_id=self.context["variant_id"])


def _variants_check(product_sku: str, variants: list[dict]) -> None:
    """One SKU per thing in a product's variant list, unique names, and none equal to the product's."""
    errors: dict[int, dict] = {}
    skus, names = {product_sku}, set()
    for index, variant in enumerate(variants):
        if variant["sku"] in skus:
            errors[index] = {"sku": ["This SKU appears twice in the product."]}
        elif variant["name"] in names:
            errors[index] = {"name": ["Two variants of a product cannot have the same name."]}
        skus.add(variant["sku"])
        names.add(variant["name"])
    if errors:
        raise serializers.ValidationError({"variants": errors})


class ProductWriteFields(serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text="your unique stock-keeping unit")
    name = serializers.CharField(max_length=200)
    category = CategorySlugField(help_text="category slug")
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))
    currency = serializers.RegexField(r"^[A-Z]{3}\Z", max_length=3, required=False, help_text="ISO 4217, e.g. EUR")
    description = serializers.CharField(max_length=20_000, allow_blank=True, required=False, default="")
    name_zh = serializers.CharField(
        max_length=200, allow_blank=True, required=False, default="", help_text="the name in Simplified Chinese"
    )
    description_zh = serializers.CharField(max_length=20_000, allow_blank=True, required=False, default="")
    stock_quantity = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False, default=0)
    is_published = serializers.BooleanField(required=False, default=True)


class ProductCreateInputSerializer(ProductWriteFields):
    variants = VariantCreateInputSerializer(
        many=True, required=False, default=list, max_length=100,
        help_text="the versions a shopper chooses from; the product's stock is then their sum",
    )

    def validate_sku(self, sku: str) -> str:
        return _sku_free(sku)

    def validate(self, attrs):
        attrs.setdefault("currency", settings.SHOP_CURRENCY)
        _variants_check(attrs["sku"], attrs.get("variants", []))
        return attrs


class ProductUpdateInputSerializer(ProductWriteFields):
    """PATCH: send only the fields to change."""

    def validate_sku(self, sku: str) -> str:
        return _sku_free(sku, exclude_id=self.context["product_id"])


class ProductBulkCreateInputSerializer(serializers.Serializer):
    products = ProductCreateInputSerializer(many=True, min_length=1, max_length=BULK_MAX)

    def validate_products(self, items: list[dict]) -> list[dict]:
        seen: set[str] = set()
        errors: dict[int, dict] = {}
        for index, item in enumerate(items):
            skus = [item["sku"], *(variant["sku"] for variant in item.get("variants", []))]
            if seen.intersection(skus):
                errors[index] = {"sku": ["This SKU appears twice in the batch."]}
            seen.update(skus)
        if errors:
            raise serializers.ValidationError(errors)
        return items


class ProductImageAddInputSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="JPEG, PNG, WebP, HEIC or AVIF, at most 25 MB; stored re-encoded without metadata")
    alt_text = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    position = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False)
    variant_id = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None,
        help_text="the product's variant this photo shows (a search matching it opens that variant)",
    )
