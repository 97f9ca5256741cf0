"""Writes with side effects: add a product photo (checked, stored, embedded), request, compute and reconcile
image embeddings, and announce their outcomes as outbox events.

The database is the source of truth: an ``ImageEmbedding`` row in status ``pending`` is work to do. Celery
messages only say "look at these rows now"; the reconciler re-sends what a lost message or a dead worker left.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from pgvector import SparseVector

from catalog.models import Product, ProductImage, ProductImageKind
from catalog.services import PictureData, VariantMismatch, product_image_store, product_images_colours_set
from shop.outbox.services import events_record

from .colours import picture_colours
from .embedding import embedder_for, spec_for
from .intake import IntakeResult, image_intake, stored_image_open
from .models import CONCEPT_COUNT, EmbeddingStatus, ImageEmbedding, ModelVersion, ModelVersionStatus
from . import querysets
from .querysets import embeddings_pending_create, hnsw_index_sql
from .selectors import active_model_key, intake_limits

logger = logging.getLogger(__name__)


def _chunks(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# Tasks are sent by name, so this module never imports tasks.py (which imports it): no cycle.
EMBEDDINGS_COMPUTE_TASK = "visualsearch.tasks.embeddings_compute_task"
ADAPTER_TRAIN_TASK = "visualsearch.tasks.adapter_train_task"


def embeddings_compute_send(embedding_ids: list[int]) -> None:
    """One message: "embed these rows now". Raises the broker's error if it is unreachable."""
    current_app.send_task(EMBEDDINGS_COMPUTE_TASK, args=(embedding_ids,))


def adapter_train_send(version_id: int) -> None:
    current_app.send_task(ADAPTER_TRAIN_TASK, args=(version_id,))


@transaction.atomic
def product_image_add(
    *,
    product: Product,
    data: bytes | None = None,
    intake: IntakeResult | None = None,
    alt_text: str = "",
    position: int | None = None,
    enqueue: bool = True,
    kind: str = ProductImageKind.CATALOGUE,
    variant=None,
    pending_ids: list[int] | None = None,
) -> tuple[ProductImage, bool]:
    """Check, re-encode and store one photo of a product; request its embeddings, sent after commit.

    ``variant``: one of the product's ``ProductVariant``s that the photo shows (checked before anything is
    stored: ``catalog.services.VariantMismatch``).

    The one door for catalogue photos: admin, partner API, import and evaluation all come here.
    enqueue=False leaves the pending embedding rows for the caller to send in batches (import); their ids are
    appended to ``pending_ids`` when the caller gives a list.
    ``intake`` instead of ``data``: what ``image_intake`` made of the file, when the caller ran it already (the
    import checks and re-encodes its files on a thread pool while this stores the rows in order).
    Raises ImageRejected (nothing stored) for files that are not acceptable photos. The same photo added
    twice to a product returns the existing image (created=False).
    """
    if variant is not None and variant.product_id != product.id:
        raise VariantMismatch(variant.sku)
    if (data is None) == (intake is None):
        raise TypeError("product_image_add takes either data or intake")
    if intake is None:
        intake = image_intake(data, limits=intake_limits())
    image, created = product_image_store(
        product=product,
        picture=PictureData(
            jpeg=intake.jpeg,
            thumbnail_jpeg=intake.thumbnail_jpeg,
            width=intake.width,
            height=intake.height,
            content_hash=intake.content_hash,
        ),
        alt_text=alt_text,
        position=position,
        kind=kind,
        variant=variant,
    )
    if created:
        pending = embeddings_request(image_ids=[image.id], enqueue=enqueue)
        if pending_ids is not None:
            pending_ids.extend(pending)
    return image, created


def embeddings_enqueue(embedding_ids: list[int], *, batch_size: int | None = None) -> None:
    """Send the ids to the workers in batches, once the current transaction has committed.

    If the broker is unreachable the rows stay pending with ``enqueued_at`` set: the reconciler sends them again
    later, and the upload that is already committed is not turned into an error.
    """
    from kombu.exceptions import OperationalError as BrokerError

    ids = sorted(set(embedding_ids))
    if not ids:
        return

    def send() -> None:
        ImageEmbedding.objects.filter(id__in=ids).update(enqueued_at=timezone.now())
        for chunk in _chunks(ids, batch_size or settings.VISUALSEARCH_BATCH_SIZE):
            try:
                embeddings_compute_send(chunk)
            except BrokerError as error:
                logger.warning("broker unreachable, %d embedding(s) left to the reconciler: %s", len(chunk), error)
                return

    transaction.on_commit(send)


def model_keys_to_embed() -> list[str]:
    """Keys every new image needs: the active one, plus every other available version (being backfilled, or
    kept so staff can switch back). A version still training, or whose training failed, has no weights yet."""
    rows = ModelVersion.objects.filter(Q(status=ModelVersionStatus.AVAILABLE) | Q(is_active=True)).values_list(
        "key", "status", "is_active"
    )  # one query for both (this runs once per stored picture)
    keys = {key for key, status, _ in rows if status == ModelVersionStatus.AVAILABLE}
    # The active key as active_model_key() reads it: the active version's, else the setting.
    keys.add(next((key for key, _, active in rows if active), None) or settings.VISUALSEARCH_MODEL)
    return sorted(keys)


def embeddings_request(
    *, image_ids: list[int], model_keys: list[str] | None = None, enqueue: bool = True
) -> list[int]:
    """Create pending rows (existing rows are left alone) and enqueue the pending ones after commit.

    Bulk callers pass enqueue=False and send the returned ids with ``embeddings_enqueue`` in one go, so
    the worker gets full batches.
    """
    keys = model_keys or model_keys_to_embed()
    pending = embeddings_pending_create(image_ids=image_ids, model_keys=keys)
    if len(pending) < len(set(image_ids)) * len(set(keys)):  # some rows existed: those still pending go too
        pending = list(
            ImageEmbedding.objects.filter(
                image_id__in=image_ids, model_key__in=keys, status=EmbeddingStatus.PENDING
            ).values_list("id", flat=True)
        )
    if enqueue:
        embeddings_enqueue(pending)
    return pending


def embeddings_requeue(*, image_ids: list[int]) -> int:
    """Staff action: compute these images' vectors again for the active key (attempts start over)."""
    key = active_model_key()
    embeddings_request(image_ids=image_ids, model_keys=[key])
    rows = ImageEmbedding.objects.filter(image_id__in=image_ids, model_key=key)
    count = rows.update(status=EmbeddingStatus.PENDING, attempts=0, error="", claimed_at=None, vector=None)
    embeddings_enqueue(list(rows.values_list("id", flat=True)))
    return count


def _claim(embedding_ids: list[int]) -> list[ImageEmbedding]:
    """Mark the still-pending rows as taken by this worker, counting the attempt before any work.

    The attempt is committed first, so a poison image that kills its worker still uses up its attempts.
    SKIP LOCKED: two workers handed the same ids (a redelivered message) never take the same row at once.
    """
    lease_start = timezone.now() - timedelta(seconds=settings.VISUALSEARCH_CLAIM_LEASE_SECONDS)
    with transaction.atomic():
        rows = list(
            ImageEmbedding.objects.select_for_update(skip_locked=True)
            .filter(id__in=embedding_ids, status=EmbeddingStatus.PENDING)
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=lease_start))
            .filter(attempts__lt=settings.VISUALSEARCH_MAX_ATTEMPTS)
        )
        if rows:
            ImageEmbedding.objects.filter(id__in=[r.id for r in rows]).update(
                attempts=F("attempts") + 1, claimed_at=timezone.now()
            )
    return rows


@transaction.atomic
def _fail(row: ImageEmbedding, message: str) -> None:
    changed = ImageEmbedding.objects.filter(id=row.id, status=EmbeddingStatus.PENDING).update(
        status=EmbeddingStatus.FAILED, error=message[:2000], claimed_at=None
    )
    if changed:  # the event commits with the status it announces
        _outcomes_announce([row.id])


def embeddings_compute(*, embedding_ids: list[int]) -> dict[str, int]:
    """Embed the pending rows among ``embedding_ids``, batched per model key. Safe to run twice."""
    rows = _claim(embedding_ids)
    done = failed = 0
    by_key: dict[str, list[ImageEmbedding]] = {}
    for row in rows:
        by_key.setdefault(row.model_key, []).append(row)
    images = ProductImage.objects.in_bulk([row.image_id for row in rows])
    for key, key_rows in by_key.items():
        embedder = embedder_for(key, settings.VISUALSEARCH_DEVICE)
        pictures, ready_rows = [], []
        for row in key_rows:
            try:
                with images[row.image_id].image.open("rb") as handle:
                    # Decoded only as far as the network (and the colours' 96 px) need.
                    pictures.append(stored_image_open(handle.read(), short_side=embedder.spec.preprocessing.decode_side))
                ready_rows.append(row)
            except Exception as error:  # a missing or unreadable stored file fails that image only
                logger.warning("embedding %s: cannot read image %s: %s", row.id, row.image_id, error)
                _fail(row, f"cannot read the stored image: {error}")
                failed += 1
        if not ready_rows:
            continue
        _colours_measure([images[row.image_id] for row in ready_rows], pictures)
        try:
            embedded = embedder.embed_with_concepts(pictures)
        except Exception as error:
            logger.exception("embedding batch failed for key %s", key)
            for row in ready_rows:
                _fail(row, f"the model failed: {error}")
            failed += len(ready_rows)
            continue
        concepts = embedded.concepts or [None] * len(ready_rows)
        with transaction.atomic():
            columns = [_concept_columns(found) for found in concepts]
            stored = querysets.embeddings_store_ready(rows=[
                (row.id, vector,
                 column["concepts"].to_text() if column["concepts"] is not None else None,
                 column["concept_ids"])
                for row, vector, found, column in zip(ready_rows, embedded.vectors, concepts, columns, strict=True)
            ])
            _outcomes_announce(stored)  # in the same transaction: no vector without its event, and none twice
        done += len(ready_rows)
    return {"ready": done, "failed": failed, "skipped": len(embedding_ids) - len(rows)}


def _object_mask(picture):
    """The salient-object map for a scene picture's colours; None when the object step is off or cannot run."""
    if not settings.VISUALSEARCH_OBJECTS:
        return None
    from .embedding.objects import ObjectFinderUnavailable, object_finder

    try:
        return object_finder().mask(picture, side=settings.VISUALSEARCH_OBJECTS_SIDE)
    except ObjectFinderUnavailable as error:
        logger.warning("colours of a scene picture measured on the whole picture: %s", error)
        return None


def _colours_measure(images: list[ProductImage], pictures: list) -> None:
    """Name the product's colours on each picture not measured yet (once per picture, whatever the key); the
    batch's colours are written in one UPDATE."""
    measured = {}
    for image, picture in zip(images, pictures, strict=True):
        if image.colours is not None:
            continue
        try:
            found = picture_colours(picture, object_mask=_object_mask)
        except Exception:  # colour is an extra: a failure here must not cost the picture its vector
            logger.exception("colours of image %s could not be measured", image.id)
            continue
        image.colours = measured[image.id] = [{"key": c.key, "share": c.share, "hex": c.hex} for c in found]
    product_images_colours_set(colours=measured)


CONCEPT_INDEXED = 0.01
"""A concept goes into the GIN-indexed ``concept_ids`` when the picture shows it with at least 1 % (and the three
likeliest always): text search then reads only pictures that show a query's concept to some degree. With all 32
kept concepts indexed, each concept's posting list held 3 % of the pictures and a concept query read 20k rows at
100k products (bench/text_search.py: 320 ms p50); the scores still come from all 32 in ``concepts``."""


def _concept_columns(found: dict[int, float] | None) -> dict[str, object]:
    if not found:
        return {"concepts": None, "concept_ids": None}
    likeliest = sorted(found, key=found.get, reverse=True)
    indexed = {i for i in likeliest if found[i] >= CONCEPT_INDEXED} | set(likeliest[:3])
    return {"concepts": SparseVector(found, CONCEPT_COUNT), "concept_ids": sorted(indexed)}


def embeddings_concepts_fill(*, model_key: str, limit: int = 256) -> int:
    """Give ready rows of ``model_key`` that predate concepts their concepts (one forward pass each, the vector
    is left as it is). Beat runs it until none is left; returns how many rows it filled."""
    embedder = embedder_for(model_key, settings.VISUALSEARCH_DEVICE)
    if not hasattr(embedder.network, "classifier_head"):
        return 0
    rows = list(
        ImageEmbedding.objects.filter(model_key=model_key, status=EmbeddingStatus.READY, concept_ids__isnull=True)
        .select_related("image")
        .order_by("id")[:limit]
    )
    filled = 0
    for start in range(0, len(rows), settings.VISUALSEARCH_BATCH_SIZE):
        chunk, pictures = [], []
        for row in rows[start : start + settings.VISUALSEARCH_BATCH_SIZE]:
            try:
                with row.image.image.open("rb") as handle:
                    pictures.append(stored_image_open(handle.read(), short_side=embedder.spec.preprocessing.decode_side))
                chunk.append(row)
            except Exception as error:  # an unreadable file: its vector stays, without concepts
                logger.warning("concepts for embedding %s: cannot read image %s: %s", row.id, row.image_id, error)
        _colours_measure([row.image for row in chunk], pictures)
        embedded = embedder.embed_with_concepts(pictures)
        for row, found in zip(chunk, embedded.concepts or [], strict=False):
            filled += ImageEmbedding.objects.filter(id=row.id, concept_ids__isnull=True).update(
                **_concept_columns(found)
            )
    return filled


def _outcomes_announce(embedding_ids: list[int]) -> None:
    """Record an outbox event per image that became ready or failed for the active key, in the caller's
    transaction. A backfill of another key stays silent; who listens (partner webhooks) is not our business."""
    if not embedding_ids:
        return
    rows = ImageEmbedding.objects.filter(
        id__in=embedding_ids,
        model_key=active_model_key(),
        status__in=[EmbeddingStatus.READY, EmbeddingStatus.FAILED],
    ).values_list("image_id", "image__product_id", "model_key", "status", "error")
    events_record(events=[
        (
            "image.embedding_ready" if status == EmbeddingStatus.READY else "image.embedding_failed",
            {"image_id": image_id, "product_id": product_id, "model_key": model_key, "status": status, "error": error},
        )
        for image_id, product_id, model_key, status, error in rows.order_by("id")
    ])


def embeddings_reconcile() -> dict[str, int]:
    """Re-send pending work that no worker holds; give up on rows that used all their attempts.

    Runs from Celery beat. A row is stranded when its message was lost (Redis lost its data) or its
    worker died mid-batch (claimed, lease expired).
    """
    now = timezone.now()
    lease_start = now - timedelta(seconds=settings.VISUALSEARCH_CLAIM_LEASE_SECONDS)
    # A message sent recently may still be waiting behind others in the queue: leave it its chance.
    resend_before = now - timedelta(seconds=settings.VISUALSEARCH_RESEND_AFTER_SECONDS)
    pending = ImageEmbedding.objects.filter(status=EmbeddingStatus.PENDING)
    exhausted = pending.filter(attempts__gte=settings.VISUALSEARCH_MAX_ATTEMPTS).filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=lease_start)
    )
    with transaction.atomic():
        # Locked, so the ids announced below are exactly the rows this update failed.
        gave_up_ids = list(exhausted.select_for_update(skip_locked=True).values_list("id", flat=True))
        gave_up = ImageEmbedding.objects.filter(id__in=gave_up_ids).update(
            status=EmbeddingStatus.FAILED,
            error=f"gave up after {settings.VISUALSEARCH_MAX_ATTEMPTS} attempts (the worker died or timed out)",
            claimed_at=None,
        )
        _outcomes_announce(gave_up_ids)
    retryable = pending.filter(attempts__lt=settings.VISUALSEARCH_MAX_ATTEMPTS)
    never_claimed = list(
        retryable.filter(claimed_at__isnull=True)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=resend_before))
        .values_list("id", flat=True)
    )
    # A claim that expired means its worker died mid-batch, perhaps because of one poison picture in it: each
    # such row goes alone, so a poison picture uses up its own attempts and not its batch-mates'.
    died_mid_batch = list(retryable.filter(claimed_at__lt=lease_start).values_list("id", flat=True))
    embeddings_enqueue(never_claimed)
    embeddings_enqueue(died_mid_batch, batch_size=1)
    return {"requeued": len(never_claimed) + len(died_mid_batch), "gave_up": gave_up}


def embedding_index_ensure(*, model_key: str) -> None:
    """Create the key's HNSW index if it is missing (idempotent)."""
    spec = spec_for(model_key)
    with connection.cursor() as cursor:
        cursor.execute(hnsw_index_sql(model_key=model_key, dimension=spec.dimension))
