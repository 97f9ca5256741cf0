"""Writes of the staff tools: create a batch identify job from its photos, work through its photos, reconcile jobs
a lost message or a dead worker left, delete a job with its photos.

The database is the source of truth: an ``IdentifyJobPhoto`` in status ``pending`` is work left to do. The Celery
message only says "work on this job now"; a worker claims one photo at a time (SKIP LOCKED, so two workers share a
job), and the beat reconciler re-sends a job whose photos nobody holds (the embedding pipeline's pattern,
visualsearch.services.embeddings_reconcile).
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta

import numpy as np
from celery import current_app
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from catalog.models import Product, ProductVariant
from visualsearch.errors import ImageRejected
from visualsearch.selectors import ProductMatch, product_picture_vectors

from .batches import ExpectedLine, JobPhotos
from .errors import ErrorCode, JobRejected
from .identify import OutsideListing, outside_listing_match, photo_closest
from .models import IdentifyJob, IdentifyJobPhoto, JobKind, JobStatus, PhotoStatus

logger = logging.getLogger(__name__)

# Sent by name: this module never imports tasks.py (which imports it).
IDENTIFY_JOB_RUN_TASK = "shop.stafftools.tasks.identify_job_run_task"
MATCHES_KEPT = 5


def identify_job_send(job_id: int) -> None:
    """Mark the job as sent and send it; an unreachable broker leaves it to the reconciler."""
    from kombu.exceptions import OperationalError as BrokerError

    IdentifyJob.objects.filter(id=job_id).update(enqueued_at=timezone.now())
    try:
        current_app.send_task(IDENTIFY_JOB_RUN_TASK, args=(job_id,))
    except BrokerError as error:
        logger.warning("broker unreachable, identify job %s left to the reconciler: %s", job_id, error)


def identify_job_create(
    *,
    kind: str,
    photos: JobPhotos,
    title: str = "",
    expected: list[ExpectedLine] | None = None,
    listings: dict[str, OutsideListing] | None = None,
    created_by=None,
) -> IdentifyJob:
    """Store the job, its accepted photos (the intake's JPEGs, under media's private folder) and its refused ones
    (listed with their message, no file), and send it to the workers after commit.

    Raises JobRejected(SKU_UNKNOWN) when the expected list names a SKU the catalogue does not have; then nothing
    is written.
    """
    expected = expected or []
    listings = listings or {}
    skus = [line.sku for line in expected]
    # A delivery is counted per thing the warehouse holds: a product's SKU, or a variant's (the blue one, size M).
    known = set(Product.objects.filter(sku__in=skus).values_list("sku", flat=True)) | set(
        ProductVariant.objects.filter(sku__in=skus).values_list("sku", flat=True))
    unknown = [line.sku for line in expected if line.sku not in known]
    if unknown:
        raise JobRejected(ErrorCode.SKU_UNKNOWN,
                          f"The expected list names SKUs the catalogue does not have: {', '.join(unknown[:10])}.")
    saved: list[str] = []
    try:
        with transaction.atomic():
            job = IdentifyJob.objects.create(
                kind=kind, title=title[:200], created_by=created_by,
                expected=[{"sku": line.sku, "quantity": line.quantity} for line in expected],
            )
            rows = []
            for photo in photos.accepted:
                listing = listings.get(photo.name, OutsideListing(file=photo.name))
                row = IdentifyJobPhoto(job=job, name=photo.name[:255], title=listing.title[:300], price=listing.price,
                                       url=listing.url[:1000])
                # A random name, never the uploader's: names in a zip are the sender's choice.
                row.file.save(f"{secrets.token_hex(12)}.jpg", ContentFile(photo.jpeg), save=False)
                saved.append(row.file.name)
                rows.append(row)
            rows += [
                IdentifyJobPhoto(job=job, name=r.name[:255], status=PhotoStatus.REFUSED, error_code=r.code, error=r.message)
                for r in photos.refused
            ]
            IdentifyJobPhoto.objects.bulk_create(rows)
            transaction.on_commit(lambda: identify_job_send(job.id))
    except BaseException:
        for name in saved:  # the rows were rolled back: their files go too
            default_storage.delete(name)
        raise
    return job


def _photo_claim(*, job_id: int) -> IdentifyJobPhoto | None:
    """Take the job's next pending photo that no live worker holds, counting the attempt first (committed before
    any work, so a photo that kills its worker uses up its attempts)."""
    lease_start = timezone.now() - timedelta(seconds=settings.STAFFTOOLS_CLAIM_LEASE_SECONDS)
    with transaction.atomic():
        photo = (
            IdentifyJobPhoto.objects.select_for_update(skip_locked=True)
            .filter(job_id=job_id, status=PhotoStatus.PENDING, attempts__lt=settings.STAFFTOOLS_MAX_ATTEMPTS)
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=lease_start))
            .order_by("id")
            .first()
        )
        if photo is None:
            return None
        IdentifyJobPhoto.objects.filter(id=photo.id).update(attempts=F("attempts") + 1, claimed_at=timezone.now())
    return photo


def _match_dict(match: ProductMatch) -> dict:
    """A match as the reports keep it: the variant whose picture matched, where it is one (its own SKU, name
    and price), else the product."""
    product, variant = match.product, match.image.variant
    sku, name, price = (product.sku, product.name, product.price) if variant is None else (
        variant.sku, f"{product.name}, {variant.name}", variant.unit_price_of(product))
    return {
        "product_id": product.id, "sku": sku, "name": name, "category": product.category.name,
        "price": str(price), "currency": product.currency, "image_id": match.image.id,
        "similarity": round(float(match.similarity), 4), "close": bool(match.close),
    }


def photo_likeness(*, vector: np.ndarray, references: np.ndarray) -> tuple[float | None, float | None]:
    """(the photo's best cosine with the product's own pictures, the lowest cosine between two of those pictures).

    The second is the spread a product's own pictures show; a delivered item that is less alike than that is
    worth a look. None where there are no pictures (first) or fewer than two (second)."""
    if len(references) == 0:
        return None, None
    unit = vector / max(float(np.linalg.norm(vector)), 1e-12)
    likeness = float(np.max(references @ unit))
    if len(references) < 2:
        return likeness, None
    pairs = references @ references.T
    spread = float(np.min(pairs[~np.eye(len(references), dtype=bool)]))
    return likeness, spread


class _Refused(Exception):
    """The stored photo could not be searched (the intake's code and message)."""

    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message
        super().__init__(message)


def _delivery_outcome(data: bytes) -> dict:
    try:
        query, matches = photo_closest(data=data, limit=MATCHES_KEPT)
    except ImageRejected as error:
        raise _Refused(error.code.value, error.message) from None
    close = bool(matches) and matches[0].close
    likeness = spread = None
    if close:
        references = product_picture_vectors(product_id=matches[0].product.id, model_key=query.model_key)
        likeness, spread = photo_likeness(vector=query.vector, references=references)
    return {
        "model_key": query.model_key, "close": close, "matches": [_match_dict(m) for m in matches],
        "likeness": None if likeness is None else round(likeness, 4),
        "reference_spread": None if spread is None else round(spread, 4),
        "unlike": spread is not None and likeness is not None and likeness < spread,
    }


def _outside_outcome(photo: IdentifyJobPhoto, data: bytes) -> dict:
    listing = OutsideListing(file=photo.name, title=photo.title, price=photo.price, url=photo.url)
    result = outside_listing_match(listing=listing, data=data, limit=MATCHES_KEPT)  # match_outside's own matching
    if result.error:
        raise _Refused(result.error_code, result.error)
    return {"model_key": result.model_key, "close": result.close, "matches": [_match_dict(m) for m in result.matches]}


def _photo_work(photo: IdentifyJobPhoto, *, kind: str) -> bool:
    """Match one claimed photo and store the outcome; True when it was matched."""
    try:
        with photo.file.open("rb") as handle:
            data = handle.read()
        outcome = _delivery_outcome(data) if kind == JobKind.DELIVERY else _outside_outcome(photo, data)
    except _Refused as error:
        _photo_fail(photo.id, code=error.code, message=error.message)
        return False
    except Exception as error:  # the model failed, the file is gone: this photo fails, the job goes on
        logger.exception("identify job photo %s failed", photo.id)
        _photo_fail(photo.id, code="", message=f"could not be matched: {error}")
        return False
    # status=pending in the filter: a photo given up on meanwhile (or a deleted job) is not written.
    IdentifyJobPhoto.objects.filter(id=photo.id, status=PhotoStatus.PENDING).update(
        status=PhotoStatus.DONE, claimed_at=None, error="", error_code="", **outcome
    )
    return True


def _photo_fail(photo_id: int, *, code: str, message: str) -> None:
    IdentifyJobPhoto.objects.filter(id=photo_id, status=PhotoStatus.PENDING).update(
        status=PhotoStatus.FAILED, claimed_at=None, error_code=code[:40], error=message[:2000]
    )


def identify_job_finish(*, job_id: int) -> bool:
    """Mark the job done once none of its photos is pending; True when this call did it."""
    left = IdentifyJobPhoto.objects.filter(job_id=job_id, status=PhotoStatus.PENDING)
    if left.exists():
        return False
    return bool(IdentifyJob.objects.filter(id=job_id, status=JobStatus.PENDING).update(
        status=JobStatus.DONE, finished_at=timezone.now()))


def identify_job_process(*, job_id: int) -> dict[str, int]:
    """Work through the job's pending photos one at a time until none is left to take. Safe to run twice, and by
    two workers at once (each photo is claimed by one)."""
    job = IdentifyJob.objects.filter(id=job_id).first()
    if job is None:  # deleted meanwhile
        return {"matched": 0, "failed": 0}
    matched = failed = 0
    while (photo := _photo_claim(job_id=job_id)) is not None:
        if _photo_work(photo, kind=job.kind):
            matched += 1
        else:
            failed += 1
    identify_job_finish(job_id=job_id)
    return {"matched": matched, "failed": failed}


def identify_jobs_reconcile() -> dict[str, int]:
    """Beat: give up on photos that used their attempts, finish jobs with nothing left, re-send jobs whose pending
    photos no live worker holds (a lost message, a worker that died mid-photo)."""
    now = timezone.now()
    lease_start = now - timedelta(seconds=settings.STAFFTOOLS_CLAIM_LEASE_SECONDS)
    resend_before = now - timedelta(seconds=settings.STAFFTOOLS_RESEND_AFTER_SECONDS)
    pending = IdentifyJobPhoto.objects.filter(status=PhotoStatus.PENDING)
    gave_up = pending.filter(attempts__gte=settings.STAFFTOOLS_MAX_ATTEMPTS).filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=lease_start)
    ).update(
        status=PhotoStatus.FAILED, claimed_at=None,
        error=f"gave up after {settings.STAFFTOOLS_MAX_ATTEMPTS} attempts (the worker died or timed out)",
    )
    open_jobs = IdentifyJob.objects.filter(status=JobStatus.PENDING)
    finished = sum(identify_job_finish(job_id=job_id) for job_id in
                   open_jobs.exclude(photos__status=PhotoStatus.PENDING).values_list("id", flat=True))
    retryable = pending.filter(attempts__lt=settings.STAFFTOOLS_MAX_ATTEMPTS)
    live_claim = IdentifyJobPhoto.objects.filter(job=OuterRef("pk"), status=PhotoStatus.PENDING,
                                                 claimed_at__gte=lease_start)
    # A message sent recently may still wait behind others in the queue: leave it its chance (a resent job's
    # enqueued_at is now, so a job is re-sent once per RESEND_AFTER_SECONDS at most).
    stranded = (
        open_jobs.filter(~Exists(live_claim))
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=resend_before))
        .filter(Exists(retryable.filter(job=OuterRef("pk"))))
        .values_list("id", flat=True)
    )
    resent = list(stranded)
    for job_id in resent:
        identify_job_send(job_id)
    return {"resent": len(resent), "gave_up": gave_up, "finished": finished}


def identify_job_delete(*, job: IdentifyJob) -> int:
    """Delete the job, its report and its stored photos (the files once the rows are gone). Returns how many
    files were deleted."""
    names = list(job.photos.exclude(file="").values_list("file", flat=True))
    folder = f"private/stafftools/job-{job.id}"
    with transaction.atomic():
        job.delete()

        def files_delete() -> None:
            for name in names:
                default_storage.delete(name)
            path = os.path.join(settings.MEDIA_ROOT, folder)
            if os.path.isdir(path) and not os.listdir(path):
                os.rmdir(path)

        transaction.on_commit(files_delete)
    return len(names)
