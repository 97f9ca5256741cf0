"""Events written by a domain in the same transaction as its change, and which subscribers have handled them."""

from __future__ import annotations

from django.db import models


class EventStatus(models.TextChoices):
    PENDING = "pending", "pending"
    DISPATCHED = "dispatched", "dispatched"
    FAILED = "failed", "failed"


class Event(models.Model):
    topic = models.CharField(max_length=60)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=EventStatus.choices, default=EventStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The reconciler's scan: pending events, oldest first; and the purge of old dispatched ones.
            models.Index(fields=["status", "created_at"], name="outbox_event_status_created"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.id} ({self.status})"


class EventHandled(models.Model):
    """One row per (event, subscriber), committed together with what the subscriber wrote: exactly once."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="handled")
    subscriber = models.CharField(max_length=60)
    handled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "subscriber"], name="outbox_handled_once")]

    def __str__(self) -> str:
        return f"{self.event_id} by {self.subscriber}"
