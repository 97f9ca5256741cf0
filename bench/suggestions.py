"""Suggestions measured offline: do the home page's suggestions hold what a simulated shopper buys next?

    nice -n 10 .venv/bin/python bench/suggestions.py [--sample 300] [--shoppers 400] [--seed 7]

A throwaway catalogue (a database of its own, dropped afterwards) of clothing photos from ../shared/eval/clothing:
``--sample`` photos, as many per category as the manifest allows, one product per photo, stored through the shop's
intake and embedded by the worker's function. Then simulated shoppers, each with a taste for one or two of the ten
categories, visit the shop a few times: each visit they view 3-6 products of a category they like (popular ones
more often: Zipf-like popularity within each category), sometimes glance at a complement (COMPLEMENTS: a t-shirt
goes with shorts or pants, a dress with shoes...), put one viewed product in the cart, and mostly buy it, half the
time with a complement. Their orders go through ``copurchases_record`` (what the ``order.placed`` subscriber
calls). Each shopper's last order is held out: it is not counted, and the question is whether the eight
suggestions made from everything before it hold one of its products (hit rate at 8). Compared:

- blend: ``suggestions_for_shopper`` (the home page), at several BOUGHT_WITH_WEIGHT and POPULAR_WEIGHT values
  (both 0 = visual similarity to the weighted taste of views, carts and purchases alone);
- visual only: ``products_near_products`` of the viewed products (what "Inspired by what you viewed" was);
- popularity: the most bought products of the counted orders, the shopper's own left out.

The shoppers, their tastes and the complements are made up here: the numbers compare methods on one plausible
shop, they do not predict a real shop's click-through.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import common  # noqa: F401  (puts the project on sys.path)
from common import django_setup, machine_line, ms

MANIFEST = common.PROJECT_DIR.parent / "shared" / "eval" / "clothing" / "manifest.csv"
SUGGESTED = 8
COMPLEMENTS = {
    "t-shirt": ["shorts", "pants"],
    "longsleeve": ["pants"],
    "shirt": ["pants"],
    "pants": ["shirt", "t-shirt"],
    "shorts": ["t-shirt"],
    "dress": ["shoes"],
    "skirt": ["shirt", "t-shirt"],
    "outwear": ["hat", "pants"],
    "hat": ["outwear"],
    "shoes": ["pants", "dress"],
}
# (BOUGHT_WITH_WEIGHT, POPULAR_WEIGHT) pairs measured; the shop's defaults are DEFAULT_WEIGHTS.
WEIGHTS = ((0.0, 0.0), (0.5, 0.0), (0.5, 0.1), (0.5, 0.2), (0.5, 0.4), (0.5, 0.8), (0.0, 0.4))
DEFAULT_WEIGHTS = (0.5, 0.4)


@dataclass
class Shopper:
    tastes: list[str]
    viewed: list[int] = field(default_factory=list)
    """Most recent first, as the session keeps it (VIEWED_KEPT at most)."""
    carted: list[int] = field(default_factory=list)
    orders: list[list[int]] = field(default_factory=list)
    held_out: list[int] = field(default_factory=list)

    @property
    def bought(self) -> list[int]:
        return list(dict.fromkeys(pid for order in reversed(self.orders) for pid in order))


def sample_photos(manifest: Path, sample: int, rng: np.random.Generator):
    from visualsearch.evaluation import EvalPhoto

    by_category: dict[str, list] = defaultdict(list)
    with manifest.open(newline="") as handle:
        for row in csv.DictReader(handle):
            by_category[row["category"]].append(manifest.parent / row["path"])
    per = max(1, sample // len(by_category))
    photos = []
    for category in sorted(by_category):
        paths = sorted(by_category[category])
        chosen = rng.choice(len(paths), size=min(per, len(paths)), replace=False)
        photos += [EvalPhoto(path=paths[i], label=category, split="gallery") for i in sorted(chosen)]
    return photos


class Shop:
    """The catalogue as the simulation sees it: products per category, each with a popularity."""

    def __init__(self, label_of: dict[int, str], rng: np.random.Generator):
        self.rng = rng
        self.by_category: dict[str, list[int]] = defaultdict(list)
        for product_id, category in sorted(label_of.items()):
            self.by_category[category].append(product_id)
        self.popularity: dict[str, np.ndarray] = {}
        for category, ids in self.by_category.items():
            ranks = rng.permutation(len(ids))
            weights = 1.0 / (ranks + 1.0) ** 0.9
            self.popularity[category] = weights / weights.sum()

    def pick(self, category: str, n: int = 1, avoid: set[int] = frozenset()) -> list[int]:
        ids = self.by_category[category]
        p = np.array([0.0 if pid in avoid else w for pid, w in zip(ids, self.popularity[category])])
        if p.sum() == 0:
            return []
        n = min(n, int((p > 0).sum()))
        return [ids[i] for i in self.rng.choice(len(ids), size=n, replace=False, p=p / p.sum())]


def shopper_simulate(shop: Shop, rng: np.random.Generator) -> Shopper:
    from recommendations.services import VIEWED_KEPT

    categories = sorted(shop.by_category)
    tastes = [str(c) for c in rng.choice(categories, size=int(rng.integers(1, 3)), replace=False)]
    shopper = Shopper(tastes=tastes)
    for _visit in range(int(rng.integers(2, 5))):
        category = str(rng.choice(tastes))
        views = shop.pick(category, int(rng.integers(3, 7)))
        if rng.random() < 0.4:
            views += shop.pick(str(rng.choice(COMPLEMENTS[category])), 1)
        for pid in views:
            shopper.viewed = [pid, *[v for v in shopper.viewed if v != pid]][:VIEWED_KEPT]
        if rng.random() < 0.7:
            chosen = views[0]
            if rng.random() < 0.75:
                order = [chosen]
                if rng.random() < 0.5:
                    order += shop.pick(str(rng.choice(COMPLEMENTS[category])), 1, avoid=set(order))
                shopper.orders.append(order)
            else:
                shopper.carted.append(chosen)
    seen = set(shopper.viewed) | set(shopper.carted) | set(shopper.bought)
    category = str(rng.choice(tastes))
    shopper.held_out = shop.pick(category, 1, avoid=seen)
    if rng.random() < 0.5:
        shopper.held_out += shop.pick(str(rng.choice(COMPLEMENTS[category])), 1, avoid=seen | set(shopper.held_out))
    return shopper


def _blend_name(weight: float, popular: float) -> str:
    return f"blend, bought-with {weight:g}, popular {popular:g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=300, help="catalogue photos (one product each)")
    parser.add_argument("--shoppers", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    args = parser.parse_args()
    django_setup(database="shop_bench_suggestions", queue="shop-bench", redis_db=8)
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import recommendations.selectors as selectors
    from recommendations.services import OrderProducts, copurchases_record
    from visualsearch.evaluation import catalogue_build, catalogue_embed, throwaway_database, throwaway_media
    from visualsearch.selectors import products_near_products

    rng = np.random.default_rng(args.seed)
    photos = sample_photos(args.manifest, args.sample, rng)
    model_key = settings.VISUALSEARCH_MODEL
    from django.test.utils import override_settings

    # Every call computes its ranking (the cache would answer the second weight with the first one's list).
    no_cache = override_settings(RECOMMENDATIONS_SIMILAR_CACHE_SECONDS=0)
    with throwaway_database(suffix="bench_suggestions"), throwaway_media(), no_cache:
        started = time.monotonic()
        label_of = catalogue_build(gallery=photos, one_product_per_photo=True)
        catalogue_embed(model_key=model_key)
        print(f"{machine_line()}\nmodel {model_key}: {len(label_of)} products "
              f"({len(set(label_of.values()))} categories) indexed in {time.monotonic() - started:.0f} s")

        shop = Shop(label_of, rng)
        shoppers = [shopper_simulate(shop, rng) for _ in range(args.shoppers)]
        shoppers = [s for s in shoppers if s.held_out]
        popularity: Counter[int] = Counter()
        orders = 0
        for number, shopper in enumerate(shoppers):
            for visit, order in enumerate(shopper.orders):
                copurchases_record(order=OrderProducts(reference=f"S{number}-{visit}", product_ids=order))
                popularity.update(order)
                orders += 1
        pairs = sum(1 for s in shoppers for o in s.orders if len(o) > 1)
        print(f"{len(shoppers)} shoppers, {orders} orders counted ({pairs} with two products), "
              f"{sum(len(s.held_out) for s in shoppers)} held-out products in their last orders")

        def hit(suggested: list[int], shopper: Shopper) -> bool:
            return bool(set(suggested[:SUGGESTED]) & set(shopper.held_out))

        hits: dict[str, list[bool]] = defaultdict(list)
        seconds: list[float] = []
        query_counts: list[int] = []
        ranked_popular = [pid for pid, _ in popularity.most_common()]
        for shopper in shoppers:
            interacted = set(shopper.viewed) | set(shopper.carted) | set(shopper.bought)
            popular = [pid for pid in ranked_popular if pid not in interacted]
            hits["popularity"].append(hit(popular, shopper))
            visual = products_near_products(product_ids=shopper.viewed, limit=SUGGESTED)
            hits["visual only (views)"].append(hit([m.product.id for m in visual], shopper))
            for weight, popular in WEIGHTS:
                selectors.BOUGHT_WITH_WEIGHT, selectors.POPULAR_WEIGHT = weight, popular
                connection.queries_log.clear()  # the log keeps 9000 at most: a full one would count 0 here
                began = time.perf_counter()
                with CaptureQueriesContext(connection) as queries:
                    blend = selectors.suggestions_for_shopper(
                        viewed=shopper.viewed, carted=shopper.carted, bought=shopper.bought, limit=SUGGESTED
                    )
                if (weight, popular) == DEFAULT_WEIGHTS:
                    seconds.append(time.perf_counter() - began)
                    query_counts.append(len(queries.captured_queries))
                hits[_blend_name(weight, popular)].append(hit([s.product.id for s in blend], shopper))
        n = len(shoppers)
        print(f"\nhit rate at {SUGGESTED} (a held-out product among the suggestions), {n} shoppers:")
        for name, values in hits.items():
            print(f"  {name:<40} {np.mean(values):6.1%}  ({sum(values)})")
        buyers = [i for i, s in enumerate(shoppers) if s.orders]
        for name in ("visual only (views)", _blend_name(*DEFAULT_WEIGHTS)):
            print(f"  {name + ', shoppers with an order':<54} "
                  f"{np.mean([hits[name][i] for i in buyers]):6.1%}  (of {len(buyers)})")
        print(f"blend {DEFAULT_WEIGHTS}: {ms(seconds)}, {np.mean(query_counts):.1f} queries per call")


if __name__ == "__main__":
    main()
