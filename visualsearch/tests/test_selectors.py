from decimal import Decimal

import pytest

from catalog.models import Category
from visualsearch.services import product_image_add
from conftest import demo_asset_bytes
from recommendations.selectors import similar_items
from visualsearch.selectors import SearchFilters, photo_embed, products_near_vector

from .fixtures import CATALOGUE, query_copy

pytestmark = pytest.mark.django_db


def _search(data: bytes, **filters):
    key, vector = photo_embed(data)
    return products_near_vector(vector=vector, model_key=key, filters=SearchFilters(**filters), limit=8)


@pytest.mark.parametrize("asset,name", [(a, n) for a, n, _, _ in CATALOGUE])
def test_a_shoppers_copy_finds_its_product_first(catalogue, asset, name):
    results = _search(query_copy(demo_asset_bytes(asset)))
    assert results[0].product.name == name
    assert results[0].similarity > 0.8


def test_one_card_per_product_with_its_best_image(catalogue):
    shoe = catalogue["Athletic Shoe"]
    second, _ = product_image_add(product=shoe, data=demo_asset_bytes("1f97e.webp"))  # a boot picture, too
    from visualsearch.services import embeddings_compute

    embeddings_compute(embedding_ids=list(second.embeddings.values_list("id", flat=True)))

    results = _search(query_copy(demo_asset_bytes("1f97e.webp")))

    names = [m.product.name for m in results]
    assert len(names) == len(set(names)) == 8
    assert results[0].product.name in {"Hiking Boot", "Athletic Shoe"}
    shoe_match = next(m for m in results if m.product.id == shoe.id)
    assert shoe_match.image.id == second.id


def test_category_filter_includes_subcategories_and_still_fills_the_page(catalogue):
    fashion = Category.objects.get(name="Fashion")
    results = _search(query_copy(demo_asset_bytes("1fad6.webp")), category=fashion)
    assert sorted(m.product.name for m in results) == ["Athletic Shoe", "High Heel", "Hiking Boot"]


def test_price_filter_is_applied_in_the_query(catalogue):
    results = _search(query_copy(demo_asset_bytes("1f45f.webp")), min_price=Decimal("30"), max_price=Decimal("100"))
    assert sorted(m.product.name for m in results) == ["Athletic Shoe", "High Heel", "Teapot"]
    assert results[0].product.name == "Athletic Shoe"


def test_unpublished_products_are_never_shown(catalogue):
    catalogue["Teapot"].is_published = False
    catalogue["Teapot"].save()
    results = _search(query_copy(demo_asset_bytes("1fad6.webp")))
    assert "Teapot" not in [m.product.name for m in results]
    assert len(results) == 7


def test_similar_items_exclude_the_product_and_unpublished_ones(catalogue):
    catalogue["Hiking Boot"].is_published = False
    catalogue["Hiking Boot"].save()
    similar = similar_items(product=catalogue["Red Apple"])
    names = [m.product.name for m in similar]
    assert names[0] == "Green Apple"
    assert "Red Apple" not in names and "Hiking Boot" not in names
    assert len(names) == 6


def test_similar_items_of_a_product_without_vectors_is_empty(catalogue):
    from catalog.tests.factories import ProductFactory

    assert similar_items(product=ProductFactory()) == []
