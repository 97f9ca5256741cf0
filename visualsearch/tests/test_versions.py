import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from visualsearch.services import product_image_add
from conftest import demo_asset_bytes
from visualsearch.models import EmbeddingStatus, ImageEmbedding, ModelVersion
from visualsearch.selectors import active_model_key, active_model_key_recent, photo_embed, products_near_vector
from visualsearch.services import embeddings_compute
from visualsearch.versions import (
    VersionError,
    VersionErrorCode,
    model_version_activate,
    model_version_backfill,
    model_version_coverage,
    model_version_register,
)

from .fixtures import query_copy

pytestmark = pytest.mark.django_db
DEFAULT = "effnet-lite1-avg-240"
NEW = "effnet-lite0-avg-288"


def _workers_run(key: str) -> None:
    """What the Celery workers do with the backfill's messages: the same service, in this process."""
    embeddings_compute(embedding_ids=list(
        ImageEmbedding.objects.filter(model_key=key, status=EmbeddingStatus.PENDING).values_list("id", flat=True)
    ))


def test_backfill_fills_the_new_key_while_search_keeps_the_active_one(catalogue):
    # given a catalogue searched with the default key, and a new version registered and backfilled
    model_version_register(key=NEW)
    sent = model_version_backfill(key=NEW)

    # then every image has a pending row for the new key, and search still answers from the default key
    assert sent == 8
    assert ImageEmbedding.objects.filter(model_key=NEW, status=EmbeddingStatus.PENDING).count() == 8
    assert active_model_key() == DEFAULT
    key, vector = photo_embed(query_copy(demo_asset_bytes("1f3b8.webp")))
    assert key == DEFAULT
    assert products_near_vector(vector=vector, model_key=key, limit=1)[0].product == catalogue["Guitar"]
    assert model_version_coverage(key=NEW).ready == 0


def test_switch_is_refused_until_every_image_has_a_vector_for_the_new_key(catalogue):
    model_version_register(key=NEW)
    model_version_backfill(key=NEW)
    first = ImageEmbedding.objects.filter(model_key=NEW).order_by("id").first()
    embeddings_compute(embedding_ids=[first.id])

    with pytest.raises(VersionError) as refused:
        model_version_activate(key=NEW)

    assert refused.value.code == VersionErrorCode.BACKFILL_INCOMPLETE
    assert "1 of 8 images" in refused.value.message
    assert active_model_key() == DEFAULT
    assert list(ModelVersion.objects.filter(is_active=True).values_list("key", flat=True)) == [DEFAULT]


def test_switch_then_switch_back_without_downtime(client, catalogue):
    # given the new key fully backfilled
    model_version_register(key=NEW)
    model_version_backfill(key=NEW)
    _workers_run(NEW)
    assert model_version_coverage(key=NEW).complete

    # when staff switch to it
    model_version_activate(key=NEW)
    upload = SimpleUploadedFile("q.jpg", query_copy(demo_asset_bytes("1f3b8.webp")), content_type="image/jpeg")
    body = client.post("/api/v1/search/image", {"image": upload, "limit": 3}).json()

    # then search answers with the new key, and finds the same product first
    assert body["model_key"] == NEW
    assert body["results"][0]["product_id"] == catalogue["Guitar"].id

    # and an image added now is embedded for both keys, so switching back stays possible at once
    image, _ = product_image_add(product=catalogue["Teapot"], data=query_copy(demo_asset_bytes("1fad6.webp"), crop=0.3))
    assert set(ImageEmbedding.objects.filter(image=image).values_list("model_key", flat=True)) == {DEFAULT, NEW}
    _workers_run(NEW)
    _workers_run(DEFAULT)
    model_version_activate(key=DEFAULT)
    assert active_model_key() == DEFAULT


def test_similar_items_see_a_switch_here_at_once_and_one_made_elsewhere_within_the_max_age(catalogue, settings):
    settings.VISUALSEARCH_ACTIVE_KEY_MAX_AGE = 60
    model_version_register(key=NEW)
    model_version_backfill(key=NEW)
    _workers_run(NEW)
    assert active_model_key_recent() == DEFAULT

    # a switch made by this process shows at once
    model_version_activate(key=NEW)
    assert active_model_key_recent() == NEW

    # one made by another process (here: the same rows written directly) shows once the remembered key is old
    ModelVersion.objects.filter(key=NEW).update(is_active=False)
    ModelVersion.objects.filter(key=DEFAULT).update(is_active=True)
    assert active_model_key_recent() == NEW
    settings.VISUALSEARCH_ACTIVE_KEY_MAX_AGE = 0
    assert active_model_key_recent() == DEFAULT
    assert active_model_key() == DEFAULT


def test_unknown_or_duplicate_keys_are_refused_and_nothing_is_written(catalogue):
    with pytest.raises(VersionError) as unknown:
        model_version_register(key="no-such-model")
    assert unknown.value.code == VersionErrorCode.UNKNOWN_MODEL_KEY

    model_version_register(key=NEW)
    with pytest.raises(VersionError) as duplicate:
        model_version_register(key=NEW)
    assert duplicate.value.code == VersionErrorCode.VERSION_EXISTS
    assert sorted(ModelVersion.objects.values_list("key", flat=True)) == sorted([DEFAULT, NEW])

    with pytest.raises(VersionError) as missing:
        model_version_activate(key="never-registered")
    assert missing.value.code == VersionErrorCode.VERSION_NOT_AVAILABLE
    assert ImageEmbedding.objects.exclude(model_key=DEFAULT).count() == 0
