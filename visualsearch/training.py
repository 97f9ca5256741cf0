"""Learning from the catalogue: a small adapter over a frozen model key, trained from labelled images.

The shop knows which product each of its images shows: catalogue packshots, plus labelled shopper photos
(reviews, returns, tickets; ``ProductImage.kind = labelled``). Their vectors for the base key are already in
the database, so training never decodes an image or runs the backbone: it fits a linear map on stored vectors,
in seconds to minutes on a CPU.

The objective is the search itself: a shopper photo, mapped by the adapter, must be closer to its product's
catalogue images than to any other product's (a softmax over the catalogue, product-level by the best image),
plus a proxy term that pulls photos of one product together. The map starts as the identity (the base key's
own geometry) and weight decay pulls it back there, so products without labelled photos keep sensible vectors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from catalog.models import ProductImageKind

from .embedding import LinearAdapter, spec_for
from .models import EmbeddingStatus, ImageEmbedding, ModelVersion, ModelVersionStatus
from .versions import VersionError, VersionErrorCode, model_version_register

logger = logging.getLogger(__name__)

TrainingProgress = Callable[[float, str], None]


@dataclass(frozen=True)
class AdapterSettings:
    epochs: int = 40
    min_steps: int = 300
    """Small catalogues still get this many optimiser steps (a few epochs of 100 images would be 1 step each)."""
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 0.05
    """Softmax temperature on cosine similarities (0.05: the usual value for normalised-softmax losses)."""
    proxy_weight: float = 1.0
    holdout_fraction: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class TrainingData:
    vectors: np.ndarray
    """(N, D) base-key unit vectors."""
    products: np.ndarray
    """(N,) product id of each vector."""
    labelled: np.ndarray
    """(N,) True for a labelled shopper photo, False for a catalogue image."""
    weights: np.ndarray | None = None
    """(N,) how much each row counts (None: all 1). Pairs learned from shoppers' clicks are weighed by what the
    shopper did (recommendations/learning.py); labelled photos and catalogue images count 1."""

    def weight_array(self) -> np.ndarray:
        return np.ones(len(self.products), np.float32) if self.weights is None else self.weights.astype(np.float32)

    def subset(self, mask: np.ndarray) -> "TrainingData":
        return TrainingData(self.vectors[mask], self.products[mask], self.labelled[mask],
                            None if self.weights is None else self.weights[mask])


class TrainingError(Exception):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def training_data_load(*, base_key: str) -> TrainingData:
    rows = list(
        ImageEmbedding.objects.filter(model_key=base_key, status=EmbeddingStatus.READY)
        .order_by("image_id")
        .values_list("vector", "image__product_id", "image__kind")
    )
    if not rows:
        return TrainingData(np.zeros((0, spec_for(base_key).dimension), np.float32), np.zeros(0, int), np.zeros(0, bool))
    return TrainingData(
        vectors=np.asarray([np.asarray(r[0], dtype=np.float32) for r in rows]),
        products=np.asarray([r[1] for r in rows]),
        labelled=np.asarray([r[2] == ProductImageKind.LABELLED for r in rows]),
    )


def holdout_split(data: TrainingData, *, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of held-out labelled photos: ``fraction`` of each product's, at least one per product
    that has two or more (a product's only photo stays in training)."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(data.products), dtype=bool)
    for product in np.unique(data.products[data.labelled]):
        idx = np.flatnonzero(data.labelled & (data.products == product))
        if len(idx) >= 2:
            take = max(1, int(round(len(idx) * fraction)))
            held[rng.choice(idx, size=take, replace=False)] = True
    return held


def recall_at_1(*, queries: np.ndarray, query_products: np.ndarray, gallery: np.ndarray,
                gallery_products: np.ndarray) -> float:
    """Product-level Recall@1 of queries against catalogue images (a product scores by its best image)."""
    if len(queries) == 0:
        return 0.0
    similarities = queries @ gallery.T
    best = gallery_products[np.argmax(similarities, axis=1)]
    return float(np.mean(best == query_products))


def adapter_fit(
    data: TrainingData, *, settings: AdapterSettings = AdapterSettings(), progress: TrainingProgress | None = None
) -> LinearAdapter:
    import torch

    torch.manual_seed(settings.seed)
    x_all = torch.from_numpy(data.vectors.astype(np.float32))
    mean = x_all.mean(dim=0)
    products = np.unique(data.products)
    index = {p: i for i, p in enumerate(products)}
    y_all = torch.as_tensor([index[p] for p in data.products])
    catalogue = torch.from_numpy(~data.labelled)
    w_all = torch.from_numpy(data.weight_array())
    dim = x_all.shape[1]

    weight = torch.nn.Parameter(torch.eye(dim))
    bias = torch.nn.Parameter(torch.zeros(dim))
    # Proxies start at each product's mean vector (its catalogue images and photos), centred.
    proxy_init = torch.stack([(x_all[y_all == i] - mean).mean(dim=0) for i in range(len(products))])
    proxies = torch.nn.Parameter(torch.nn.functional.normalize(proxy_init, dim=1))
    optimiser = torch.optim.AdamW([weight, bias, proxies], lr=settings.learning_rate, weight_decay=0.0)

    def project(x):
        return torch.nn.functional.normalize((x - mean) @ weight + bias, dim=1)

    gallery_x, gallery_y = x_all[catalogue], y_all[catalogue]
    train_idx = torch.arange(len(x_all))
    batches = (len(train_idx) + settings.batch_size - 1) // settings.batch_size
    epochs = max(settings.epochs, -(-settings.min_steps // batches))
    for epoch in range(epochs):
        order = train_idx[torch.randperm(len(train_idx))]
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            z = project(x_all[batch])
            w = w_all[batch]
            loss = (torch.nn.functional.cross_entropy(
                z @ torch.nn.functional.normalize(proxies, dim=1).T / settings.temperature, y_all[batch],
                reduction="none") * w).sum() / w.sum() * settings.proxy_weight
            if len(gallery_x):
                # The search objective: each photo against every catalogue image, a product by its best image.
                g = project(gallery_x)
                sims = z @ g.T / settings.temperature
                per_product = torch.full((len(batch), len(products)), -1e4)
                per_product = per_product.scatter_reduce(
                    1, gallery_y.expand(len(batch), -1), sims, reduce="amax", include_self=True
                )
                has_image = torch.zeros(len(products), dtype=torch.bool)
                has_image[gallery_y] = True
                keep = has_image[y_all[batch]] & ~catalogue[batch]
                if keep.any():
                    kept = w[keep]
                    loss = loss + (torch.nn.functional.cross_entropy(
                        per_product[keep], y_all[batch][keep], reduction="none") * kept).sum() / kept.sum()
            # Decay toward the identity, not toward zero: no label means "keep the base geometry".
            loss = loss + settings.weight_decay * ((weight - torch.eye(dim)) ** 2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if progress and (epoch + 1) % max(1, epochs // 20) == 0:
            progress((epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs}, loss {loss.item():.3f}")
    return LinearAdapter(
        mean=mean.numpy(), weight=weight.detach().numpy().copy(), bias=bias.detach().numpy().copy()
    )


@dataclass(frozen=True)
class AdapterResult:
    adapter: LinearAdapter
    metrics: dict
    training_images: int


def adapter_train(
    data: TrainingData, *, settings: AdapterSettings = AdapterSettings(), progress: TrainingProgress | None = None
) -> AdapterResult:
    """Hold out part of the labelled photos, report Recall@1 before/after on them, then fit on everything."""
    labelled = int(data.labelled.sum())
    catalogue = int((~data.labelled).sum())
    if labelled < 2 or catalogue < 2 or len(np.unique(data.products)) < 2:
        raise TrainingError(
            f"training needs labelled shopper photos of at least two products with catalogue images "
            f"(found {labelled} labelled photos, {catalogue} catalogue images)"
        )
    report = progress or (lambda fraction, message: None)
    started = time.monotonic()
    held = holdout_split(data, fraction=settings.holdout_fraction, seed=settings.seed)
    train = data.subset(~held)
    gallery = ~data.labelled
    metrics: dict = {"holdout_photos": int(held.sum()), "products": int(len(np.unique(data.products)))}
    if held.any():
        adapter = adapter_fit(train, settings=settings, progress=lambda f, m: report(0.5 * f, "held-out fit: " + m))
        metrics["holdout_recall_at_1_base"] = round(recall_at_1(
            queries=data.vectors[held], query_products=data.products[held],
            gallery=data.vectors[gallery], gallery_products=data.products[gallery]), 4)
        queries, catalogue_vectors = adapter.apply(data.vectors[held]), adapter.apply(data.vectors[gallery])
        metrics["holdout_recall_at_1"] = round(recall_at_1(
            queries=queries, query_products=data.products[held],
            gallery=catalogue_vectors, gallery_products=data.products[gallery]), 4)
        # "No close match" threshold of this version: the similarity that keeps 90 % of held-out photos'
        # true matches (their own product's best catalogue image). Unrelated photos are not known here.
        own = [
            float(np.max(catalogue_vectors[data.products[gallery] == product] @ query))
            for query, product in zip(queries, data.products[held], strict=True)
            if np.any(data.products[gallery] == product)
        ]
        if own:
            metrics["close_match_similarity"] = round(float(np.quantile(own, 0.10)), 4)
    adapter = adapter_fit(data, settings=settings, progress=lambda f, m: report(0.5 + 0.5 * f, "final fit: " + m))
    metrics["training_seconds"] = round(time.monotonic() - started, 1)  # both fits, on this machine's CPU
    return AdapterResult(adapter=adapter, metrics=metrics, training_images=len(data.products))


def adapter_version_start(*, base_key: str) -> ModelVersion:
    """Reserve the new key (status training) so staff can watch its progress."""
    base = spec_for(base_key)
    if base.adapter is not None:
        raise VersionError(VersionErrorCode.VERSION_NOT_AVAILABLE, "train on a plain model key, not on an adapter")
    # '@' is allowed in index names' source keys; a timestamp keeps every training a key of its own.
    key = f"{base_key}@adapter-{timezone.now():%Y%m%d-%H%M%S}"
    return model_version_register(key=key, base_key=base_key, status=ModelVersionStatus.TRAINING)


def adapter_version_train(
    *, version_id: int, settings: AdapterSettings = AdapterSettings(), progress: TrainingProgress | None = None
) -> ModelVersion:
    """Train the reserved version's adapter; it becomes available (not active) or failed with a message."""
    version = ModelVersion.objects.get(id=version_id)
    if version.status != ModelVersionStatus.TRAINING:
        return version  # ran already (a redelivered task)

    def report(fraction: float, message: str) -> None:
        ModelVersion.objects.filter(id=version_id).update(progress=round(fraction, 3), message=message)
        if progress:
            progress(fraction, message)

    try:
        report(0.0, "loading vectors")
        result = adapter_train(training_data_load(base_key=version.base_key), settings=settings, progress=report)
    except TrainingError as error:
        ModelVersion.objects.filter(id=version_id).update(status=ModelVersionStatus.FAILED, message=error.message)
        version.refresh_from_db()
        return version
    except Exception as error:
        logger.exception("adapter training failed for %s", version.key)
        ModelVersion.objects.filter(id=version_id).update(
            status=ModelVersionStatus.FAILED, message=f"training failed: {error}"[:2000]
        )
        version.refresh_from_db()
        return version
    with transaction.atomic():
        ModelVersion.objects.filter(id=version_id).update(
            status=ModelVersionStatus.AVAILABLE,
            adapter_weights=result.adapter.to_bytes(),
            metrics=result.metrics,
            training_images=result.training_images,
            progress=1.0,
            message="trained; backfill it, then switch to it",
        )
    version.refresh_from_db()
    return version


def adapter_train_and_register(
    *, base_key: str, settings: AdapterSettings = AdapterSettings(), progress: TrainingProgress | None = None
) -> ModelVersion:
    version = adapter_version_start(base_key=base_key)
    version = adapter_version_train(version_id=version.id, settings=settings, progress=progress)
    if version.status != ModelVersionStatus.AVAILABLE:
        raise TrainingError(version.message)
    return version
