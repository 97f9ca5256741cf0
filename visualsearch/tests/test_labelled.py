import numpy as np
import pytest

from catalog.models import ProductImageKind
from visualsearch.services import product_image_add
from conftest import demo_asset_bytes
from visualsearch.models import EmbeddingStatus, ImageEmbedding
from visualsearch.selectors import photo_embed, products_near_vector
from visualsearch.services import embeddings_compute

from .fixtures import query_copy

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled_photo(catalogue):
    """A shopper's photo of the teapot, attached as labelled, embedded like any image."""
    image, _ = product_image_add(
        product=catalogue["Teapot"], data=query_copy(demo_asset_bytes("1fad6.webp"), crop=0.25),
        kind=ProductImageKind.LABELLED, enqueue=False,
    )
    embeddings_compute(embedding_ids=list(
        ImageEmbedding.objects.filter(image=image, status=EmbeddingStatus.PENDING).values_list("id", flat=True)))
    assert ImageEmbedding.objects.get(image=image).status == EmbeddingStatus.READY
    return image


def test_search_never_returns_a_labelled_photo(catalogue, labelled_photo):
    # the query is the labelled photo itself: its own vector is the nearest one in the table
    key, vector = photo_embed(query_copy(demo_asset_bytes("1fad6.webp"), crop=0.25))
    stored = np.asarray(ImageEmbedding.objects.get(image=labelled_photo).vector, dtype=np.float32)
    assert float(stored @ vector) > 0.99

    matches = products_near_vector(vector=vector, model_key=key, limit=8)

    assert matches[0].product == catalogue["Teapot"]
    assert matches[0].image.kind == ProductImageKind.CATALOGUE
    assert labelled_photo.id not in {m.image.id for m in matches}


def test_product_page_shows_only_catalogue_photos(client, catalogue, labelled_photo):
    teapot = catalogue["Teapot"]

    html = client.get(teapot.get_absolute_url()).content.decode()

    assert teapot.images.listed().get().thumbnail.url in html or teapot.images.listed().get().image.url in html
    assert labelled_photo.image.url not in html and labelled_photo.thumbnail.url not in html
