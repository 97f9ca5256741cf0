"""Every catalogue write with side effects. Admin, API, commands and tasks call these (directly, or through
``visualsearch.services.product_image_add`` for photos, which checks and embeds them).

Product changes are announced as outbox events in the same transaction (``product.created``,
``product.updated``); who listens (partner webhooks) is not this app's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import slugify

from shop.outbox.services import event_record

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


def product_payload(product: Product) -> dict:
    """What a product event carries (and partners receive in its webhook)."""
    return {
        "id": product.id,
        "sku": product.sku,
        "name": product.name,
        "slug": product.slug,
        "price": str(product.price),
        "currency": product.currency,
        "stock_quantity": product.stock_quantity,
        "is_published": product.is_published,
        "category": product.category.slug,
        "updated_at": product.updated_at.isoformat(),
    }


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
    event_record(topic="product.created", payload=product_payload(product))
    return product


@transaction.atomic
def product_update(*, product: Product, **fields: object) -> Product:
    for name, value in fields.items():
        setattr(product, name, value)
    product.save()
    _search_vector_refresh(product.id)
    event_record(topic="product.updated", payload=product_payload(product))
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


@dataclass(frozen=True)
class PictureData:
    """A photo already checked and re-encoded by the intake (``visualsearch.intake``): what the catalogue stores."""

    jpeg: bytes
    thumbnail_jpeg: bytes
    width: int
    height: int
    content_hash: str


@transaction.atomic
def product_image_store(
    *,
    product: Product,
    picture: PictureData,
    alt_text: str = "",
    position: int | None = None,
    kind: str = ProductImageKind.CATALOGUE,
) -> tuple[ProductImage, bool]:
    """Store one checked photo of a product. The same photo twice returns the existing image (created=False).

    kind=labelled: a shopper's photo of this product (review, return, ticket); the shop never shows it.
    Callers go through ``visualsearch.services.product_image_add``, which checks the file first and requests
    its embeddings in the same transaction.
    """
    existing = ProductImage.objects.filter(product=product, content_hash=picture.content_hash).first()
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
        content_hash=picture.content_hash,
        width=picture.width,
        height=picture.height,
    )
    image.image.save("image.jpg", ContentFile(picture.jpeg), save=False)
    image.thumbnail.save("thumb.jpg", ContentFile(picture.thumbnail_jpeg), save=False)
    image.save()
    return image, True


@transaction.atomic
def product_image_delete(*, image: ProductImage) -> None:
    image.delete()
