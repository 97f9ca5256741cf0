"""Near-identical photos: does a resized, cropped, re-encoded, mirrored or recoloured copy of a catalogue picture
find its own product first?

    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/near_duplicates.py [--copies 200] [--model KEY]

The demo catalogue (~370 products) is indexed in a throwaway database through the shop's intake and the
worker's embedding function; each copy is searched through the search page's path (photo_embed, then
products_near_vector). Each copy gets a random mix of: resize (0.5x to 2x), crop up to 20 % of the picture,
JPEG quality 35 to 90, a horizontal flip (half of them), brightness/contrast/saturation within +-15 %.
Prints the share found first and in the top 5, per kind of change, and the similarity of the right product.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import common  # noqa: F401  (puts the project on sys.path)
from common import bench_database, django_setup, embedded_stop_if_started, machine_line, media_dir


def copy_make(data: bytes, rng: np.random.Generator) -> tuple[bytes, list[str]]:
    from PIL import Image, ImageEnhance

    picture = Image.open(io.BytesIO(data)).convert("RGBA")
    flat = Image.new("RGB", picture.size, (255, 255, 255))
    flat.paste(picture, mask=picture.getchannel("A"))
    changes = []
    width, height = flat.size
    crop = rng.uniform(0.0, 0.2)  # share of the area removed, split over the sides at random
    keep_w, keep_h = np.sqrt(1 - crop), np.sqrt(1 - crop)
    left = rng.uniform(0, 1 - keep_w) * width
    top = rng.uniform(0, 1 - keep_h) * height
    flat = flat.crop((int(left), int(top), int(left + keep_w * width), int(top + keep_h * height)))
    changes.append("crop>10%" if crop > 0.1 else "crop<=10%")
    scale = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    flat = flat.resize((max(32, int(flat.width * scale)), max(32, int(flat.height * scale))), Image.Resampling.BICUBIC)
    changes.append("downscaled" if scale < 1 else "upscaled")
    if rng.random() < 0.5:
        flat = flat.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        changes.append("flipped")
    if rng.random() < 0.5:
        for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
            flat = enhancer(flat).enhance(float(rng.uniform(0.85, 1.15)))
        changes.append("recoloured")
    quality = int(rng.integers(35, 91))
    changes.append("jpeg<60" if quality < 60 else "jpeg>=60")
    out = io.BytesIO()
    flat.save(out, "JPEG", quality=quality)
    return out.getvalue(), changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", help="model key (default: the shop's)")
    args = parser.parse_args()
    env = django_setup(database="shop_bench_neardup", queue="shop-bench", redis_db=8)
    from django.conf import settings

    from shop.backoffice.demo import demo_csv_write
    from visualsearch.evaluation import EvalPhoto, catalogue_build, catalogue_embed
    from visualsearch.selectors import photo_embed, products_near_vector

    model_key = args.model or settings.VISUALSEARCH_MODEL
    assets = Path(settings.DEMO_ASSETS_DIR)
    if not assets.is_dir():
        raise SystemExit(f"{assets} is missing: run `make demo-assets`")
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "demo.csv"
        demo_csv_write(assets=assets, out=csv_path)
        import csv

        rows = list(csv.DictReader(csv_path.open()))
    gallery = [EvalPhoto(path=assets / row["image"], label=row["sku"], split="gallery") for row in rows]
    rng = np.random.default_rng(args.seed)
    try:
        with bench_database(env), media_dir():
            started = time.monotonic()
            label_of = catalogue_build(gallery=gallery)
            catalogue_embed(model_key=model_key)
            print(f"{machine_line()}\nmodel {model_key}: {len(gallery)} products indexed in "
                  f"{time.monotonic() - started:.0f} s")
            first = top5 = 0
            by_change: dict[str, list[int]] = defaultdict(list)
            similarities, misses = [], []
            picks = rng.choice(len(gallery), size=args.copies, replace=len(gallery) < args.copies)
            for number, pick in enumerate(picks):
                photo = gallery[int(pick)]
                data, changes = copy_make(photo.path.read_bytes(), rng)
                key, vector = photo_embed(data, model_key=model_key)
                ranked = products_near_vector(vector=vector, model_key=key, limit=5)
                labels = [label_of[m.product.id] for m in ranked]
                hit = bool(labels) and labels[0] == photo.label
                first += hit
                top5 += photo.label in labels
                for change in changes:
                    by_change[change].append(hit)
                if hit:
                    similarities.append(ranked[0].similarity)
                else:
                    misses.append(f"{photo.path.name} ({', '.join(changes)}) -> {labels[:1]}")
            n = len(picks)
            print(f"{n} copies: found first {first / n:.1%} ({first}), in the top 5 {top5 / n:.1%}")
            for change, hits in sorted(by_change.items()):
                print(f"  {change:<12} {np.mean(hits):6.1%} of {len(hits)}")
            if similarities:
                print(f"similarity of the right product when first: min {min(similarities):.3f}, "
                      f"p5 {np.percentile(similarities, 5):.3f}, median {np.median(similarities):.3f}")
            for miss in misses[:10]:
                print("  missed:", miss)
    finally:
        embedded_stop_if_started(env)


if __name__ == "__main__":
    main()
