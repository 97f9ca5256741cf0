"""Calibrate the "no close match" threshold on real photos, through the shop's search path.

    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/no_match_threshold.py [--model KEY] [--eval-dir DIR]

The grocery packshots (../shared/eval/grocery, split iconic) are the catalogue. Two kinds of query:
  * shoppers' photos of those products (split val): a correct first result is a *true match*;
  * clothing photos (../shared/eval/clothing), which the grocery shop does not sell: any result is *unrelated*.
For each threshold on the first result's cosine similarity it prints the share of true matches kept (shown as
matches) and of unrelated photos wrongly shown as matches, and the threshold that keeps unrelated photos under
5 %. The shop's threshold per model key lives in visualsearch/selectors.py (CLOSE_MATCH_SIMILARITY).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

import common  # noqa: F401  (puts the project on sys.path)
from common import PROJECT_DIR, bench_database, django_setup, embedded_stop_if_started, machine_line, media_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model key (default: the shop's)")
    parser.add_argument("--eval-dir", type=Path, default=PROJECT_DIR.parent / "shared" / "eval")
    parser.add_argument("--unrelated", type=int, default=300, help="clothing photos to query (every n-th)")
    parser.add_argument("--max-false", type=float, default=0.05, help="allowed share of unrelated photos shown")
    args = parser.parse_args()
    env = django_setup(database="shop_bench_threshold", queue="shop-bench", redis_db=8)
    from django.conf import settings

    from visualsearch.evaluation import catalogue_build, catalogue_embed, manifest_read
    from visualsearch.selectors import photo_embed, products_near_vector

    model_key = args.model or settings.VISUALSEARCH_MODEL
    grocery = manifest_read(manifest=args.eval_dir / "grocery" / "manifest.csv", label_column="product_id")
    clothing = manifest_read(manifest=args.eval_dir / "clothing" / "manifest.csv", label_column="category")
    clothing = clothing[:: max(1, len(clothing) // args.unrelated)][: args.unrelated]
    gallery = [p for p in grocery if p.split == "iconic"]
    shoppers = [p for p in grocery if p.split == "val"]
    try:
        with bench_database(env), media_dir():
            started = time.monotonic()
            label_of = catalogue_build(gallery=gallery)
            catalogue_embed(model_key=model_key)

            def first(photo):
                key, vector = photo_embed(photo.path.read_bytes(), model_key=model_key)
                match = products_near_vector(vector=vector, model_key=key, limit=1)[0]
                return label_of[match.product.id], match.similarity

            true_sims, wrong_sims = [], []
            for photo in shoppers:
                label, similarity = first(photo)
                (true_sims if label == photo.label else wrong_sims).append(similarity)
            unrelated = np.asarray([first(photo)[1] for photo in clothing])
            true_sims = np.asarray(true_sims)
            print(f"{machine_line()}\nmodel {model_key}: {len(gallery)} packshots, {len(shoppers)} shoppers' photos "
                  f"({len(true_sims)} right first), {len(unrelated)} unrelated clothing photos, "
                  f"{time.monotonic() - started:.0f} s")
            print(f"{'threshold':>10}{'true kept':>11}{'wrong-first kept':>18}{'unrelated shown':>17}")
            for threshold in np.round(np.arange(0.30, 0.91, 0.05), 2):
                print(f"{threshold:>10.2f}{np.mean(true_sims >= threshold):>11.1%}"
                      f"{np.mean(np.asarray(wrong_sims) >= threshold) if wrong_sims else 0:>18.1%}"
                      f"{np.mean(unrelated >= threshold):>17.1%}")
            chosen = float(np.quantile(unrelated, 1 - args.max_false))
            print(f"threshold with <= {args.max_false:.0%} unrelated shown: {chosen:.3f} -> true matches kept "
                  f"{np.mean(true_sims >= chosen):.1%}, unrelated shown {np.mean(unrelated >= chosen):.1%}")
    finally:
        embedded_stop_if_started(env)


if __name__ == "__main__":
    main()
