import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import ProductImageKind
from visualsearch.services import product_image_add
from conftest import demo_asset_bytes
from visualsearch.embedding import LinearAdapter, adapter_spec, embedder_for, spec_for
from visualsearch.models import EmbeddingStatus, ImageEmbedding, ModelVersion, ModelVersionStatus
from visualsearch.services import embeddings_compute
from visualsearch.training import (
    AdapterSettings,
    TrainingData,
    TrainingError,
    adapter_train,
    adapter_train_and_register,
    adapter_version_start,
    adapter_version_train,
)
from visualsearch.intake import stored_image_open
from visualsearch.versions import model_version_activate, model_version_backfill, model_version_coverage

from .fixtures import query_copy

DEFAULT = "effnet-lite1-avg-240"


def _shifted_domain(seed: int = 0) -> TrainingData:
    """Six products; shoppers' photos share a strong 'shop floor' direction that hides which product they show."""
    rng = np.random.default_rng(seed)
    dim, products = 32, 6
    centres = rng.normal(size=(products, dim))
    floor = rng.normal(size=dim) * 6
    vectors, labels, labelled = [], [], []
    for p in range(products):
        vectors.append(centres[p])
        labels.append(p)
        labelled.append(False)
        for _ in range(20):
            vectors.append(centres[p] * 0.3 + floor + rng.normal(size=dim) * 0.5)
            labels.append(p)
            labelled.append(True)
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return TrainingData(vectors=vectors, products=np.asarray(labels), labelled=np.asarray(labelled))


def test_adapter_learns_what_the_base_geometry_misses_on_held_out_photos():
    result = adapter_train(_shifted_domain(), settings=AdapterSettings(epochs=30))

    assert result.training_images == 126
    assert result.metrics["holdout_photos"] == 24  # 20 % of each product's 20 photos
    assert result.metrics["holdout_recall_at_1_base"] < 0.3  # the shop floor hides the product
    assert result.metrics["holdout_recall_at_1"] >= 0.75
    assert 0 < result.metrics["training_seconds"] < 600


def test_adapter_round_trips_through_bytes_and_gives_unit_vectors():
    rng = np.random.default_rng(1)
    adapter = LinearAdapter(mean=rng.normal(size=4).astype(np.float32),
                            weight=rng.normal(size=(4, 3)).astype(np.float32), bias=np.zeros(3, np.float32))
    again = LinearAdapter.from_bytes(adapter.to_bytes())
    x = rng.normal(size=(5, 4)).astype(np.float32)

    np.testing.assert_array_equal(again.apply(x), adapter.apply(x))
    np.testing.assert_allclose(np.linalg.norm(again.apply(x), axis=1), np.ones(5), rtol=1e-5)


def test_adapter_spec_reuses_the_base_preprocessing_and_rejects_a_wrong_size():
    base = spec_for(DEFAULT)
    adapter = LinearAdapter(mean=np.zeros(1280, np.float32), weight=np.eye(1280, 64, dtype=np.float32),
                            bias=np.zeros(64, np.float32))

    spec = adapter_spec(key="test@adapter", base_key=DEFAULT, adapter=adapter)

    assert spec.dimension == 64 and spec.preprocessing == base.preprocessing and spec.base_key == DEFAULT
    with pytest.raises(ValueError, match="takes 1280-d"):
        adapter_spec(key="x@bad", base_key="resnet50-v2-avg-224", adapter=adapter)


def test_too_little_data_is_a_clear_error():
    data = _shifted_domain()
    only_catalogue = TrainingData(data.vectors[~data.labelled], data.products[~data.labelled],
                                  data.labelled[~data.labelled])
    with pytest.raises(TrainingError, match="labelled shopper photos"):
        adapter_train(only_catalogue)


@pytest.mark.django_db
def test_training_without_labelled_photos_fails_the_version_and_stores_no_weights(catalogue):
    version = adapter_version_start(base_key=DEFAULT)

    version = adapter_version_train(version_id=version.id)

    assert version.status == ModelVersionStatus.FAILED
    assert "labelled shopper photos" in version.message
    assert version.adapter_weights is None
    # a failed version is never embedded for
    product_image_add(product=catalogue["Teapot"], data=query_copy(demo_asset_bytes("1fad6.webp"), crop=0.3))
    assert not ImageEmbedding.objects.filter(model_key=version.key).exists()


@pytest.mark.django_db
def test_labelled_photos_train_an_adapter_that_search_can_switch_to(client, catalogue):
    # given shoppers' photos (cropped, mirrored copies) attached to three products as labelled photos
    for asset, name in [("1f45f.webp", "Athletic Shoe"), ("1f97e.webp", "Hiking Boot"), ("1f3b8.webp", "Guitar")]:
        for crop, flip in [(0.1, False), (0.2, True), (0.3, False)]:
            product_image_add(product=catalogue[name], data=query_copy(demo_asset_bytes(asset), crop=crop, flip=flip),
                              kind=ProductImageKind.LABELLED, enqueue=False)
    embeddings_compute(embedding_ids=list(
        ImageEmbedding.objects.filter(status=EmbeddingStatus.PENDING).values_list("id", flat=True)))

    # when an adapter is trained and registered
    version = adapter_train_and_register(base_key=DEFAULT, settings=AdapterSettings(epochs=5))

    # then it is a new available version with its metrics and training size, resolvable in any process
    assert version.status == ModelVersionStatus.AVAILABLE and not version.is_active
    assert version.key.startswith(DEFAULT + "@adapter-")
    assert version.training_images == 17  # 8 catalogue images + 9 labelled photos
    assert version.metrics["holdout_photos"] == 3
    assert 0.0 < version.metrics["close_match_similarity"] <= 1.0
    assert spec_for(version.key).dimension == 1280
    assert embedder_for(version.key).embed([]).shape == (0, 1280)

    # and after its backfill search switches to it; labelled photos are never results
    # the backfill fills the adapter's key from the stored base vectors: complete at once, no worker needed,
    # and equal to embedding the picture afresh with the adapter key (up to the half-precision storage)
    model_version_backfill(key=version.key)
    assert model_version_coverage(key=version.key).complete
    guitar_image = catalogue["Guitar"].images.listed().get()
    stored = np.asarray(ImageEmbedding.objects.get(image=guitar_image, model_key=version.key).vector, np.float32)
    with guitar_image.image.open("rb") as handle:
        fresh = embedder_for(version.key).embed([stored_image_open(handle.read())])[0]
    assert float(stored @ fresh) > 0.999
    model_version_activate(key=version.key)
    upload = SimpleUploadedFile("q.jpg", query_copy(demo_asset_bytes("1f3b8.webp"), crop=0.2), content_type="image/jpeg")
    body = client.post("/api/v1/search/image", {"image": upload, "limit": 8}).json()
    assert body["model_key"] == version.key
    assert body["results"][0]["product_id"] == catalogue["Guitar"].id
    listed_ids = {im.id for p in catalogue.values() for im in p.images.listed()}
    assert {r["image_id"] for r in body["results"]} <= listed_ids
    assert ModelVersion.objects.get(is_active=True).key == version.key
