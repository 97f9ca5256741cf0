"""Embedding work items: computed in-process here with the real model; the worker process is in shop/tests."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from shop.outbox.models import Event
from visualsearch.services import product_image_add
from catalog.tests.factories import ProductFactory
from conftest import photo_bytes
from visualsearch.embedding import embedder_for
from visualsearch.intake import image_intake, stored_image_open
from catalog.models import ProductImage
from visualsearch.models import ImageEmbedding
from visualsearch.services import embeddings_compute, embeddings_reconcile, embeddings_requeue

pytestmark = pytest.mark.django_db


def _image_with_row(**photo):
    image, _ = product_image_add(product=ProductFactory(), data=photo_bytes(**photo))
    return image, ImageEmbedding.objects.get(image=image)


def test_compute_stores_the_vector_of_the_stored_file():
    image, row = _image_with_row()

    assert embeddings_compute(embedding_ids=[row.id]) == {"ready": 1, "failed": 0, "skipped": 0}

    row.refresh_from_db()
    assert (row.status, row.attempts, row.error, row.claimed_at) == ("ready", 1, "", None)
    with image.image.open("rb") as handle:
        expected = embedder_for(row.model_key).embed([stored_image_open(handle.read())])[0]
    np.testing.assert_allclose(np.asarray(row.vector, dtype=np.float32), expected, atol=2e-3)  # halfvec precision


def test_compute_twice_does_no_second_work():
    _, row = _image_with_row()
    embeddings_compute(embedding_ids=[row.id])
    first_vector = ImageEmbedding.objects.get(id=row.id).vector

    assert embeddings_compute(embedding_ids=[row.id]) == {"ready": 0, "failed": 0, "skipped": 1}
    row.refresh_from_db()
    assert row.attempts == 1
    assert np.array_equal(np.asarray(row.vector), np.asarray(first_vector))
    assert ImageEmbedding.objects.count() == 1


def test_missing_stored_file_fails_that_image_only():
    broken, broken_row = _image_with_row()
    _, good_row = _image_with_row(colour=(10, 10, 200))
    broken.image.storage.delete(broken.image.name)

    result = embeddings_compute(embedding_ids=[broken_row.id, good_row.id])

    assert result == {"ready": 1, "failed": 1, "skipped": 0}
    broken_row.refresh_from_db()
    assert broken_row.status == "failed" and "cannot read the stored image" in broken_row.error
    assert ImageEmbedding.objects.get(id=good_row.id).status == "ready"


def test_reconcile_resends_stranded_rows_and_gives_up_on_exhausted_ones(settings, django_capture_on_commit_callbacks):
    settings.VISUALSEARCH_MAX_ATTEMPTS = 3
    _, never_sent = _image_with_row()
    _, died_mid_batch = _image_with_row(colour=(0, 200, 0))
    _, poison = _image_with_row(colour=(0, 0, 200))
    _, fresh = _image_with_row(colour=(90, 90, 0))
    long_ago = timezone.now() - timedelta(hours=1)
    ImageEmbedding.objects.filter(id=never_sent.id).update(enqueued_at=None)
    ImageEmbedding.objects.filter(id=died_mid_batch.id).update(enqueued_at=long_ago, claimed_at=long_ago, attempts=1)
    ImageEmbedding.objects.filter(id=poison.id).update(enqueued_at=long_ago, claimed_at=long_ago, attempts=3)
    ImageEmbedding.objects.filter(id=fresh.id).update(enqueued_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert embeddings_reconcile() == {"requeued": 2, "gave_up": 1}

    assert len(callbacks) == 2  # never-sent rows in batches, rows of a dead batch one by one
    poison.refresh_from_db()
    assert poison.status == "failed" and "gave up after 3 attempts" in poison.error
    announced = Event.objects.get(topic="image.embedding_failed")
    assert (announced.payload["image_id"], announced.payload["status"]) == (poison.image_id, "failed")
    assert ImageEmbedding.objects.get(id=fresh.id).status == "pending"


def test_requeue_resets_a_failed_image():
    image, row = _image_with_row()
    ImageEmbedding.objects.filter(id=row.id).update(status="failed", error="boom", attempts=3)

    assert embeddings_requeue(image_ids=[image.id]) == 1

    row.refresh_from_db()
    assert (row.status, row.error, row.attempts) == ("pending", "", 0)


def test_ready_row_must_have_a_vector():
    from django.db import IntegrityError

    _, row = _image_with_row()
    with pytest.raises(IntegrityError):
        ImageEmbedding.objects.filter(id=row.id).update(status="ready")


def test_rows_of_a_dead_batch_are_sent_one_per_message(monkeypatch, django_capture_on_commit_callbacks):
    from visualsearch import services

    sent = []
    monkeypatch.setattr(services, "embeddings_compute_send", lambda ids: sent.append(ids))
    long_ago = timezone.now() - timedelta(hours=1)
    unsent = [_image_with_row(colour=(c, 0, 0))[1].id for c in (10, 60)]
    dead = [_image_with_row(colour=(0, c, 0))[1].id for c in (10, 60, 110)]
    ImageEmbedding.objects.filter(id__in=unsent).update(enqueued_at=None)
    ImageEmbedding.objects.filter(id__in=dead).update(enqueued_at=long_ago, claimed_at=long_ago, attempts=1)

    with django_capture_on_commit_callbacks(execute=True):
        assert embeddings_reconcile() == {"requeued": 5, "gave_up": 0}

    assert sent == [sorted(unsent), *[[row_id] for row_id in sorted(dead)]]


def test_broker_down_leaves_the_upload_stored_and_the_row_for_the_reconciler(monkeypatch, django_capture_on_commit_callbacks):
    from kombu.exceptions import OperationalError

    from visualsearch import services

    def broker_down(ids):
        raise OperationalError("Error 111 connecting to redis")

    monkeypatch.setattr(services, "embeddings_compute_send", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        image, row = _image_with_row()

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.enqueued_at is not None  # the reconciler sends it again after VISUALSEARCH_RESEND_AFTER_SECONDS


def test_a_batch_writes_its_pictures_colours_in_one_update_and_leaves_measured_ones_alone():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    red, red_row = _image_with_row(colour=(200, 30, 35))
    blue, blue_row = _image_with_row(colour=(40, 90, 200))
    measured, measured_row = _image_with_row(colour=(50, 150, 60))
    kept = [{"key": "green", "share": 0.5, "hex": "#329641"}]
    ProductImage.objects.filter(id=measured.id).update(colours=kept, colour_keys=["green"])

    with CaptureQueriesContext(connection) as queries:
        embeddings_compute(embedding_ids=[red_row.id, blue_row.id, measured_row.id])

    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "catalog_productimage"')]
    assert len(updates) == 1
    colours = dict(ProductImage.objects.values_list("id", "colour_keys"))
    assert colours[red.id][0] == "red" and colours[blue.id][0] == "blue"
    assert ProductImage.objects.get(id=measured.id).colours == kept  # measured once, whatever the key


def test_the_worker_reads_each_stored_picture_back_only_as_far_as_its_key_needs(monkeypatch):
    from visualsearch import services

    image, row = _image_with_row(size=(2400, 2000))
    read = []
    real = services.stored_image_open

    def recording(data, **options):
        picture = real(data, **options)
        read.append((options.get("short_side"), picture.size))
        return picture

    monkeypatch.setattr(services, "stored_image_open", recording)

    assert embeddings_compute(embedding_ids=[row.id])["ready"] == 1

    side = embedder_for(row.model_key).spec.preprocessing.decode_side
    assert side == 480 and read == [(480, (1024, 854))]  # stored at 2048x1707, read at 1/2 (rounded up)
    assert (image.width, image.height) == (2048, 1707)
