"""Batch identify jobs: a delivery checked against its expected list, or outside listings matched against the
catalogue. The rows are the state: a photo in status ``pending`` is work left to do (a worker restart loses
nothing; the reconciler re-sends jobs whose photos no worker holds)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class JobKind(models.TextChoices):
    DELIVERY = "delivery", "Delivery check"
    OUTSIDE = "outside", "Outside listings"


class JobStatus(models.TextChoices):
    PENDING = "pending", "Running"
    DONE = "done", "Done"


class PhotoStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    """The photo passed the intake but could not be matched (the model failed, the worker died every time)."""
    REFUSED = "refused", "Refused"
    """A zip member or one of several files the intake refused: listed with its message, no file stored."""


class IdentifyJob(models.Model):
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    title = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    expected = models.JSONField(default=list, blank=True)
    """Deliveries: ``[{"sku": ..., "quantity": ...}]`` from the expected list, in its order."""

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], condition=models.Q(status="pending"), name="identifyjob_pending")]

    def __str__(self) -> str:
        return self.title or f"{self.get_kind_display()} #{self.pk}"


def _photo_path(photo: "IdentifyJobPhoto", filename: str) -> str:
    # Under MEDIA_ROOT's private/ folder, which shop.media never serves: staff see these through their own view.
    return f"private/stafftools/job-{photo.job_id}/{filename}"


class IdentifyJobPhoto(models.Model):
    job = models.ForeignKey(IdentifyJob, on_delete=models.CASCADE, related_name="photos")
    name = models.CharField(max_length=255)
    """The file's name as uploaded (or its path inside the zip), shown in the report; never used as a path."""
    file = models.FileField(upload_to=_photo_path, max_length=255, blank=True)
    """The intake's re-encoded JPEG (no metadata); empty for a refused file."""
    status = models.CharField(max_length=16, choices=PhotoStatus.choices, default=PhotoStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True)
    error_code = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    # an outside listing's own data (its CSV row)
    title = models.CharField(max_length=300, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    url = models.URLField(max_length=1000, blank=True)
    # the outcome
    model_key = models.CharField(max_length=64, blank=True)
    close = models.BooleanField(default=False)
    """The first match reaches the key's calibrated close-match threshold."""
    matches = models.JSONField(default=list, blank=True)
    """The closest own products, best first: ``{"product_id", "sku", "name", "category", "price", "similarity"}``
    (a copy: the report stays as it was when products change or go)."""
    likeness = models.FloatField(null=True)
    """Deliveries: the photo's best cosine with the first match's own pictures."""
    reference_spread = models.FloatField(null=True)
    """Deliveries: the lowest cosine between two of the first match's own pictures (None with a single picture)."""
    unlike = models.BooleanField(default=False)
    """Deliveries: close to the product, yet less alike its pictures than they are to each other (damaged, another
    colour, counterfeit): staff should look."""

    class Meta:
        ordering = ["job", "id"]
        indexes = [models.Index(fields=["job", "status"])]

    def __str__(self) -> str:
        return self.name

    @property
    def first(self) -> dict | None:
        return self.matches[0] if self.matches else None
