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

from .models import CatalogueWord, Category, Product, ProductImage, ProductImageKind


def _unique_slug(model, base: str, *, exclude_id: int | None = None) -> str:
    base = slugify(base, allow_unicode=False)[:200] or "item"
    slug, n = base, 2
    while model.objects.filter(slug=slug).exclude(id=exclude_id).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def category_get_or_create_path(*, path: str, path_zh: str = "") -> Category:
    """"Home/Kitchen/Teapots" -> the leaf category, creating missing levels. ``path_zh`` ("家居/厨房/茶壶") gives
    the levels their Chinese names where they have none yet."""
    parent = None
    names_zh = [part.strip() for part in path_zh.split("/")] if path_zh else []
    for level, name in enumerate([part.strip() for part in path.split("/") if part.strip()]):
        name_zh = names_zh[level] if level < len(names_zh) else ""
        category = Category.objects.filter(parent=parent, name=name).first()
        if category is None:
            category = Category.objects.create(
                parent=parent, name=name, name_zh=name_zh, slug=_unique_slug(Category, name)
            )
        elif name_zh and not category.name_zh:
            Category.objects.filter(id=category.id).update(name_zh=name_zh)
            category.name_zh = name_zh
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
    name_zh: str = ""
    description_zh: str = ""
    currency: str = "EUR"
    stock_quantity: int = 0
    is_published: bool = True


def search_document_refresh(*, product_ids: list[int]) -> None:
    """Rebuild the products' search vectors from their text in both languages, and add their names' words to the
    vocabulary that typos are corrected against.

    English text goes through the ``english`` configuration (stems); Chinese is segmented here
    (``catalog.text``) and stored with the ``simple`` one. Category names count too (weight C): "shoes" finds
    every product in a Shoes department whatever its own name.
    """
    from django.db import connection

    from .text import chinese_index_tokens, name_words, trigrams

    products = Product.objects.filter(id__in=product_ids).select_related("category__parent__parent")
    words = {word for product in products for word in name_words(product.name)}
    CatalogueWord.objects.bulk_create(
        [CatalogueWord(word=w, trigrams=trigrams(w), trigram_count=len(trigrams(w))) for w in sorted(words)],
        ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        for product in products:
            categories, category = [], product.category
            while category is not None:
                categories.append(category)
                category = category.parent
            category_en = " ".join(c.name for c in categories)
            category_zh = " ".join(chinese_index_tokens(" ".join(c.name_zh for c in categories)))
            cursor.execute(
                """UPDATE catalog_product SET search_vector =
                       setweight(to_tsvector('english', %s), 'A') || setweight(to_tsvector('simple', %s), 'A')
                    || setweight(to_tsvector('english', %s), 'B') || setweight(to_tsvector('simple', %s), 'B')
                    || setweight(to_tsvector('english', %s), 'C') || setweight(to_tsvector('simple', %s), 'C')
                   WHERE id = %s""",
                [
                    product.name,
                    " ".join(chinese_index_tokens(product.name_zh)),
                    product.description,
                    " ".join(chinese_index_tokens(product.description_zh)),
                    category_en,
                    category_zh,
                    product.id,
                ],
            )


def _search_vector_refresh(product_id: int) -> None:
    search_document_refresh(product_ids=[product_id])


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
        name_zh=data.name_zh,
        slug=_unique_slug(Product, data.name),
        description=data.description,
        description_zh=data.description_zh,
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
        name_zh=data.name_zh or product.name_zh,
        description_zh=data.description_zh or product.description_zh,
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


def product_image_colours_set(*, image_id: int, colours: list[dict]) -> None:
    """Record the named colours measured on a picture (``visualsearch.colours``), largest share first."""
    ProductImage.objects.filter(id=image_id).update(colours=colours, colour_keys=[c["key"] for c in colours])


@transaction.atomic
def product_image_delete(*, image: ProductImage) -> None:
    image.delete()
