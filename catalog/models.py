from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def _in_chinese() -> bool:
    return (get_language() or "").lower().startswith("zh")


class Category(models.Model):
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    name = models.CharField(_("name"), max_length=120)
    name_zh = models.CharField(_("name (Chinese)"), max_length=120, blank=True)
    slug = models.SlugField(_("slug"), max_length=140, unique=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """The name in the shopper's language: the Chinese one in the Chinese shop where staff gave one."""
        return self.name_zh if self.name_zh and _in_chinese() else self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:category", kwargs={"slug": self.slug})


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    slug = models.SlugField(_("slug"), max_length=220, unique=True)
    description = models.TextField(_("description"), blank=True)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    stock_quantity = models.PositiveIntegerField(_("stock"), default=0)
    is_published = models.BooleanField(_("published"), default=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    search_vector = SearchVectorField(null=True, editable=False)
    """Names (A), descriptions (B) and category names (C) in both languages; see ``catalog.text``."""

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["is_published", "category", "price"]),
            GinIndex(fields=["search_vector"]),
        ]
        constraints = [models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative")]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return self.name_zh if self.name_zh and _in_chinese() else self.name

    @property
    def display_description(self) -> str:
        return self.description_zh if self.description_zh and _in_chinese() else self.description

    def get_absolute_url(self) -> str:
        return reverse("shop:product", kwargs={"slug": self.slug})

    @property
    def in_stock(self) -> bool:
        return self.stock_quantity > 0


class ProductVariant(models.Model):
    """One buyable version of a product (a colour, a size, "red, M"), with its own SKU and stock.

    A product with variants is bought through one of them; its ``stock_quantity`` is then the sum of its
    variants' stock, kept by ``catalog.services.product_stock_sync`` so listings and badges read one column.
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("variant"), max_length=120, help_text=_("what the shopper chooses: Red, XL, Red / XL"))
    name_zh = models.CharField(_("variant (Chinese)"), max_length=120, blank=True)
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.00"))], help_text=_("empty: the product's price"),
    )
    stock_quantity = models.PositiveIntegerField(_("stock"), default=0)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "name"], name="productvariant_name_unique_per_product"),
            models.CheckConstraint(
                condition=models.Q(price__isnull=True) | models.Q(price__gte=0), name="productvariant_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} — {self.name}"

    @property
    def display_name(self) -> str:
        return self.name_zh if self.name_zh and _in_chinese() else self.name

    @property
    def unit_price(self) -> Decimal:
        return self.unit_price_of(self.product)

    def unit_price_of(self, product: Product) -> Decimal:
        """The price with the product already at hand (no query for it)."""
        return self.price if self.price is not None else product.price

    @property
    def in_stock(self) -> bool:
        return self.stock_quantity > 0


def _image_path(instance: "ProductImage", filename: str) -> str:
    return f"products/{instance.content_hash[:2]}/{instance.content_hash}.jpg"


def _thumbnail_path(instance: "ProductImage", filename: str) -> str:
    return f"products/{instance.content_hash[:2]}/{instance.content_hash}-thumb.jpg"


class ProductImageKind(models.TextChoices):
    CATALOGUE = "catalogue", _("catalogue photo (shown in the shop)")
    LABELLED = "labelled", _("labelled shopper photo (training only, never shown)")


class ProductImageQuerySet(models.QuerySet):
    def listed(self) -> "ProductImageQuerySet":
        """Photos the shop shows and searches; labelled shopper photos only teach the model."""
        return self.filter(kind=ProductImageKind.CATALOGUE)


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    variant = models.ForeignKey(
        ProductVariant, null=True, blank=True, on_delete=models.SET_NULL, related_name="images",
        verbose_name=_("variant"), help_text=_("the variant this picture shows (a red one); empty: the product"),
    )
    """Same product only (checked by the services and the admin form): a search that matches this picture opens
    the product with this variant chosen."""
    kind = models.CharField(
        _("kind"), max_length=10, choices=ProductImageKind.choices, default=ProductImageKind.CATALOGUE, db_index=True
    )
    position = models.PositiveIntegerField(default=0)
    alt_text = models.CharField(_("alt text"), max_length=200, blank=True)
    image = models.ImageField(upload_to=_image_path)
    thumbnail = models.ImageField(upload_to=_thumbnail_path)
    width = models.PositiveIntegerField(editable=False)
    height = models.PositiveIntegerField(editable=False)
    content_hash = models.CharField(max_length=64, editable=False, db_index=True)
    colours = models.JSONField(null=True, blank=True, editable=False)
    """The product's named colours in this picture, largest share first: [{"key", "share", "hex"}] (set by the
    embedding worker, see ``visualsearch.colours``); null until measured."""
    colour_keys = ArrayField(models.CharField(max_length=16), null=True, blank=True, editable=False)
    """The keys of ``colours``, for the colour filter's GIN index."""
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProductImageQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        indexes = [GinIndex(fields=["colour_keys"], name="catalog_productimage_colours")]
        constraints = [
            models.UniqueConstraint(fields=["product", "content_hash"], name="productimage_unique_per_product"),
        ]

    def __str__(self) -> str:
        return self.alt_text or f"{self.product.name} #{self.position}"


class CatalogueWord(models.Model):
    """A word of the catalogue's product names, with its trigrams: typo-tolerant search corrects a query's words
    against this (small) vocabulary instead of comparing trigrams with every product (see ``catalog.text``)."""

    word = models.CharField(max_length=64, unique=True)
    trigrams = ArrayField(models.CharField(max_length=3))
    trigram_count = models.PositiveSmallIntegerField()

    class Meta:
        indexes = [GinIndex(fields=["trigrams"], name="catalog_word_trigrams")]

    def __str__(self) -> str:
        return self.word
