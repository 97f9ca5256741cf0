"""Calibrate the "close match" threshold on real photos, through the shop's search path, and check it held out.

    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/no_match_threshold.py [--model KEY] [--eval-dir DIR]

Two shops, each searched the way the storefront does (intake, embedding, centred k-NN after earlier traffic):
  * a grocery shop (../shared/eval/grocery, split iconic): its shoppers' photos are the true queries, a close result
    should be the right product (protocol A); clothing photos are things it does not sell;
  * a clothing shop (half of ../shared/eval/clothing): the other half are its shoppers' photos, a close result should
    be the right kind of garment (protocol C); grocery photos are things it does not sell.
The threshold on the first result's similarity is chosen on a calibration half (grocery ``train`` photos and half of
the unrelated photos) as the lowest value where, in both shops, >= 90 % of results shown as close are right and
>= 90 % of unrelated photos are told "no close match"; the figures are then reported on the held-out half (grocery
``val`` photos, the other unrelated photos). The shop's values live in visualsearch/selectors.py.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import common  # noqa: F401  (puts the project on sys.path)
from common import PROJECT_DIR, bench_database, django_setup, embedded_stop_if_started, machine_line, media_dir

GRID = np.round(np.arange(0.05, 0.95, 0.01), 2)


def _rates(right: np.ndarray, true_scores: np.ndarray, unrelated: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """(precision among results shown as close, share of true queries shown as close, unrelated told 'no match')."""
    shown = true_scores >= threshold
    precision = float(right[shown].mean()) if shown.any() else 0.0  # showing nothing is no calibration
    return precision, float(shown.mean()), float((unrelated < threshold).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model key (default: the shop's)")
    parser.add_argument("--eval-dir", type=Path, default=PROJECT_DIR.parent / "shared" / "eval")
    parser.add_argument("--traffic", type=int, default=300, help="earlier shoppers' searches before measuring")
    parser.add_argument("--per-side", type=int, default=150, help="queries per calibration / held-out side")
    parser.add_argument("--precision", type=float, default=0.90)
    parser.add_argument("--rejection", type=float, default=0.90)
    args = parser.parse_args()
    env = django_setup(database="shop_bench_threshold", queue="shop-bench", redis_db=8)
    from django.conf import settings

    from visualsearch.evaluation import catalogue_build, catalogue_embed, manifest_read, traffic_replay
    from visualsearch.selectors import photo_query, products_near_photo

    model_key = args.model or settings.VISUALSEARCH_MODEL
    n = args.per_side
    grocery = manifest_read(manifest=args.eval_dir / "grocery" / "manifest.csv", label_column="product_id")
    clothing = manifest_read(manifest=args.eval_dir / "clothing" / "manifest.csv", label_column="category")

    def spread(photos, count, start=0):
        return photos[start :: max(1, len(photos) // count)][:count]

    train = [p for p in grocery if p.split == "train"]
    shops = {
        "grocery": dict(
            gallery=[p for p in grocery if p.split == "iconic"],
            traffic=spread(train, args.traffic),
            calibrate=spread(train, n, start=1),
            held_out=spread([p for p in grocery if p.split == "val"], n),
            unrelated=(spread(clothing, n), spread(clothing, n, start=1)),
        ),
        "clothing": dict(
            gallery=clothing[0::2],
            traffic=spread(clothing[1::2], args.traffic // 2),
            calibrate=spread(clothing[1::2], n // 2, start=1),
            held_out=spread(clothing[1::2], n // 2, start=2),
            unrelated=(spread(train, n, start=2), spread([p for p in grocery if p.split == "val"], n, start=1)),
        ),
    }
    started = time.monotonic()
    scored: dict[str, dict[str, tuple]] = {}
    try:
        for shop, parts in shops.items():
            with bench_database(env), media_dir():
                label_of = catalogue_build(gallery=parts["gallery"])
                catalogue_embed(model_key=model_key)
                traffic_replay(photos=parts["traffic"], model_key=model_key)

                def first(photo):
                    query = photo_query(photo.path.read_bytes(), model_key=model_key)
                    match = products_near_photo(vector=query.vector, model_key=query.model_key, limit=1)[0]
                    return label_of[match.product.id] == photo.label, match.similarity

                scored[shop] = {}
                for side, queries, unrelated in (
                    ("calibrate", parts["calibrate"], parts["unrelated"][0]),
                    ("held_out", parts["held_out"], parts["unrelated"][1]),
                ):
                    true = [first(p) for p in queries]
                    scored[shop][side] = (
                        np.asarray([r for r, _ in true]),
                        np.asarray([s for _, s in true]),
                        np.asarray([first(p)[1] for p in unrelated]),
                    )
        print(f"{machine_line()}\nmodel {model_key}, {args.traffic} earlier searches per shop, "
              f"{time.monotonic() - started:.0f} s")
        chosen = None
        for threshold in GRID:
            ok = all(
                _rates(*scored[shop]["calibrate"], threshold)[0] >= args.precision
                and _rates(*scored[shop]["calibrate"], threshold)[1] >= 0.05  # something is still shown as close
                and _rates(*scored[shop]["calibrate"], threshold)[2] >= args.rejection
                for shop in shops
            )
            if ok:
                chosen = float(threshold)
                break
        print(f"{'threshold':>10}" + "".join(f"{shop + ' ' + col:>26}" for shop in shops for col in ("precision", "shown", "rejected")))
        for threshold in GRID[::5]:
            row = f"{threshold:>10.2f}"
            for shop in shops:
                row += "".join(f"{v:>26.1%}" for v in _rates(*scored[shop]["held_out"], threshold))
            print(row)
        if chosen is None:
            print("no threshold meets both targets in both shops on the calibration half")
            return
        print(f"chosen on the calibration half: {chosen:.2f}")
        for shop in shops:
            for side in ("calibrate", "held_out"):
                right, scores, unrelated = scored[shop][side]
                precision, shown, rejected = _rates(right, scores, unrelated, chosen)
                print(f"  {shop:<9}{side:<10} right first {right.mean():.1%}; shown as close {shown:.1%}, of which right "
                      f"{precision:.1%}; unrelated told 'no close match' {rejected:.1%} ({len(scores)} + {len(unrelated)} photos)")
    finally:
        embedded_stop_if_started(env)


if __name__ == "__main__":
    main()
