from decimal import Decimal

import pytest
from django.contrib.postgres.search import SearchQuery
from PIL import Image

from catalog.models import Product, ProductImage
from catalog.services import ProductData, category_get_or_create_path, product_create
from visualsearch.services import product_image_add
from conftest import media_files, photo_bytes
from visualsearch.errors import ErrorCode, ImageRejected
from visualsearch.models import ImageEmbedding

from .factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_product_image_add_stores_reencoded_jpeg_and_thumbnail_and_a_pending_embedding(_media_root):
    product = ProductFactory()

    image, created = product_image_add(product=product, data=photo_bytes(size=(640, 480), fmt="PNG"))

    assert created is True
    assert (image.width, image.height, image.position) == (640, 480, 0)
    with Image.open(image.image.path) as stored:
        assert (stored.format, stored.size) == ("JPEG", (640, 480))
    with Image.open(image.thumbnail.path) as thumb:
        assert thumb.size == (400, 300)
    assert len(media_files(_media_root)) == 2
    rows = list(ImageEmbedding.objects.filter(image=image).values_list("model_key", "status", "attempts"))
    assert rows == [("effnet-lite1-avg-240", "pending", 0)]


def test_same_photo_twice_is_one_image():
    product = ProductFactory()
    data = photo_bytes()
    first, _ = product_image_add(product=product, data=data)

    again, created = product_image_add(product=product, data=data)

    assert (again.id, created) == (first.id, False)
    assert ProductImage.objects.count() == 1 and ImageEmbedding.objects.count() == 1


def test_second_photo_goes_after_the_first():
    product = ProductFactory()
    product_image_add(product=product, data=photo_bytes())
    second, _ = product_image_add(product=product, data=photo_bytes(colour=(0, 0, 200)))
    assert second.position == 1


def test_refused_photo_stores_nothing(_media_root):
    product = ProductFactory()
    with pytest.raises(ImageRejected) as caught:
        product_image_add(product=product, data=b"GIF89a not really")
    assert caught.value.code == ErrorCode.IMAGE_UNREADABLE
    assert ProductImage.objects.count() == 0
    assert ImageEmbedding.objects.count() == 0
    assert media_files(_media_root) == []


def test_category_path_creates_the_tree_once():
    leaf = category_get_or_create_path(path="Home / Kitchen / Teapots")
    same = category_get_or_create_path(path="Home/Kitchen/Teapots")
    assert leaf.id == same.id
    assert [leaf.name, leaf.parent.name, leaf.parent.parent.name] == ["Teapots", "Kitchen", "Home"]
    assert leaf.parent.parent.parent is None


def test_product_create_makes_a_unique_slug_and_is_found_by_full_text():
    category = category_get_or_create_path(path="Shoes")
    data = ProductData(sku="A1", name="Trail Runner", category=category, price=Decimal("89.00"),
                       description="Grippy sole for mud")
    first = product_create(data=data)
    second = product_create(data=ProductData(**{**data.__dict__, "sku": "A2"}))

    assert (first.slug, second.slug) == ("trail-runner", "trail-runner-2")
    assert list(Product.objects.filter(search_vector=SearchQuery("grippy", config="english")).values_list("sku", flat=True).order_by("sku")) == ["A1", "A2"]
