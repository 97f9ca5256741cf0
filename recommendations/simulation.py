"""Shoppers simulated from a labelled photo set, to show that learning from clicks works.

Each shopper searches with one photo through the shop's own search (the active version, the centred pgvector
ranking), sees the first ``shown`` results and may click one: the log gets the list and the click exactly as the
storefront writes them, and the retrain reads them back from the log. Labels are used only to decide what a
simulated shopper clicks, never by the learning.

The click model (``ClickModel``) is deliberately unkind: many searches end without a click; a clicking shopper
picks a wrong product (drawn with the same position bias) ``wrong`` of the time; one who looks for the right
product finds it at rank r only with probability (1 / r) ** eta, and otherwise leaves without a click.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from visualsearch.evaluation import EvalPhoto, RankedQuery, Scores, catalogue_build, catalogue_embed, scores_compute
from visualsearch.selectors import PhotoQuery, active_model_key, photo_query, photo_query_in_key, products_near_photo
from visualsearch.statistics import query_statistics_flush, query_vector_observe

from .learning import clicks_retrain
from .models import ActionKind, ShownKind
from .services import ShownList, action_record, shown_record

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ClickModel:
    no_click: float = 0.4
    """Share of searches whose shopper leaves without clicking anything."""
    wrong: float = 1 / 3
    """Share of clicking shoppers who open a wrong product."""
    eta: float = 0.5
    """Position bias: the right product at rank r is found with probability (1 / r) ** eta."""
    shown: int = 24
    """Results on the page (the storefront's page size)."""

    def click(self, rng: np.random.Generator, ranked: list[int], right: int) -> int | None:
        if not ranked or rng.random() < self.no_click:
            return None
        bias = (1.0 / np.arange(1, len(ranked) + 1)) ** self.eta
        if rng.random() < self.wrong:
            wrong = [i for i, product in enumerate(ranked) if product != right]
            if not wrong:
                return None
            weights = bias[wrong] / bias[wrong].sum()
            return ranked[int(rng.choice(wrong, p=weights))]
        if right in ranked and rng.random() < bias[ranked.index(right)]:
            return right
        return None


@dataclass
class RoundFigures:
    round: int
    model_key: str
    searches: int
    clicks: int
    wrong_clicks: int
    retrain: dict = field(default_factory=dict)


@dataclass
class SimulationReport:
    before: Scores
    after: Scores
    before_key: str
    after_key: str
    rounds: list[RoundFigures]
    click_model: dict
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


class _Queries:
    """Each photo through the shop's photo_query once, in the base key (the network is frozen: a retrain changes
    the adapter, not the photo's base vectors); each later search maps those with ``photo_query_in_key``, which is
    what photo_query itself does for an adapter key."""

    def __init__(self, base_key: str) -> None:
        self.base_key = base_key
        self._base: dict[str, PhotoQuery] = {}

    def __call__(self, photo: EvalPhoto, model_key: str) -> PhotoQuery:
        key = str(photo.path)
        if key not in self._base:
            self._base[key] = photo_query(photo.path.read_bytes(), model_key=self.base_key)
        return photo_query_in_key(self._base[key], model_key=model_key)


def _measure(*, photos: list[EvalPhoto], queries: _Queries, model_key: str, product_of: dict[str, int],
             label_of: dict[int, str], traffic: list[EvalPhoto], progress: Progress) -> Scores:
    """Protocol A's measurement: earlier shoppers' photos set the key's query mean, then each val photo is
    ranked over the whole catalogue."""
    for number, photo in enumerate(traffic):
        query_vector_observe(model_key=model_key, vector=queries(photo, model_key).vector)
        progress(f"traffic for {model_key}", number + 1, len(traffic))
    query_statistics_flush()
    ranked = []
    for number, photo in enumerate(photos):
        query = queries(photo, model_key)
        matches = products_near_photo(vector=query.vector, model_key=model_key, limit=len(label_of))
        ranked.append(RankedQuery(label=photo.label, group=photo.group, ranked=[label_of[m.product.id] for m in matches],
                                  relevant=1 if photo.label in product_of else 0))
        progress(f"measure {model_key}", number + 1, len(photos))
    return scores_compute(ranked)


def click_learning_simulate(
    *, gallery: list[EvalPhoto], shoppers: list[EvalPhoto], measured: list[EvalPhoto], base_key: str,
    rounds: int = 3, click_model: ClickModel = ClickModel(), traffic_count: int = 300, seed: int = 0,
    margin: float = 0.0, progress: Progress = lambda *a: None,
) -> SimulationReport:
    """Run in a throwaway database: build the catalogue, measure, let the shoppers search and click in
    ``rounds`` waves with a retrain after each, measure again."""
    started = time.monotonic()
    label_of = catalogue_build(gallery=gallery, progress=progress)
    product_of = {label: product_id for product_id, label in label_of.items()}
    catalogue_embed(model_key=base_key, progress=progress)
    queries = _Queries(base_key)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(shoppers))
    traffic = [shoppers[i] for i in order[:: max(1, len(order) // traffic_count)][:traffic_count]]
    before_key = active_model_key()
    before = _measure(photos=measured, queries=queries, model_key=before_key, product_of=product_of,
                      label_of=label_of, traffic=traffic, progress=progress)
    figures: list[RoundFigures] = []
    for number, wave in enumerate(np.array_split(order, rounds)):
        key = active_model_key()
        result = RoundFigures(round=number + 1, model_key=key, searches=len(wave), clicks=0, wrong_clicks=0)
        for done, index in enumerate(wave):
            photo = shoppers[int(index)]
            query = queries(photo, key)
            query_vector_observe(model_key=key, vector=query.vector)
            matches = products_near_photo(vector=query.vector, model_key=key, limit=click_model.shown)
            visitor = f"sim-{number}-{done}"
            shown = shown_record(visitor=visitor, shown=ShownList(
                kind=ShownKind.PHOTO, product_ids=[m.product.id for m in matches], model_key=key,
                top_similarity=matches[0].similarity if matches else None,
                close_match=bool(matches and matches[0].close),
                query_vector=query.base_vector, vector_key=query.base_key,
            ))
            right = product_of.get(photo.label, -1)
            clicked = click_model.click(rng, [m.product.id for m in matches], right)
            if shown is not None and clicked is not None:
                action_record(visitor=visitor, shown_id=shown.id, product_id=clicked, kind=ActionKind.OPEN)
                result.clicks += 1
                result.wrong_clicks += int(clicked != right)
            progress(f"round {number + 1}: shoppers", done + 1, len(wave))
        query_statistics_flush()
        run = clicks_retrain(force=True, margin=margin, min_pairs=1)
        result.retrain = {"status": run.status, "message": run.message, "version_key": run.version_key,
                          "figures": run.figures}
        figures.append(result)
    after_key = active_model_key()
    after = _measure(photos=measured, queries=queries, model_key=after_key, product_of=product_of,
                     label_of=label_of, traffic=traffic, progress=progress)
    return SimulationReport(before=before, after=after, before_key=before_key, after_key=after_key, rounds=figures,
                            click_model=asdict(click_model), seconds=round(time.monotonic() - started, 1))
