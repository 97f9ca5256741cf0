"""Learning from shoppers' clicks: the interaction log's (query vector -> product opened, added, bought) pairs
train the catalogue adapter that otherwise needs labelled shopper photos.

A click is a noisy label: shoppers open wrong products out of curiosity, and they mostly look at the first
results. So a retrain (1) weighs a pair by what the shopper did (a purchase says more than a glance),
(2) holds out a fifth of the searches to judge the new version against the active one on data neither was
trained on (the held-out clicks that agree with their neighbours, below, from searches made after the active
version was trained), and on the shop's labelled shopper photos when it has any, and (3) switches search only
when the new version beats the active one by RECOMMENDATIONS_RETRAIN_MARGIN; otherwise the active version stays
and staff see why in the admin. Every run is a ``Retrain`` row with its figures; "switch back" activates the previous key.

Before training, a pair is kept only when the clicks of the searches nearest to it agree with it
(``pairs_agreeing``): shoppers' photos of one product resemble each other more than they resemble its catalogue
picture, so a right click agrees with its neighbours' clicks, and a stray click on whatever came first does not.
Measured on simulated clicks over ../shared/eval/grocery (README, "Shopper signals"): the kept pairs were 93 %
right against 56 % of all clicks, and the adapter trained on them reached R@1 0.51 where all clicks gave 0.43.
A first fit followed by dropping pairs outside its top 10 (the usual "small loss" cleaning) dropped nothing here:
the wrong clicks sit near the top of the lists, where the position bias put them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.utils import timezone

from visualsearch.embedding import LinearAdapter, spec_for
from visualsearch.models import ModelVersion
from visualsearch.selectors import active_model_key
from visualsearch.statistics import catalogue_statistics_refresh
from visualsearch.training import AdapterSettings, TrainingData, TrainingError, adapter_fit, training_data_load
from visualsearch.versions import (
    VersionError,
    VersionErrorCode,
    model_version_activate,
    model_version_backfill,
    model_version_register,
)

from .models import Action, ActionKind, Retrain, RetrainStatus, Shown, ShownKind

logger = logging.getLogger(__name__)

ACTION_WEIGHTS = {ActionKind.OPEN: 1.0, ActionKind.CART: 2.0, ActionKind.BUY: 3.0}
HOLDOUT_FRACTION = 0.2
AGREEMENT_NEIGHBOURS = 5  # 5, 10, 20, 40 tried on simulated clicks: 5 and 10 kept the most right pairs


@dataclass(frozen=True)
class ClickPairs:
    vectors: np.ndarray
    """(N, D) the searches' query vectors in the base key."""
    products: np.ndarray
    """(N,) the product the shopper acted on."""
    weights: np.ndarray
    """(N,) the strongest action's weight (ACTION_WEIGHTS)."""
    shown_ids: np.ndarray
    """(N,) the search each pair came from (a search with two clicked products gives two pairs)."""
    searched_at: np.ndarray | None = None
    """(N,) when the search was made (POSIX seconds); None where it does not matter."""


def click_pairs_load(*, base_key: str, product_ids: set[int] | None = None) -> ClickPairs:
    """Every (search, product) the log has for photo searches whose vector belongs to ``base_key``, with the
    strongest thing the shopper did with that product; only products in ``product_ids`` when given."""
    strongest: dict[tuple[int, int], float] = {}
    rows = Action.objects.filter(
        shown__kind=ShownKind.PHOTO, shown__vector_key=base_key, shown__query_vector__isnull=False
    ).values_list("shown_id", "product_id", "kind")
    for shown_id, product_id, kind in rows.iterator(chunk_size=5000):
        if product_ids is not None and product_id not in product_ids:
            continue
        key = (shown_id, product_id)
        strongest[key] = max(strongest.get(key, 0.0), ACTION_WEIGHTS[kind])
    dimension = spec_for(base_key).dimension
    if not strongest:
        return ClickPairs(np.zeros((0, dimension), np.float32), np.zeros(0, int), np.zeros(0, np.float32),
                          np.zeros(0, int), np.zeros(0))
    searches = {
        shown_id: (vector, created_at)
        for shown_id, vector, created_at in Shown.objects.filter(
            id__in={shown_id for shown_id, _ in strongest}
        ).values_list("id", "query_vector", "created_at")
    }
    keys = sorted(strongest)
    return ClickPairs(
        vectors=np.asarray([np.asarray(searches[shown_id][0], dtype=np.float32) for shown_id, _ in keys]),
        products=np.asarray([product_id for _, product_id in keys]),
        weights=np.asarray([strongest[key] for key in keys], dtype=np.float32),
        shown_ids=np.asarray([shown_id for shown_id, _ in keys]),
        searched_at=np.asarray([searches[shown_id][1].timestamp() for shown_id, _ in keys]),
    )


def searches_holdout(shown_ids: np.ndarray, *, fraction: float = HOLDOUT_FRACTION, seed: int = 0) -> np.ndarray:
    """A boolean mask over pairs: whole searches held out (a search's pairs stay together), ``fraction`` of them."""
    searches = np.unique(shown_ids)
    rng = np.random.default_rng(seed)
    held = set(rng.choice(searches, size=int(round(len(searches) * fraction)), replace=False).tolist())
    return np.asarray([sid in held for sid in shown_ids], dtype=bool)


def _ranks(*, queries: np.ndarray, targets: np.ndarray, gallery: np.ndarray, gallery_products: np.ndarray) -> np.ndarray:
    """The rank (1 first) of each query's target product when products are scored by their best image."""
    products = np.unique(gallery_products)
    column = {p: i for i, p in enumerate(products)}
    scores = np.full((len(queries), len(products)), -np.inf, dtype=np.float32)
    similarities = queries @ gallery.T
    for j, product in enumerate(gallery_products):
        c = column[product]
        scores[:, c] = np.maximum(scores[:, c], similarities[:, j])
    target_scores = np.asarray([scores[i, column[t]] if t in column else -np.inf for i, t in enumerate(targets)])
    return 1 + np.sum(scores > target_scores[:, None], axis=1)


def recall_at_1_weighted(*, adapter: LinearAdapter | None, queries: np.ndarray, targets: np.ndarray,
                         weights: np.ndarray, gallery: np.ndarray, gallery_products: np.ndarray) -> float:
    """Weighted share of held-out searches whose acted-on product comes first (cosine over the catalogue,
    a product by its best image) under ``adapter`` (None: the plain base key)."""
    if len(queries) == 0:
        return 0.0
    if adapter is not None:
        queries, gallery = adapter.apply(queries), adapter.apply(gallery)
    ranks = _ranks(queries=queries, targets=targets, gallery=gallery, gallery_products=gallery_products)
    return float(np.sum(weights * (ranks == 1)) / np.sum(weights))


def _with_pairs(catalogue: TrainingData, vectors: np.ndarray, products: np.ndarray, weights: np.ndarray) -> TrainingData:
    return TrainingData(
        vectors=np.concatenate([catalogue.vectors, vectors]),
        products=np.concatenate([catalogue.products, products]),
        labelled=np.concatenate([catalogue.labelled, np.ones(len(products), bool)]),
        weights=np.concatenate([catalogue.weight_array(), weights]),
    )


def pairs_agreeing(pairs: ClickPairs, *, neighbours: int = AGREEMENT_NEIGHBOURS, chunk: int = 2048) -> np.ndarray:
    """A boolean mask of the pairs whose product is also the one most clicked, weighted by similarity and by
    action, among the ``neighbours`` nearest other clicked searches (vectors centred on the pairs' mean); the
    pair's own click counts as one average neighbour, so a lone pair in an empty region is kept. Pairs of one
    search are never each other's neighbours."""
    n = len(pairs.products)
    if n <= neighbours:
        return np.ones(n, dtype=bool)
    centred = pairs.vectors - pairs.vectors.mean(axis=0)
    centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
    products, column = np.unique(pairs.products, return_inverse=True)
    keep = np.zeros(n, dtype=bool)
    for start in range(0, n, chunk):  # (chunk x n) similarities at a time: memory stays flat for a big log
        rows = np.arange(start, min(start + chunk, n))
        similarity = centred[rows] @ centred.T
        similarity[pairs.shown_ids[rows][:, None] == pairs.shown_ids[None, :]] = -np.inf
        nearest = np.argpartition(-similarity, neighbours, axis=1)[:, :neighbours]
        for r, row in enumerate(rows):
            weights = np.clip(similarity[r, nearest[r]], 0.0, None) * pairs.weights[nearest[r]]
            votes = np.bincount(column[nearest[r]], weights=weights, minlength=len(products))
            votes[column[row]] += weights.mean() * pairs.weights[row]
            keep[row] = votes.argmax() == column[row]
    return keep


def clicks_adapter_fit(*, catalogue: TrainingData, pairs: ClickPairs, adapter_settings: AdapterSettings) -> tuple[LinearAdapter, dict]:
    """The adapter from the pairs that agree with their neighbours; returns it and how many pairs were kept."""
    agreeing = pairs_agreeing(pairs)
    adapter = adapter_fit(
        _with_pairs(catalogue, pairs.vectors[agreeing], pairs.products[agreeing], pairs.weights[agreeing]),
        settings=adapter_settings,
    )
    return adapter, {"pairs_kept": int(agreeing.sum()), "pairs_dropped": int((~agreeing).sum())}


def clicks_retrain(*, force: bool = False, adapter_settings: AdapterSettings = AdapterSettings(),
                   margin: float | None = None, min_pairs: int | None = None) -> Retrain:
    """One retrain from the log (the beat task calls this when RECOMMENDATIONS_RETRAIN is on; ``force`` runs it
    regardless, as the admin button does). Returns the run's row, whatever it decided."""
    margin = settings.RECOMMENDATIONS_RETRAIN_MARGIN if margin is None else margin
    min_pairs = settings.RECOMMENDATIONS_RETRAIN_MIN_PAIRS if min_pairs is None else min_pairs
    active_key = active_model_key()
    active_spec = spec_for(active_key)
    base_key = active_spec.base_key if active_spec.adapter is not None else active_key
    if not (force or settings.RECOMMENDATIONS_RETRAIN):
        # The schedule's daily call in a shop that has not turned learning on: no row, or the admin's list of
        # runs would fill with "off".
        return Retrain(base_key=base_key, previous_key=active_key, status=RetrainStatus.SKIPPED,
                       message="learning from clicks is off (RECOMMENDATIONS_RETRAIN)")
    run = Retrain.objects.create(base_key=base_key, previous_key=active_key)

    def finish(status: str, message: str, **fields) -> Retrain:
        Retrain.objects.filter(id=run.id).update(status=status, message=message, finished_at=timezone.now(), **fields)
        run.refresh_from_db()
        logger.info("retrain %s: %s (%s)", run.id, status, message)
        return run

    try:
        catalogue = training_data_load(base_key=base_key)
        catalogue_products = set(catalogue.products[~catalogue.labelled].tolist())
        pairs = click_pairs_load(base_key=base_key, product_ids=catalogue_products)
        if len(pairs.products) < min_pairs:
            return finish(RetrainStatus.SKIPPED, f"{len(pairs.products)} click pairs; a retrain needs {min_pairs}",
                          pairs=len(pairs.products))
        held = searches_holdout(pairs.shown_ids)
        train = ClickPairs(pairs.vectors[~held], pairs.products[~held], pairs.weights[~held], pairs.shown_ids[~held],
                           pairs.searched_at[~held])
        # Both versions are judged on the held-out pairs that agree with their neighbours (over every clicked
        # search), as the candidate is trained on agreeing pairs. A raw held-out click favours the active version:
        # the shoppers clicked what it ranked first, right or wrong, so its stray clicks count as its hits.
        # And only on searches made after the active version was trained: it learnt from every earlier pair,
        # held-out ones included, so judging it on them would be judging it on its own training data.
        trained_at = _trained_at(active_key) if active_spec.adapter is not None else None
        judged_pairs = held & pairs_agreeing(pairs)
        if trained_at is not None:
            judged_pairs &= pairs.searched_at > trained_at
        if not judged_pairs.any():
            since = " since the active version was trained" if trained_at is not None else ""
            return finish(RetrainStatus.SKIPPED, f"no held-out search{since} agrees with its neighbours",
                          pairs=len(pairs.products))
        gallery = ~catalogue.labelled
        gallery_vectors, gallery_products = catalogue.vectors[gallery], catalogue.products[gallery]
        labelled = catalogue.labelled

        def judged(adapter: LinearAdapter | None) -> dict:
            figures = {"held_out_recall_at_1": round(recall_at_1_weighted(
                adapter=adapter, queries=pairs.vectors[judged_pairs], targets=pairs.products[judged_pairs],
                weights=pairs.weights[judged_pairs], gallery=gallery_vectors, gallery_products=gallery_products), 4)}
            if labelled.any():
                figures["labelled_recall_at_1"] = round(recall_at_1_weighted(
                    adapter=adapter, queries=catalogue.vectors[labelled], targets=catalogue.products[labelled],
                    weights=np.ones(int(labelled.sum()), np.float32), gallery=gallery_vectors,
                    gallery_products=gallery_products), 4)
            return figures

        active_adapter = active_spec.adapter  # None for a plain key: the base geometry itself
        candidate, cleaning = clicks_adapter_fit(catalogue=catalogue, pairs=train, adapter_settings=adapter_settings)
        before, after = judged(active_adapter), judged(candidate)
        figures = {"pairs_training": int((~held).sum()), "pairs_held_out": int(held.sum()),
                   "pairs_judged": int(judged_pairs.sum()),
                   "searches": int(len(np.unique(pairs.shown_ids))), **cleaning,
                   "active": {"key": active_key, **before}, "candidate": after, "margin": margin}
        better = after["held_out_recall_at_1"] >= before["held_out_recall_at_1"] + margin
        no_worse_on_labels = after.get("labelled_recall_at_1", 0.0) >= before.get("labelled_recall_at_1", 0.0) - 0.005
        if not (better and no_worse_on_labels):
            return finish(
                RetrainStatus.KEPT,
                f"held-out Recall@1 {after['held_out_recall_at_1']:.3f} against the active version's "
                f"{before['held_out_recall_at_1']:.3f} (needs +{margin:.3f})"
                + ("" if no_worse_on_labels else "; worse on the labelled shopper photos"),
                pairs=len(pairs.products), figures=figures,
            )
        # Better: the final adapter learns from every pair, held-out ones included.
        final, cleaning_all = clicks_adapter_fit(catalogue=catalogue, pairs=pairs, adapter_settings=adapter_settings)
        figures["final"] = cleaning_all
        key = f"{base_key}@adapter-{timezone.now():%Y%m%d-%H%M%S}-clicks{run.id}"
        version = model_version_register(
            key=key, base_key=base_key, adapter=final, training_images=len(pairs.products),
            metrics={"source": "clicks", "retrain": run.id, **after},
        )
        model_version_backfill(key=version.key)  # vectors from the stored base vectors at once
        catalogue_statistics_refresh(model_key=version.key)  # its catalogue mean, before the first search needs it
        model_version_activate(key=version.key)
        return finish(RetrainStatus.SWITCHED, f"search now uses {key}", version_key=key, pairs=len(pairs.products),
                      figures=figures)
    except (TrainingError, VersionError) as error:
        return finish(RetrainStatus.FAILED, error.message)
    except Exception as error:  # the run's row must not stay "running"; the log keeps the traceback
        logger.exception("retrain %s failed", run.id)
        return finish(RetrainStatus.FAILED, f"retrain failed: {error}"[:2000])


def _trained_at(key: str) -> float | None:
    """When the version ``key`` was registered (POSIX seconds): every search before it may be in its training."""
    registered = ModelVersion.objects.filter(key=key).values_list("created_at", flat=True).first()
    return registered.timestamp() if registered is not None else None


def retrain_switch_back(*, retrain_id: int) -> ModelVersion:
    """Search goes back to the version that was active before this run switched (raises VersionError)."""
    run = Retrain.objects.get(id=retrain_id)
    if run.status != RetrainStatus.SWITCHED or not run.previous_key:
        raise VersionError(VersionErrorCode.VERSION_NOT_AVAILABLE, "this run did not switch search to a new version")
    return model_version_activate(key=run.previous_key)


