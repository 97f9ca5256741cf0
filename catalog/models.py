from decimal import Decimal

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=140, unique=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:category", kwargs={"slug": self.slug})


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=220, unique=True)
    description = models.TextField(_("description"), blank=True)
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

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["is_published", "category", "price"]),
            GinIndex(fields=["search_vector"]),
        ]
        constraints = [models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:product", kwargs={"slug": self.slug})

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
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProductImageQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "content_hash"], name="productimage_unique_per_product"),
        ]

    def __str__(self) -> str:
        return self.alt_text or f"{self.product.name} #{self.position}"
