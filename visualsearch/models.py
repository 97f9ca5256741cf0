from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from pgvector.django import HalfVectorField, SparseVectorField, VectorField

CONCEPT_COUNT = 1000
"""ImageNet-1k: the classes of the heads that ship with the offline models (see ``visualsearch.concepts``)."""


class EmbeddingStatus(models.TextChoices):
    PENDING = "pending", "pending"
    READY = "ready", "ready"
    FAILED = "failed", "failed"


class ImageEmbedding(models.Model):
    """One row per (image, model key): the work item and, once ready, the vector.

    The vector column has no fixed dimension so several model keys can live side by side; each key gets
    its own partial HNSW index on ``vector::halfvec(<dimension>)`` (see ``querysets.hnsw_index_sql``).
    """

    image = models.ForeignKey(
        "catalog.ProductImage", on_delete=models.CASCADE, related_name="embeddings", db_constraint=False
    )
    """The database's foreign key is ``(product_id, image_id)`` to the picture's ``(product_id, id)`` (migration
    0007): the shape Citus needs to keep it between co-located shards. Django's own ``image_id`` one is off."""
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+", db_index=False)
    """The picture's product, copied from it when the row is made (a picture never changes product). On Citus it
    is the distribution column of pictures and embeddings alike, co-located with products, so the k-NN query's
    joins (``p.id = e.product_id``) stay inside a shard; on one PostgreSQL the rows are the same. Its index is
    the primary key's, ``(product_id, id)``."""
    model_key = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=EmbeddingStatus.choices, default=EmbeddingStatus.PENDING)
    vector = HalfVectorField(null=True, blank=True)
    concepts = SparseVectorField(dimensions=CONCEPT_COUNT, null=True, blank=True)
    """The picture's likeliest ImageNet concepts with their probabilities, from the same forward pass as the
    vector (null for keys whose network has no classifier head). Text search ranks pictures by them."""
    concept_ids = ArrayField(models.SmallIntegerField(), null=True, blank=True)
    """The indices of the concepts the picture shows with at least 1 % (``services.CONCEPT_INDEXED``): a GIN index
    finds the pictures that show any of a query's concepts without reading the other rows (and their vectors)."""
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # product first: a unique constraint on Citus includes the distribution column.
            models.UniqueConstraint(
                fields=["product", "image", "model_key"], name="imageembedding_one_per_image_and_key"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="ready") | models.Q(vector__isnull=False),
                name="imageembedding_ready_has_vector",
            ),
        ]
        indexes = [
            models.Index(fields=["model_key", "status"]),
            GinIndex(fields=["concept_ids"], name="imageembedding_concept_ids"),
        ]

    def __str__(self) -> str:
        return f"{self.model_key} for image {self.image_id}: {self.status}"


class ModelVersionStatus(models.TextChoices):
    TRAINING = "training", "training"
    FAILED = "failed", "training failed"
    AVAILABLE = "available", "available"
    """Usable: every new image is embedded for it, a backfill fills in the rest, staff may switch to it."""


class ModelVersion(models.Model):
    """A registered embedding model key; exactly one is active for search.

    A trained adapter version carries its weights here, so web and worker processes load the same ones.
    """

    key = models.CharField(max_length=64, unique=True)
    is_active = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=ModelVersionStatus.choices, default=ModelVersionStatus.AVAILABLE)
    base_key = models.CharField(max_length=64, blank=True)
    adapter_weights = models.BinaryField(null=True, blank=True, editable=False)
    progress = models.FloatField(default=0.0)
    """Training progress, 0 to 1, while status is training."""
    message = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    training_images = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True), name="one_active_model"),
        ]

    def __str__(self) -> str:
        return self.key + (" (active)" if self.is_active else "")


class VectorStatisticsKind(models.TextChoices):
    QUERY = "query", "shoppers' query photos"
    CATALOGUE = "catalogue", "catalogue pictures"


class VectorStatistics(models.Model):
    """The running mean of one kind of vector for one model key: an aggregate, never a photo or a shopper.

    Search centres each side on its own mean (see ``visualsearch.statistics``); keys never mix.
    """

    model_key = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=VectorStatisticsKind.choices)
    mean = VectorField()
    count = models.PositiveBigIntegerField(default=0)
    """How many vectors the mean stands for (queries: capped at the window, so recent ones weigh in)."""
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_key", "kind"], name="vectorstatistics_one_per_key_kind")]
        verbose_name_plural = "vector statistics"

    def __str__(self) -> str:
        return f"{self.model_key} {self.kind} mean of {self.count}"
