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

from .changes import catalogue_changed, products_changed
from .models import CatalogueWord, Category, Product, ProductImage, ProductImageKind, ProductVariant


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
            catalogue_changed()
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
        "variants": [
            {"sku": v.sku, "name": v.name, "price": str(v.unit_price_of(product)), "stock_quantity": v.stock_quantity}
            for v in product.variants.all()
        ],
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
    product_stock_sync(product_id=product.id)  # with variants, the product's stock is theirs, whatever was sent
    product.refresh_from_db(fields=["stock_quantity"])
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
    variant: ProductVariant | None = None,
) -> tuple[ProductImage, bool]:
    """Store one checked photo of a product. The same photo twice returns the existing image (created=False).

    ``variant``: the variant the photo shows, one of this product's (VariantMismatch otherwise, nothing stored).

    kind=labelled: a shopper's photo of this product (review, return, ticket); the shop never shows it.
    Callers go through ``visualsearch.services.product_image_add``, which checks the file first and requests
    its embeddings in the same transaction.
    """
    if variant is not None and variant.product_id != product.id:
        raise VariantMismatch(variant.sku)
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
        variant=variant,
        alt_text=alt_text[:200] or (f"{product.name}, {variant.name}" if variant is not None else product.name),
        content_hash=picture.content_hash,
        width=picture.width,
        height=picture.height,
    )
    image.image.save("image.jpg", ContentFile(picture.jpeg), save=False)
    image.thumbnail.save("thumb.jpg", ContentFile(picture.thumbnail_jpeg), save=False)
    image.save()
    return image, True


def product_images_colours_set(*, colours: dict[int, list[dict]]) -> None:
    """Record the named colours measured on pictures (``visualsearch.colours``, largest share first), keyed by
    picture id: one UPDATE for a whole embedding batch. A picture deleted meanwhile is skipped."""
    images = [
        ProductImage(id=image_id, colours=found, colour_keys=[c["key"] for c in found])
        for image_id, found in colours.items()
    ]
    if images:
        ProductImage.objects.bulk_update(images, ["colours", "colour_keys"])
        products_changed(product_ids=ProductImage.objects.filter(id__in=list(colours)).values_list(
            "product_id", flat=True))


@transaction.atomic
def product_image_delete(*, image: ProductImage) -> None:
    image.delete()


# --- variants ---------------------------------------------------------------------------------------------------


class VariantMismatch(ValueError):
    """A variant given for a picture (or an order line) belongs to another product."""


class VariantSkuTaken(ValueError):
    """The SKU is already a product's or another variant's: one SKU names one thing the warehouse holds."""


@dataclass(frozen=True)
class VariantData:
    sku: str
    name: str
    name_zh: str = ""
    price: Decimal | None = None
    """None: the product's price."""
    stock_quantity: int = 0
    position: int | None = None


def sku_in_use(sku: str, *, exclude_product_id: int | None = None, exclude_variant_id: int | None = None) -> bool:
    return (
        Product.objects.filter(sku=sku).exclude(id=exclude_product_id).exists()
        or ProductVariant.objects.filter(sku=sku).exclude(id=exclude_variant_id).exists()
    )


def product_stock_sync(*, product_id: int) -> None:
    """A product with variants has the sum of their stock (products without variants are left alone). Called by
    every write that changes a variant's stock, in its transaction, after its variant rows were changed.

    The product row is locked by a statement of its own first: under READ COMMITTED the sum is then read by a
    later statement, whose snapshot includes every other writer that synced before (they hold the lock until
    they commit). Summing inside the locking UPDATE would read a snapshot taken before the wait and lose a
    concurrent checkout's change of another variant.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM catalog_product WHERE id = %s FOR UPDATE", [product_id])
        cursor.execute(
            """UPDATE catalog_product p SET stock_quantity = v.total
                 FROM (SELECT product_id, SUM(stock_quantity) AS total FROM catalog_productvariant
                        WHERE product_id = %s GROUP BY product_id) v
                WHERE p.id = v.product_id""",
            [product_id],
        )
    products_changed(product_ids=[product_id])


@transaction.atomic
def product_variant_create(*, product: Product, data: VariantData) -> ProductVariant:
    """Add a variant; the product's stock becomes its variants' sum. Raises VariantSkuTaken (nothing written)."""
    if sku_in_use(data.sku, exclude_product_id=None):
        raise VariantSkuTaken(data.sku)
    if data.position is None:
        last = product.variants.order_by("-position").values_list("position", flat=True).first()
        position = 0 if last is None else last + 1
    else:
        position = data.position
    variant = ProductVariant.objects.create(
        product=product, sku=data.sku, name=data.name, name_zh=data.name_zh, price=data.price,
        stock_quantity=data.stock_quantity, position=position,
    )
    product_stock_sync(product_id=product.id)
    product.refresh_from_db(fields=["stock_quantity"])
    event_record(topic="product.updated", payload=product_payload(product))
    return variant


@transaction.atomic
def product_variant_update(*, variant: ProductVariant, **fields: object) -> ProductVariant:
    """Change a variant's fields (sku, name, name_zh, price, stock_quantity, position)."""
    if "sku" in fields and sku_in_use(str(fields["sku"]), exclude_variant_id=variant.id):
        raise VariantSkuTaken(str(fields["sku"]))
    for name, value in fields.items():
        setattr(variant, name, value)
    variant.save()
    product_stock_sync(product_id=variant.product_id)
    product = Product.objects.select_related("category").get(id=variant.product_id)
    event_record(topic="product.updated", payload=product_payload(product))
    return variant


@transaction.atomic
def product_variant_delete(*, variant: ProductVariant) -> None:
    """Remove a variant; its pictures stay as the product's. With the last variant gone the product keeps the
    stock it had (the sum of the variants) and is sold as one thing again."""
    product_id = variant.product_id
    variant.delete()
    product_stock_sync(product_id=product_id)
    product = Product.objects.select_related("category").get(id=product_id)
    event_record(topic="product.updated", payload=product_payload(product))


@transaction.atomic
def product_variant_upsert_by_sku(*, product: Product, data: VariantData) -> tuple[ProductVariant, bool]:
    """The import's write: a variant by its SKU, created or updated on this product."""
    variant = ProductVariant.objects.filter(sku=data.sku).first()
    if variant is None:
        return product_variant_create(product=product, data=data), True
    if variant.product_id != product.id:
        raise VariantMismatch(data.sku)
    changes = {"name": data.name, "name_zh": data.name_zh or variant.name_zh, "price": data.price,
               "stock_quantity": data.stock_quantity}
    if data.position is not None:
        changes["position"] = data.position
    return product_variant_update(variant=variant, **changes), False
