import io
from decimal import Decimal

import pytest
from PIL import Image

from catalog.services import category_get_or_create_path

from visualsearch.services import product_image_add
from catalog.tests.factories import ProductFactory
from conftest import demo_asset_bytes
from visualsearch.models import ImageEmbedding
from visualsearch.services import embeddings_compute

# (demo picture, name, category, price)
CATALOGUE = [
    ("1f45f.webp", "Athletic Shoe", "Fashion/Shoes", "89.00"),
    ("1f97e.webp", "Hiking Boot", "Fashion/Shoes", "129.00"),
    ("1f460.webp", "High Heel", "Fashion/Shoes", "59.00"),
    ("1fad6.webp", "Teapot", "Home/Kitchen", "35.00"),
    ("2615.webp", "Hot Beverage", "Home/Kitchen", "12.00"),
    ("1f34e.webp", "Red Apple", "Groceries", "1.20"),
    ("1f34f.webp", "Green Apple", "Groceries", "1.10"),
    ("1f3b8.webp", "Guitar", "Music", "349.00"),
]


def query_copy(data: bytes, *, crop=0.15, size=(300, 300), quality=70, flip=False) -> bytes:
    """A shopper's version of a catalogue picture: cropped, resized and re-encoded (optionally mirrored)."""
    image = Image.open(io.BytesIO(data)).convert("RGBA")
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, mask=image.getchannel("A"))
    w, h = flat.size
    dx, dy = int(w * crop / 2), int(h * crop / 2)
    flat = flat.crop((dx, dy, w - dx, h - dy)).resize(size)
    if flip:
        flat = flat.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    out = io.BytesIO()
    flat.save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture
def catalogue(db):
    """The eight products above, each with its real picture embedded by the real model."""
    products = {}
    for asset, name, category, price in CATALOGUE:
        product = ProductFactory(name=name, category=category_get_or_create_path(path=category), price=Decimal(price))
        product_image_add(product=product, data=demo_asset_bytes(asset), enqueue=False)
        products[name] = product
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.values_list("id", flat=True)))
    assert set(ImageEmbedding.objects.values_list("status", flat=True)) == {"ready"}
    return products


def two_things_photo(size=(900, 450)) -> tuple[bytes, tuple, tuple]:
    """A guitar and a teapot apart on a table-coloured background; returns the photo and each one's true box."""
    photo = Image.new("RGB", size, (232, 226, 214))
    boxes = []
    for name, side, (left, top) in (("1f3b8.webp", 320, (40, 60)), ("1fad6.webp", 260, (560, 110))):
        thing = Image.open(io.BytesIO(demo_asset_bytes(name))).convert("RGBA")
        thing.thumbnail((side, side))
        photo.paste(thing, (left, top), thing)
        x0, y0, x1, y1 = thing.getchannel("A").getbbox()
        boxes.append(((left + x0) / size[0], (top + y0) / size[1], (left + x1) / size[0], (top + y1) / size[1]))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=90)
    return out.getvalue(), boxes[0], boxes[1]
