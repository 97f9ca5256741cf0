"""Model versions: register a new key, backfill it in the background, switch search to it, switch back.

Search always reads one key (the active version's); a new key is embedded for every image by the workers
while search keeps using the current one. The switch is refused until every image that has a vector for the
current key has one for the new key too, so no shopper ever meets a half-filled index, and queries never
compare vectors of two keys: ``photo_embed`` returns the key its vector belongs to and the k-NN query filters
on that key.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from catalog.changes import catalogue_changed
from catalog.models import ProductImage

from .embedding import EmbeddingSpec, LinearAdapter, adapter_spec, spec_for
from .models import EmbeddingStatus, ImageEmbedding, ModelVersion, ModelVersionStatus
from .selectors import active_model_key, active_model_key_forget

logger = logging.getLogger(__name__)


class VersionErrorCode(str, enum.Enum):
    UNKNOWN_MODEL_KEY = "unknown_model_key"
    VERSION_EXISTS = "version_exists"
    VERSION_NOT_AVAILABLE = "version_not_available"
    BACKFILL_INCOMPLETE = "backfill_incomplete"


class VersionError(Exception):
    def __init__(self, code: VersionErrorCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


_ADAPTER_SPECS: dict[str, EmbeddingSpec] = {}


def adapter_spec_resolve(key: str) -> EmbeddingSpec | None:
    """The embedding library's resolver for trained keys: weights come from the version's row.

    A key's weights never change once trained (a new training makes a new key), so a process keeps the spec.
    """
    if key in _ADAPTER_SPECS:
        return _ADAPTER_SPECS[key]
    if "@" not in key:  # trained keys are "<base>@adapter-<time>"; anything else is simply unknown
        return None
    row = (
        ModelVersion.objects.filter(key=key, adapter_weights__isnull=False)
        .values_list("base_key", "adapter_weights")
        .first()
    )
    if row is None:
        return None
    spec = adapter_spec(key=key, base_key=row[0], adapter=LinearAdapter.from_bytes(row[1]))
    _ADAPTER_SPECS[key] = spec
    return spec


def _spec_or_error(key: str) -> EmbeddingSpec:
    try:
        return spec_for(key)
    except KeyError as error:
        raise VersionError(VersionErrorCode.UNKNOWN_MODEL_KEY, str(error.args[0])) from None


def _active_version_ensure() -> ModelVersion:
    """Before a second key appears, the key search uses now (maybe only a setting) gets its own row."""
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is not None:
        return active
    key = settings.VISUALSEARCH_MODEL
    version, _ = ModelVersion.objects.get_or_create(key=key)
    ModelVersion.objects.filter(id=version.id).update(is_active=True, activated_at=timezone.now())
    version.refresh_from_db()
    return version


@transaction.atomic
def model_version_register(
    *,
    key: str,
    base_key: str = "",
    adapter: LinearAdapter | None = None,
    metrics: dict | None = None,
    training_images: int | None = None,
    status: str = ModelVersionStatus.AVAILABLE,
) -> ModelVersion:
    """Register a key as a version (not active). A registered key's images start to be embedded for it."""
    _active_version_ensure()
    if ModelVersion.objects.filter(key=key).exists():
        raise VersionError(VersionErrorCode.VERSION_EXISTS, f"a version with key {key!r} exists already")
    if base_key:
        _spec_or_error(base_key)  # an adapter's key resolves once its weights are stored
    else:
        _spec_or_error(key)
    return ModelVersion.objects.create(
        key=key,
        base_key=base_key,
        adapter_weights=adapter.to_bytes() if adapter is not None else None,
        metrics=metrics or {},
        training_images=training_images,
        status=status,
    )


def model_version_backfill(*, key: str, chunk_size: int = 2000) -> int:
    """Create the key's HNSW index and pending rows for every image; workers fill them. Returns rows sent.

    Search is untouched: it keeps reading the active key. Images added meanwhile get a row for this key
    from ``embeddings_request`` too (every available version is embedded).
    """
    from .services import embedding_index_ensure, embeddings_enqueue, embeddings_request

    version = ModelVersion.objects.filter(key=key).first()
    if version is None or version.status != ModelVersionStatus.AVAILABLE:
        raise VersionError(VersionErrorCode.VERSION_NOT_AVAILABLE, f"{key!r} is not an available version")
    _spec_or_error(key)
    with connection.cursor() as cursor:
        # CREATE INDEX refuses to run while deferred FK checks of this transaction are pending (a caller's
        # atomic block that just added images); fire them now. Outside a transaction this is a no-op.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    embedding_index_ensure(model_key=key)
    spec = spec_for(key)
    if spec.adapter is not None:
        _adapter_fill_from_base(key=key, base_key=spec.base_key, adapter=spec.adapter)
    image_ids = list(ProductImage.objects.order_by("id").values_list("id", flat=True))
    sent = 0
    for start in range(0, len(image_ids), chunk_size):
        with transaction.atomic():
            pending = embeddings_request(
                image_ids=image_ids[start : start + chunk_size], model_keys=[key], enqueue=False
            )
            embeddings_enqueue(pending)
        sent += len(pending)
    return sent


def _adapter_fill_from_base(*, key: str, base_key: str, adapter: LinearAdapter, chunk_size: int = 1000) -> int:
    """An adapter's vector of an image is the adapter applied to the base key's vector of that image, and the
    base vectors are already stored: fill the new key from them without decoding a picture or running the
    backbone (seconds for a catalogue that took the workers hours). Images without a base vector are left
    to the workers. The stored base vector is half precision; the difference to a fresh embedding is ~1e-3."""
    done_ids = ImageEmbedding.objects.filter(model_key=key).values("image_id")
    rows = (
        ImageEmbedding.objects.filter(model_key=base_key, status=EmbeddingStatus.READY)
        .exclude(image_id__in=done_ids)
        .order_by("image_id")
        .values_list("image_id", "product_id", "vector")
    )
    filled = 0
    batch: list[tuple[int, int, object]] = []

    def flush() -> None:
        nonlocal filled
        if not batch:
            return
        import numpy as np

        vectors = adapter.apply(np.asarray([np.asarray(v, dtype=np.float32) for _, _, v in batch]))
        ImageEmbedding.objects.bulk_create(
            [
                ImageEmbedding(
                    image_id=image_id, product_id=product_id, model_key=key, status=EmbeddingStatus.READY,
                    vector=vector.tolist(),
                )
                for (image_id, product_id, _), vector in zip(batch, vectors, strict=True)
            ],
            ignore_conflicts=True,  # an image embedded by a worker meanwhile keeps its row
        )
        filled += len(batch)
        batch.clear()

    for row in rows.iterator(chunk_size=chunk_size):
        batch.append(row)
        if len(batch) >= chunk_size:
            flush()
    flush()
    return filled


@dataclass(frozen=True)
class Coverage:
    key: str
    images: int
    """Images that have a vector for the active key: the ones search can show today."""
    ready: int
    """Of those, the ones with a vector for ``key`` too."""
    pending: int
    failed: int

    @property
    def complete(self) -> bool:
        return self.ready == self.images

    @property
    def fraction(self) -> float:
        return self.ready / self.images if self.images else 1.0


def model_version_coverage(*, key: str) -> Coverage:
    active = active_model_key()
    searchable = ImageEmbedding.objects.filter(model_key=active, status=EmbeddingStatus.READY).values("image_id")
    counts = ImageEmbedding.objects.filter(model_key=key, image_id__in=searchable).aggregate(
        ready=Count("id", filter=Q(status=EmbeddingStatus.READY)),
        pending=Count("id", filter=Q(status=EmbeddingStatus.PENDING)),
        failed=Count("id", filter=Q(status=EmbeddingStatus.FAILED)),
    )
    images = ImageEmbedding.objects.filter(model_key=active, status=EmbeddingStatus.READY).count()
    return Coverage(key=key, images=images, **counts)


@transaction.atomic
def model_version_activate(*, key: str) -> ModelVersion:
    """Switch search to ``key``; refused while any searchable image lacks a vector for it.

    Switching back to the previous version is the same call: it stays embedded for new images.
    """
    version = ModelVersion.objects.select_for_update().filter(key=key).first()
    if version is None or version.status != ModelVersionStatus.AVAILABLE:
        raise VersionError(VersionErrorCode.VERSION_NOT_AVAILABLE, f"{key!r} is not an available version")
    _active_version_ensure()
    if version.is_active:
        return version
    coverage = model_version_coverage(key=key)
    if not coverage.complete:
        raise VersionError(
            VersionErrorCode.BACKFILL_INCOMPLETE,
            f"{key!r} has vectors for {coverage.ready} of {coverage.images} images "
            f"({coverage.pending} pending, {coverage.failed} failed); switch when the backfill is complete",
        )
    # One transaction: readers see the old or the new active version, never none (the partial unique
    # constraint on is_active forbids two).
    ModelVersion.objects.filter(is_active=True).update(is_active=False)
    ModelVersion.objects.filter(id=version.id).update(is_active=True, activated_at=timezone.now())
    version.refresh_from_db()
    active_model_key_forget()
    catalogue_changed()  # every kept product page's visual lists came from the old key
    logger.info("search now uses model key %s", key)
    return version
