"""Every catalogue write with side effects. Admin, API, commands and tasks call these."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import slugify

from visualsearch.intake import image_intake
from visualsearch.selectors import intake_limits
from visualsearch.services import embeddings_request

from .models import Category, Product, ProductImage, ProductImageKind


def _unique_slug(model, base: str, *, exclude_id: int | None = None) -> str:
    base = slugify(base, allow_unicode=False)[:200] or "item"
    slug, n = base, 2
    while model.objects.filter(slug=slug).exclude(id=exclude_id).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def category_get_or_create_path(*, path: str) -> Category:
    """"Home/Kitchen/Teapots" -> the leaf category, creating missing levels."""
    parent = None
    for name in [part.strip() for part in path.split("/") if part.strip()]:
        category = Category.objects.filter(parent=parent, name=name).first()
        if category is None:
            category = Category.objects.create(parent=parent, name=name, slug=_unique_slug(Category, name))
        parent = category
    if parent is None:
        raise ValueError("a category path needs at least one name")
    return parent


@dataclass(frozen=True)
class ProductData:
    sku: str
    name: str
    category: Category
    price: Decimal
    description: str = ""
    currency: str = "EUR"
    stock_quantity: int = 0
    is_published: bool = True


def _search_vector_refresh(product_id: int) -> None:
    from django.contrib.postgres.search import SearchVector

    Product.objects.filter(id=product_id).update(
        search_vector=SearchVector("name", weight="A", config="simple")
        + SearchVector("description", weight="B", config="simple")
    )


@transaction.atomic
def product_create(*, data: ProductData) -> Product:
    product = Product.objects.create(
        sku=data.sku,
        name=data.name,
        slug=_unique_slug(Product, data.name),
        description=data.description,
        price=data.price,
        currency=data.currency,
        stock_quantity=data.stock_quantity,
        is_published=data.is_published,
        category=data.category,
    )
    _search_vector_refresh(product.id)
    return product


@transaction.atomic
def product_update(*, product: Product, **fields: object) -> Product:
    for name, value in fields.items():
        setattr(product, name, value)
    product.save()
    _search_vector_refresh(product.id)
    return product


@transaction.atomic
def product_upsert_by_sku(*, data: ProductData) -> tuple[Product, bool]:
    product = Product.objects.filter(sku=data.sku).first()
    if product is None:
        return product_create(data=data), True
    product_update(
        product=product,
        name=data.name,
        category=data.category,
        price=data.price,
        description=data.description or product.description,
    )
    return product, False


@transaction.atomic
def product_image_add(
    *,
    product: Product,
    data: bytes,
    alt_text: str = "",
    position: int | None = None,
    enqueue: bool = True,
    kind: str = ProductImageKind.CATALOGUE,
) -> tuple[ProductImage, bool]:
    """Validate, re-encode and store one photo of a product; embed it after commit.

    kind=labelled: a shopper's photo of this product (review, return, ticket). It is embedded like the others
    so an adapter can learn from it, but the shop never shows it and search never returns it.

    enqueue=False leaves the pending embedding rows for the caller to send in batches (import).
    Raises ImageRejected (nothing stored) for files that are not acceptable photos. The same photo added
    twice to a product returns the existing image (created=False).
    """
    intake = image_intake(data, limits=intake_limits())
    existing = ProductImage.objects.filter(product=product, content_hash=intake.content_hash).first()
    if existing is not None:
        return existing, False
    if position is None:
        last = product.images.order_by("-position").values_list("position", flat=True).first()
        position = 0 if last is None else last + 1
    image = ProductImage(
        product=product,
        position=position,
        kind=kind,
        alt_text=alt_text[:200] or product.name,
        content_hash=intake.content_hash,
        width=intake.width,
        height=intake.height,
    )
    image.image.save("image.jpg", ContentFile(intake.jpeg), save=False)
    image.thumbnail.save("thumb.jpg", ContentFile(intake.thumbnail_jpeg), save=False)
    image.save()
    embeddings_request(image_ids=[image.id], enqueue=enqueue)
    return image, True


@transaction.atomic
def product_image_delete(*, image: ProductImage) -> None:
    image.delete()
