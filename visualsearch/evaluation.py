"""Retrieval quality measured through the shop's own search path.

A manifest (CSV of photos with labels) becomes a throwaway catalogue: each distinct label of the gallery split is a
product whose images are stored by ``product_image_add`` (the same intake as an admin upload) and embedded by
``embeddings_compute`` (the function the Celery worker runs). Each query photo is embedded by ``photo_embed`` (the
search page's path) and ranked by ``products_near_vector`` (pgvector HNSW, one entry per product, best image first).
So the numbers are the shop's numbers: nothing here re-implements preprocessing, embedding or ranking.

Leave-one-out (e.g. clothing by category): every photo is its own product and is queried with its stored vector
against all the others, exactly like a product page's "visually similar" block.

Run it in a database of its own (``throwaway_database``); the management command does.
"""

from __future__ import annotations

import csv
import logging
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
from django.db import connection
from django.test.utils import override_settings

from catalog.models import Product, ProductImage, ProductImageKind
from catalog.services import ProductData, category_get_or_create_path, product_create

from .models import EmbeddingStatus, ImageEmbedding
from .selectors import catalogue_centring, photo_embed, photo_query, products_near_photo, products_near_vector
from .statistics import (
    catalogue_statistics_refresh,
    query_statistics_flush,
    query_statistics_reset,
    query_vector_observe,
)
from .services import embeddings_compute, embeddings_request, product_image_add

logger = logging.getLogger(__name__)
KS = (1, 5, 10)
# Products ranked per query: enough for Recall@10 and a faithful mAP on the protocols here (81 products);
# leave-one-out over 713 photos ranks the first 240 (mAP@240) to stay within one HNSW scan (ef_search <= 1000).
MAX_RANKED = 240
# The worker's batch; the production default (VISUALSEARCH_BATCH_SIZE) is 32 too.
EMBED_CHUNK = 32

Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class EvalPhoto:
    path: Path
    label: str
    """What a hit means: the product id (instance level) or the category (leave-one-out)."""
    split: str
    group: str = ""


def manifest_read(
    *, manifest: Path, label_column: str, group_column: str | None = None, split_column: str = "split"
) -> list[EvalPhoto]:
    """Rows of a manifest CSV; ``path`` is relative to the manifest's folder."""
    root = manifest.parent
    with manifest.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"path", label_column, *([group_column] if group_column else [])} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{manifest} has no column {', '.join(sorted(missing))}")
        return [
            EvalPhoto(
                path=root / row["path"],
                label=row[label_column],
                split=row.get(split_column, ""),
                group=row[group_column] if group_column else "",
            )
            for row in reader
        ]


@dataclass(frozen=True)
class RankedQuery:
    label: str
    group: str
    ranked: list[str]
    """Labels of the ranked products, best first (the shop's result list)."""
    relevant: int
    """How many products in the gallery carry the query's label (1 at instance level)."""
    similarities: list[float] = field(default_factory=list)


@dataclass
class Scores:
    queries: int
    recall: dict[int, float]
    """Recall@k: the share of queries with at least one right product in the first k."""
    precision: dict[int, float]
    """Precision@k: the share of right products among the first k (leave-one-out's P@1, P@10)."""
    mean_ap: float


def scores_compute(queries: list[RankedQuery], *, ks: tuple[int, ...] = KS) -> Scores:
    if not queries:
        return Scores(queries=0, recall={k: 0.0 for k in ks}, precision={k: 0.0 for k in ks}, mean_ap=0.0)
    recall = {k: 0.0 for k in ks}
    precision = {k: 0.0 for k in ks}
    ap_sum = 0.0
    for query in queries:
        hits = np.asarray([label == query.label for label in query.ranked], dtype=bool)
        for k in ks:
            recall[k] += float(hits[:k].any())
            precision[k] += float(hits[:k].sum()) / k
        if query.relevant and hits.any():
            # Average precision over the relevant products; one missing from the list counts as precision 0.
            positions = np.flatnonzero(hits) + 1
            ap_sum += float(np.sum(np.arange(1, len(positions) + 1) / positions)) / query.relevant
    n = len(queries)
    return Scores(
        queries=n,
        recall={k: v / n for k, v in recall.items()},
        precision={k: v / n for k, v in precision.items()},
        mean_ap=ap_sum / n,
    )


@dataclass
class EvalReport:
    name: str
    model_key: str
    mode: str
    gallery_products: int
    gallery_images: int
    overall: Scores
    groups: dict[str, Scores]
    seconds: float
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        if self.mode == "rooms":
            e = self.extra
            return (
                f"{self.name}: model {self.model_key}, rooms, gallery {self.gallery_products} products, {self.seconds:.0f} s\n"
                f"rooms {e['rooms']}: recall@10 {e['recall_at_10']:.3f}, recall@50 {e['recall_at_50']:.3f}, rooms with a "
                f"right product in the top 10 {e['rooms_with_hit_at_10']:.3f}, lists per room {e['lists_per_room']:.2f}; "
                f"whole photo only: recall@10 {e['whole_photo_recall_at_10']:.3f}, rooms with a hit "
                f"{e['whole_photo_rooms_with_hit_at_10']:.3f}"
            )
        loo = self.mode == "leave-one-out"
        head = f"{'group':<22}{'queries':>8}" + "".join(f"{'R@' + str(k):>8}" for k in KS) + f"{'mAP':>8}"
        if loo:
            head += f"{'P@1':>8}{'P@10':>8}"
        lines = [
            f"{self.name}: model {self.model_key}, {self.mode}, gallery {self.gallery_products} products / "
            f"{self.gallery_images} images, {self.seconds:.0f} s",
            head,
        ]
        for name, scores in [("all", self.overall), *sorted(self.groups.items())]:
            line = f"{name[:21]:<22}{scores.queries:>8}" + "".join(f"{scores.recall[k]:>8.3f}" for k in KS)
            line += f"{scores.mean_ap:>8.3f}"
            if loo:
                line += f"{scores.precision[1]:>8.3f}{scores.precision[10]:>8.3f}"
            lines.append(line)
        return "\n".join(lines)


def _grouped(queries: list[RankedQuery]) -> dict[str, Scores]:
    by_group: dict[str, list[RankedQuery]] = defaultdict(list)
    for query in queries:
        if query.group:
            by_group[query.group].append(query)
    return {name: scores_compute(items) for name, items in by_group.items()} if len(by_group) > 1 else {}


@contextmanager
def throwaway_database(*, suffix: str | None = None) -> Iterator[str]:
    """A fresh, migrated database on the same server for the duration of the block, then dropped.

    Django's own test-database machinery does the work, so the schema (pgvector, HNSW indexes) is exactly
    the shop's. The shop's data is never touched.
    """
    settings_dict = connection.settings_dict
    original = settings_dict["NAME"]
    settings_dict.setdefault("TEST", {})
    previous_test_name = settings_dict["TEST"].get("NAME")
    # The process id keeps two evaluations running at once (protocols A and C) out of each other's way.
    settings_dict["TEST"]["NAME"] = f"{original}_{suffix or f'eval_{os.getpid()}'}"
    try:
        name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            # The throwaway rows' events must not reach the shop's workers (they would look their ids up in the
            # shop's own database): they stay in the throwaway outbox, dropped with it.
            with override_settings(OUTBOX_SEND_ON_COMMIT=False):
                yield name
        finally:
            connection.creation.destroy_test_db(original, verbosity=0)
    finally:
        settings_dict["TEST"]["NAME"] = previous_test_name
        if previous_test_name is None:
            settings_dict["TEST"].pop("NAME")


@contextmanager
def throwaway_media() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="lumen-eval-") as folder, override_settings(MEDIA_ROOT=folder):
        yield Path(folder)


def _embed_all(*, model_key: str, progress: Progress) -> None:
    """Embed every image for ``model_key`` with the worker's own function, in the worker's batch size."""
    image_ids = list(ProductImage.objects.order_by("id").values_list("id", flat=True))
    pending = embeddings_request(image_ids=image_ids, model_keys=[model_key], enqueue=False)
    for start in range(0, len(pending), EMBED_CHUNK):
        embeddings_compute(embedding_ids=pending[start : start + EMBED_CHUNK])
        progress(f"embed {model_key}", min(start + EMBED_CHUNK, len(pending)), len(pending))
    failed = ImageEmbedding.objects.filter(model_key=model_key).exclude(status=EmbeddingStatus.READY).count()
    if failed:
        raise RuntimeError(f"{failed} gallery images could not be embedded for {model_key}")


def catalogue_build(
    *,
    gallery: list[EvalPhoto],
    labelled: list[EvalPhoto] = (),
    one_product_per_photo: bool = False,
    progress: Progress = _no_progress,
) -> dict[int, str]:
    """Store the gallery as products (their images go through the shop's intake); returns product id -> label.

    ``labelled`` photos are attached to their label's product as labelled shopper photos (never searched).
    """
    category = category_get_or_create_path(path="Evaluation")
    products: dict[str, Product] = {}
    label_of: dict[int, str] = {}
    for number, photo in enumerate(gallery):
        key = f"{number}" if one_product_per_photo else photo.label
        product = products.get(key)
        if product is None:
            product = product_create(
                data=ProductData(sku=f"EVAL-{len(products):06d}", name=photo.label[:200], category=category,
                                 price=Decimal("1.00"))
            )
            products[key] = product
            label_of[product.id] = photo.label
        product_image_add(product=product, data=photo.path.read_bytes(), alt_text=photo.path.name, enqueue=False)
        progress("store gallery", number + 1, len(gallery))
    by_label = {label_of[p.id]: p for p in products.values()} if not one_product_per_photo else {}
    for number, photo in enumerate(labelled):
        product = by_label.get(photo.label)
        if product is None:
            continue  # a shopper photo of a product the shop does not sell teaches nothing here
        product_image_add(
            product=product, data=photo.path.read_bytes(), alt_text=photo.path.name, enqueue=False,
            kind=ProductImageKind.LABELLED,
        )
        progress("store labelled photos", number + 1, len(labelled))
    return label_of


def catalogue_embed(*, model_key: str, progress: Progress = _no_progress) -> None:
    _embed_all(model_key=model_key, progress=progress)
    catalogue_statistics_refresh(model_key=model_key)  # what beat does in the shop


def traffic_replay(*, photos: list[EvalPhoto], model_key: str, progress: Progress = _no_progress) -> int:
    """Earlier shoppers' photos searched before the measured queries, as a live shop has seen them: only their
    running mean is kept (statistics.py); their labels are never read. Returns how many were replayed."""
    for number, photo in enumerate(photos):
        query = photo_query(photo.path.read_bytes(), model_key=model_key)
        query_vector_observe(model_key=query.model_key, vector=query.vector)
        progress("past shoppers' searches", number + 1, len(photos))
    query_statistics_flush()
    return len(photos)


def queries_rank(
    *, queries: list[EvalPhoto], model_key: str, label_of: dict[int, str], progress: Progress = _no_progress
) -> list[RankedQuery]:
    """Each query photo through the search page's path: photo_embed, then products_near_photo (the measured
    queries do not move the query mean: only the replayed traffic before them does)."""
    counts: dict[str, int] = defaultdict(int)
    for label in label_of.values():
        counts[label] += 1
    limit = min(len(label_of), MAX_RANKED)
    ranked = []
    for number, photo in enumerate(queries):
        query = photo_query(photo.path.read_bytes(), model_key=model_key)
        matches = products_near_photo(vector=query.vector, model_key=query.model_key, limit=limit)
        ranked.append(
            RankedQuery(
                label=photo.label,
                group=photo.group,
                ranked=[label_of[m.product.id] for m in matches],
                relevant=counts[photo.label],
                similarities=[round(m.similarity, 4) for m in matches[:10]],
            )
        )
        progress("queries", number + 1, len(queries))
    return ranked


def leave_one_out_rank(
    *, model_key: str, label_of: dict[int, str], groups: dict[int, str], progress: Progress = _no_progress
) -> list[RankedQuery]:
    """Every product queried with its own stored vector against all the others (the product page's path)."""
    counts: dict[str, int] = defaultdict(int)
    for label in label_of.values():
        counts[label] += 1
    rows = ImageEmbedding.objects.filter(model_key=model_key, status=EmbeddingStatus.READY).values_list(
        "image__product_id", "vector"
    )
    ranked = []
    limit = min(len(label_of) - 1, MAX_RANKED)
    for number, (product_id, vector) in enumerate(rows):
        matches = products_near_vector(
            vector=np.asarray(vector, dtype=np.float32), model_key=model_key, limit=limit,
            exclude_product_id=product_id, centring=catalogue_centring(model_key),
        )
        label = label_of[product_id]
        ranked.append(
            RankedQuery(
                label=label, group=groups.get(product_id, ""), ranked=[label_of[m.product.id] for m in matches],
                relevant=counts[label] - 1,
            )
        )
        progress("leave-one-out queries", number + 1, len(label_of))
    return ranked


def evaluate_gallery_queries(
    *,
    name: str,
    gallery: list[EvalPhoto],
    queries: list[EvalPhoto],
    model_key: str,
    labelled: list[EvalPhoto] = (),
    traffic: list[EvalPhoto] = (),
    train_adapter: bool = False,
    progress: Progress = _no_progress,
) -> list[EvalReport]:
    """Instance-level protocol (A, B): gallery labels are products, queries are shoppers' photos.

    With ``train_adapter``, the labelled photos train an adapter over ``model_key`` through the same service
    as ``manage.py train_adapter``; both the base key and the adapter key are reported.
    """
    started = time.monotonic()
    label_of = catalogue_build(gallery=gallery, labelled=labelled, progress=progress)
    catalogue_embed(model_key=model_key, progress=progress)
    reports = []
    keys = [model_key]
    extra: dict[str, dict] = {}
    if train_adapter:
        from .training import adapter_train_and_register
        from .versions import model_version_backfill

        version = adapter_train_and_register(base_key=model_key, progress=lambda f, m: progress(m, int(f * 100), 100))
        # The shop's backfill: adapter vectors from the stored base vectors; anything left, the worker's function.
        model_version_backfill(key=version.key)
        catalogue_embed(model_key=version.key, progress=progress)
        keys.append(version.key)
        extra[version.key] = {"training_images": version.training_images, "adapter_metrics": version.metrics}
    images = sum(1 for _ in gallery)
    for key in keys:
        if traffic:
            extra.setdefault(key, {})["traffic_replayed"] = traffic_replay(photos=traffic, model_key=key, progress=progress)
        ranked = queries_rank(queries=queries, model_key=key, label_of=label_of, progress=progress)
        reports.append(
            EvalReport(
                name=name, model_key=key, mode="gallery/query", gallery_products=len(label_of),
                gallery_images=images, overall=scores_compute(ranked), groups=_grouped(ranked),
                seconds=time.monotonic() - started, extra=extra.get(key, {}),
            )
        )
    return reports


def evaluate_leave_one_out(
    *, name: str, photos: list[EvalPhoto], model_key: str, progress: Progress = _no_progress
) -> EvalReport:
    started = time.monotonic()
    label_of = catalogue_build(gallery=photos, one_product_per_photo=True, progress=progress)
    # product ids were created in photo order
    groups = {product_id: photo.group for product_id, photo in zip(sorted(label_of), photos, strict=True)}
    catalogue_embed(model_key=model_key, progress=progress)
    ranked = leave_one_out_rank(model_key=model_key, label_of=label_of, groups=groups, progress=progress)
    return EvalReport(
        name=name, model_key=model_key, mode="leave-one-out", gallery_products=len(label_of),
        gallery_images=len(photos), overall=scores_compute(ranked), groups=_grouped(ranked),
        seconds=time.monotonic() - started,
    )


# --- shop the look: a room photo, several right products, every result list the search returns ------------------


@dataclass(frozen=True)
class RoomScores:
    rooms: int
    recall_at_10: float
    """Over rooms: the share of the room's products found in the top 10 of any list the search returns."""
    recall_at_50: float
    rooms_with_hit_at_10: float
    lists_per_room: float
    whole_photo_recall_at_10: float
    whole_photo_rooms_with_hit_at_10: float


def _rooms_traffic(*, paths: list[Path], model_key: str, progress: Progress) -> None:
    """The other half's room photos searched first, as earlier shoppers of a furniture shop, on a fresh query mean
    (``traffic_replay``: only their running mean is kept; their products are never read)."""
    query_statistics_reset(model_key=model_key)
    traffic_replay(photos=[EvalPhoto(path=path, label="", split="traffic") for path in paths], model_key=model_key,
                   progress=progress)


def evaluate_rooms(
    *, name: str, gallery: list[EvalPhoto], rooms: dict[Path, set[str]], model_key: str, traffic: bool = True,
    progress: Progress = _no_progress,
) -> EvalReport:
    """Protocol D: each room photo through the shop's photo search; its lists are the first results and one list
    per object found; a room's product counts as found if it is in the top k of any list (the page shows them all).

    With ``traffic`` a live shop is measured, as protocol A measures one: the rooms are split in two halves (every
    other room), and each half is searched after the other half's photos were searched as earlier shoppers, so the
    query mean is the shop's own and never holds the measured photo. Without it, a fresh shop: the catalogue's
    mean stands in."""
    started = time.monotonic()
    label_of = catalogue_build(gallery=gallery, progress=progress)
    catalogue_embed(model_key=model_key, progress=progress)
    found10, found50, hits, lists, plain10, plain_hits = [], [], [], [], [], []
    ordered = sorted(rooms.items())
    halves = [ordered[0::2], ordered[1::2]] if traffic else [ordered]
    number = 0
    for index, half in enumerate(halves):
        if traffic:
            _rooms_traffic(paths=[path for path, _ in halves[1 - index]], model_key=model_key, progress=progress)
        for path, wanted in half:
            query = photo_query(path.read_bytes(), model_key=model_key)
            ranked = [
                [label_of[m.product.id] for m in products_near_photo(vector=v, model_key=query.model_key, limit=50)]
                for v in [query.vector, *[o.vector for o in query.objects]]
            ]
            in10 = {label for ranking in ranked for label in ranking[:10]} & wanted
            in50 = {label for ranking in ranked for label in ranking[:50]} & wanted
            _, whole = photo_embed(path.read_bytes(), model_key=model_key)
            plain = {label_of[m.product.id] for m in products_near_photo(vector=whole, model_key=model_key, limit=10)}
            found10.append(len(in10) / len(wanted))
            found50.append(len(in50) / len(wanted))
            hits.append(bool(in10))
            lists.append(len(ranked))
            plain10.append(len(plain & wanted) / len(wanted))
            plain_hits.append(bool(plain & wanted))
            number += 1
            progress("rooms", number, len(rooms))
    scores = RoomScores(
        rooms=len(rooms), recall_at_10=float(np.mean(found10)), recall_at_50=float(np.mean(found50)),
        rooms_with_hit_at_10=float(np.mean(hits)), lists_per_room=float(np.mean(lists)),
        whole_photo_recall_at_10=float(np.mean(plain10)), whole_photo_rooms_with_hit_at_10=float(np.mean(plain_hits)),
    )
    return EvalReport(
        name=name, model_key=model_key, mode="rooms", gallery_products=len(label_of), gallery_images=len(gallery),
        overall=Scores(queries=len(rooms), recall={10: scores.recall_at_10, 50: scores.recall_at_50},
                       precision={}, mean_ap=0.0),
        groups={}, seconds=time.monotonic() - started, extra=asdict(scores),
    )
