"""Variants: a product sold in colours or sizes, each with its own SKU, stock and optional price; a picture may
belong to a variant, and a photo search that matches it answers that variant."""

from decimal import Decimal

import pytest

from catalog.models import Product, ProductImage, ProductVariant
from catalog.services import (
    VariantData,
    VariantMismatch,
    VariantSkuTaken,
    product_update,
    product_variant_create,
    product_variant_delete,
    product_variant_update,
)
from catalog.tests.factories import ProductFactory
from conftest import demo_asset_bytes
from shop.outbox.models import Event
from visualsearch.models import ImageEmbedding
from visualsearch.selectors import photo_query, products_near_photo, products_similar_to_product
from visualsearch.services import embeddings_compute, product_image_add
from visualsearch.tests.fixtures import query_copy

HEARTS = [("Red", "2764-fe0f.webp"), ("Blue", "1f499.webp"), ("Green", "1f49a.webp")]


def _cushion(**fields) -> tuple[Product, dict[str, ProductVariant]]:
    cushion = ProductFactory(name="Heart Cushion", sku="HEART", price=Decimal("24.90"), stock_quantity=0, **fields)
    variants = {
        name: product_variant_create(product=cushion, data=VariantData(sku=f"HEART-{name.upper()}", name=name,
                                                                        stock_quantity=stock))
        for (name, _), stock in zip(HEARTS, (3, 5, 0))
    }
    return cushion, variants


@pytest.mark.django_db
def test_the_products_stock_is_the_sum_of_its_variants_and_follows_each_change():
    cushion, variants = _cushion()
    cushion.refresh_from_db()
    assert cushion.stock_quantity == 8

    product_variant_update(variant=variants["Green"], stock_quantity=4, price=Decimal("26.90"))
    cushion.refresh_from_db()
    assert cushion.stock_quantity == 12
    assert ProductVariant.objects.get(sku="HEART-GREEN").unit_price == Decimal("26.90")
    assert ProductVariant.objects.get(sku="HEART-RED").unit_price == Decimal("24.90")  # the product's

    # A product form that sends its own stock cannot override the variants' sum.
    product_update(product=cushion, stock_quantity=99)
    assert Product.objects.get(id=cushion.id).stock_quantity == 12

    product_variant_delete(variant=variants["Red"])
    assert Product.objects.get(id=cushion.id).stock_quantity == 9
    assert Event.objects.filter(topic="product.updated").count() == 6  # 3 creates, update, product, delete


@pytest.mark.django_db
def test_a_sku_names_one_thing_a_variant_cannot_take_a_products_or_another_variants_sku():
    cushion, _ = _cushion()
    other = ProductFactory(sku="MUG-1")
    before = ProductVariant.objects.count()

    for sku in ("MUG-1", "HEART", "HEART-RED"):
        with pytest.raises(VariantSkuTaken):
            product_variant_create(product=cushion, data=VariantData(sku=sku, name=f"New {sku}"))

    assert ProductVariant.objects.count() == before
    assert other.variants.count() == 0


@pytest.mark.django_db
def test_a_picture_cannot_belong_to_another_products_variant_and_nothing_is_stored():
    cushion, variants = _cushion()
    mug = ProductFactory(name="Mug")

    with pytest.raises(VariantMismatch):
        product_image_add(product=mug, data=demo_asset_bytes("1f499.webp"), variant=variants["Blue"], enqueue=False)

    assert ProductImage.objects.count() == 0
    assert ImageEmbedding.objects.count() == 0


@pytest.fixture
def cushion_with_pictures(db):
    """The cushion in three colours, each with its own real picture, among a few other products, embedded by
    the real model."""
    cushion, variants = _cushion()
    for name, asset in HEARTS:
        product_image_add(product=cushion, data=demo_asset_bytes(asset), variant=variants[name], enqueue=False)
    for asset, name in [("1fad6.webp", "Teapot"), ("1f45f.webp", "Trainer"), ("1f9e1.webp", "Orange Heart Badge")]:
        product_image_add(product=ProductFactory(name=name), data=demo_asset_bytes(asset), enqueue=False)
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.values_list("id", flat=True)))
    assert set(ImageEmbedding.objects.values_list("status", flat=True)) == {"ready"}
    return cushion, variants


def test_a_photo_of_the_blue_one_finds_the_cushion_with_the_blue_variant(cushion_with_pictures):
    cushion, variants = cushion_with_pictures
    for name, asset in HEARTS:
        query = photo_query(query_copy(demo_asset_bytes(asset)))

        results = products_near_photo(vector=query.vector, model_key=query.model_key)

        assert results[0].product == cushion
        assert results[0].image.variant == variants[name]
        # One entry per product: the sibling colours are not listed as other results.
        assert [m.product.id for m in results].count(cushion.id) == 1


def test_similar_items_of_a_product_in_variants_are_other_products(cushion_with_pictures):
    cushion, _ = cushion_with_pictures

    similar = products_similar_to_product(product=cushion, limit=8)

    assert similar and cushion.id not in [m.product.id for m in similar]
    assert similar[0].product.name == "Orange Heart Badge"  # the nearest other product: another heart
