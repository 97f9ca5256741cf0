"""The interaction log: what a shopper was shown (a search's results, a product page's similar items) and what
they did next with it (opened a result, put it in the cart, bought it).

No photo, no IP address and no user agent is stored. A shopper is a random id kept in their session
(``services.visitor_id``); the account is linked only when the shopper is signed in and has agreed. The query
vector of a photo search (in the base model key's space, the one adapters are trained on) is kept for the
learning in ``learning.py`` and cleared after RECOMMENDATIONS_VECTOR_RETENTION_DAYS by the purge task.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import HalfVectorField


class ShownKind(models.TextChoices):
    PHOTO = "photo", _("photo search")
    TEXT = "text", _("text search")
    SIMILAR = "similar", _("similar items")
    TOGETHER = "together", _("bought together")
    SUGGESTED = "suggested", _("suggested for you")


class Channel(models.TextChoices):
    PAGE = "page", _("shop page")
    API = "api", _("partner API")


class ActionKind(models.TextChoices):
    OPEN = "open", _("opened")
    CART = "cart", _("added to cart")
    BUY = "buy", _("bought")


class Shown(models.Model):
    """One list of results as a shopper saw it."""

    visitor = models.CharField(max_length=32, db_index=True)
    """A random per-session id (``services.visitor_id``), or ``api:<key id>`` for a partner app's searches."""
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    """Only when the shopper was signed in and had agreed to it (deleting the account deletes its rows)."""
    kind = models.CharField(max_length=10, choices=ShownKind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.PAGE)
    model_key = models.CharField(max_length=64, blank=True)
    product_ids = ArrayField(models.IntegerField(), default=list)
    """The products shown, in the order shown (rank 1 first)."""
    top_similarity = models.FloatField(null=True, blank=True)
    close_match = models.BooleanField(null=True)
    """Photo search and similar items: whether the first result was a close match; text search: anything found."""
    filters = models.JSONField(default=dict, blank=True)
    query_text = models.CharField(max_length=200, blank=True)
    """The words of a text search (or the words refining a photo search)."""
    source_product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    """Similar items: the product whose page showed them."""
    query_vector = HalfVectorField(null=True, blank=True)
    vector_key = models.CharField(max_length=64, blank=True)
    """The plain model key ``query_vector`` belongs to (an adapter's base key when an adapter was searched)."""
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} shown to {self.visitor} at {self.created_at:%Y-%m-%d %H:%M}"


class Action(models.Model):
    """What the shopper did with one product of a list: opened it, added it to the cart, bought it."""

    shown = models.ForeignKey(Shown, on_delete=models.CASCADE, related_name="actions")
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    """The product's position in the list, 1 first."""
    kind = models.CharField(max_length=10, choices=ActionKind.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shown", "product", "kind"], name="action_once_per_kind"),
        ]
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.product_id} at rank {self.rank}"


class CoPurchase(models.Model):
    """How many orders held both products: one row per direction, so a product page reads its list with one
    index range scan (``product`` = the page's product, highest ``orders`` first). Pages read this table on
    every view and orders write it once each, so the doubled rows and writes buy the simpler, faster read."""

    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    orders = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "other"], name="copurchase_one_row_per_pair"),
            models.CheckConstraint(condition=~models.Q(product=models.F("other")), name="copurchase_two_products"),
        ]
        indexes = [models.Index(fields=["product", "-orders"], name="copurchase_product_orders")]

    def __str__(self) -> str:
        return f"{self.product_id} with {self.other_id}: {self.orders} orders"


class ProductOrders(models.Model):
    """How many orders held the product (each order once, like ``CoPurchase``): the popularity that suggestions
    weigh among products that look alike. Single-product orders count here, not in ``CoPurchase``."""

    product = models.OneToOneField("catalog.Product", on_delete=models.CASCADE, related_name="+", primary_key=True)
    orders = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.product_id}: {self.orders} orders"


class CoPurchaseOrder(models.Model):
    """An order already counted in ``CoPurchase``: the outbox subscriber and the rebuild command both skip an
    order that is here, so an order counts once whoever sees it first and however often its event arrives."""

    reference = models.CharField(max_length=16, unique=True)
    counted_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.reference


class RetrainStatus(models.TextChoices):
    RUNNING = "running", _("running")
    SWITCHED = "switched", _("switched to")
    KEPT = "kept", _("not better: kept the active version")
    SKIPPED = "skipped", _("too few signals")
    FAILED = "failed", _("failed")


class Retrain(models.Model):
    """One run of learning from shoppers' clicks: the figures it measured and what it decided."""

    status = models.CharField(max_length=10, choices=RetrainStatus.choices, default=RetrainStatus.RUNNING)
    base_key = models.CharField(max_length=64)
    previous_key = models.CharField(max_length=100, blank=True)
    """The version search used before this run (what "switch back" returns to)."""
    version_key = models.CharField(max_length=100, blank=True)
    pairs = models.PositiveIntegerField(default=0)
    figures = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"retrain {self.started_at:%Y-%m-%d %H:%M}: {self.status}"
