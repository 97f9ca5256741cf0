"""Measure search by words: full text alone against full text fused with what the pictures show.

    manage.py evaluate_text_search                       # the demo catalogue and its labelled queries
    manage.py evaluate_text_search --grocery             # grocery packshots without text, found by their names

The demo set (``shop/backoffice/eval/demo_text_queries.tsv``, written by the project: English and Chinese
queries, each with the products a shopper would want for it) runs on the demo catalogue, built in a throwaway
database and embedded with the shop's own worker code. ``--grocery`` stores the grocery packshots as products
with no text at all and searches each product's name (e.g. "Granny Smith", "Arla Sour Milk"): only the
pictures can answer, so it measures text -> picture on real product photos (R@5).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalog.models import Product
from catalog.services import ProductData, category_get_or_create_path, product_create
from shop.backoffice.demo import demo_csv_write
from shop.backoffice.importing import catalog_import
from visualsearch.evaluation import catalogue_embed, manifest_read, throwaway_database, throwaway_media
from visualsearch.services import product_image_add
from visualsearch.textsearch import products_for_text

QUERIES = Path(__file__).resolve().parents[2] / "eval" / "demo_text_queries.tsv"
EVAL_DIR = Path(settings.BASE_DIR).parent / "shared" / "eval"
COLOURS = QUERIES.with_name("demo_colours.tsv")
K = 10


def _ndcg(ranked: list[str], relevant: set[str], k: int = K) -> float:
    gain = sum(1.0 / math.log2(rank + 2) for rank, sku in enumerate(ranked[:k]) if sku in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return gain / ideal if ideal else 0.0


def _recall(ranked: list[str], relevant: set[str], k: int = K) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


class Command(BaseCommand):
    help = "R@10 and NDCG@10 of text search, full text alone vs fused with pictures (demo set), or text->picture R@5."

    def add_arguments(self, parser):
        parser.add_argument("--queries", type=Path, default=QUERIES, help="TSV: query, language, relevant_skus")
        parser.add_argument("--grocery", action="store_true", help="text -> picture on the grocery packshots")
        parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
        parser.add_argument("--assets", type=Path, default=settings.DEMO_ASSETS_DIR)
        parser.add_argument("--model", default=None, help="model key (default: the shop's)")
        parser.add_argument("--json", type=Path, help="write the figures to this file")
        parser.add_argument("--in-place", action="store_true", help="use the current database as it is (tests)")
        parser.add_argument("--colours", type=Path, nargs="?", const=COLOURS, default=None,
                            help="only: main-colour agreement with a hand-labelled set (no database needed)")
        parser.add_argument("--categories", action="store_true",
                            help="also: category prediction, leave-one-out over the catalogue (top-1 accuracy)")

    def handle(self, *args, **options):
        model_key = options["model"] or settings.VISUALSEARCH_MODEL
        if options["colours"]:
            figures = self._colour_agreement(options["colours"], options["assets"], options["eval_dir"])
            if options["json"]:
                options["json"].write_text(json.dumps(figures, indent=2, ensure_ascii=False))
            self.stdout.write(json.dumps({k: v for k, v in figures.items() if k != "per_picture"}, indent=2) + "\n")
            return

        def run() -> dict:
            if options["grocery"]:
                return self._grocery(options["eval_dir"], model_key)
            figures = self._demo(options["queries"], options["assets"], model_key, build=not options["in_place"])
            if options["categories"]:
                figures["category_prediction"] = self._categories(model_key)
            return figures

        if options["in_place"]:
            figures = run()
        else:
            with throwaway_database(suffix="textsearch"), throwaway_media():
                figures = run()
        if options["json"]:
            options["json"].write_text(json.dumps(figures, indent=2))
        self.stdout.write(json.dumps(figures, indent=2) if options["verbosity"] > 1 else self._table(figures))

    # --- the demo catalogue and its labelled queries ---------------------------------------------------------
    def _demo(self, queries_path: Path, assets: Path, model_key: str, *, build: bool) -> dict:
        with queries_path.open(encoding="utf-8") as handle:
            queries = [row for row in csv.DictReader(handle, delimiter="\t")]
        if not queries:
            raise CommandError(f"{queries_path} has no queries")
        if build:
            if not assets.is_dir():
                raise CommandError(f"{assets} is missing: make demo-assets")
            csv_path = Path(settings.MEDIA_ROOT) / "demo.csv"
            demo_csv_write(assets=assets, out=csv_path)
            catalog_import(folder=assets, csv_path=csv_path)
            self.stderr.write("embedding the demo catalogue ...")
            catalogue_embed(model_key=model_key)
        skus = dict(Product.objects.values_list("id", "sku"))
        totals: dict[tuple[str, str], list[float]] = defaultdict(list)
        per_query = []
        for row in queries:
            relevant = {sku.strip() for sku in row["relevant_skus"].split(",") if sku.strip()} & set(skus.values())
            if not relevant:
                continue
            entry = {"query": row["query"], "language": row["language"], "relevant": len(relevant)}
            for method, use_pictures in (("full_text", False), ("fused", True)):
                result = products_for_text(text=row["query"], limit=K, model_key=model_key, use_pictures=use_pictures)
                ranked = [skus[hit.product_id] for hit in result.hits]
                entry[method] = {"recall@10": _recall(ranked, relevant), "ndcg@10": _ndcg(ranked, relevant)}
                for language in (row["language"], "all"):
                    totals[(method, language + ":recall@10")].append(entry[method]["recall@10"])
                    totals[(method, language + ":ndcg@10")].append(entry[method]["ndcg@10"])
            per_query.append(entry)
        summary = {
            method: {name: round(sum(v) / len(v), 3) for (m, name), v in sorted(totals.items()) if m == method}
            for method in ("full_text", "fused")
        }
        counts = defaultdict(int)
        for entry in per_query:
            counts[entry["language"]] += 1
        return {"set": str(queries_path.name), "model_key": model_key, "queries": dict(counts), **summary,
                "per_query": per_query}

    # --- colours against a hand-labelled set ---------------------------------------------------------------------
    def _colour_agreement(self, labels: Path, assets: Path, eval_dir: Path) -> dict:
        """Each labelled picture goes through the intake and the worker's colour step; right when the measured
        main colour is (one of) the label's."""
        from visualsearch.colours import picture_colours
        from visualsearch.intake import image_intake, stored_image_open
        from visualsearch.services import _object_mask

        roots = {"demo": assets, "grocery": eval_dir / "grocery"}
        per_picture, right = [], defaultdict(lambda: [0, 0])
        with labels.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                source, _, path = row["picture"].partition(":")
                picture = stored_image_open(image_intake((roots[source] / path).read_bytes()).jpeg)
                found = picture_colours(picture, object_mask=_object_mask)
                measured = found[0].key if found else None
                ok = measured in set(row["main_colour"].split("|"))
                for group in (source, "all"):
                    right[group][0] += ok
                    right[group][1] += 1
                per_picture.append({"picture": row["picture"], "label": row["main_colour"], "measured": measured,
                                    "colours": [c.key for c in found], "right": ok})
        return {"set": labels.name, "main_colour_right": {g: round(r / n, 3) for g, (r, n) in right.items()},
                "pictures": {g: n for g, (_, n) in right.items()}, "per_picture": per_picture}

    # --- category prediction, leave-one-out ---------------------------------------------------------------------
    def _categories(self, model_key: str) -> dict:
        """Each product's first picture predicts its category from the others: by the neighbours' vote (what the
        shop uses) and, for comparison, by the nearest category concept profile (mean of its pictures' concepts)."""
        import numpy as np

        from visualsearch.categories import category_suggestions
        from visualsearch.models import CONCEPT_COUNT, ImageEmbedding

        rows = list(
            ImageEmbedding.objects.filter(model_key=model_key, status="ready", image__kind="catalogue")
            .order_by("image__product_id", "image__position", "image_id")
            .values_list("image__product_id", "image__product__category_id", "vector", "concepts")
        )
        first: dict[int, tuple] = {}
        for product_id, category_id, vector, concepts in rows:
            first.setdefault(product_id, (category_id, vector, concepts))
        profiles = np.zeros((len(first), CONCEPT_COUNT), dtype=np.float32)
        categories = np.asarray([c for c, _, _ in first.values()])
        for row, (_, _, concepts) in enumerate(first.values()):
            profiles[row] = concepts.to_numpy() if concepts is not None else 0
        vote_right = profile_right = 0
        for row, (product_id, (category_id, vector, _)) in enumerate(first.items()):
            suggestions = category_suggestions(
                vector=np.asarray(vector, dtype=np.float32), model_key=model_key, exclude_product_id=product_id, limit=1
            )
            vote_right += bool(suggestions) and suggestions[0].category.id == category_id
            others = np.ones(len(first), dtype=bool)
            others[row] = False
            best, best_score = None, -1.0
            for category in set(categories[others]):
                mean = profiles[others & (categories == category)].mean(axis=0)
                score = float(mean @ profiles[row]) / max(float(np.linalg.norm(mean) * np.linalg.norm(profiles[row])), 1e-12)
                if score > best_score:
                    best, best_score = category, score
            profile_right += best == category_id
        n = len(first)
        return {"products": n, "categories": len(set(categories)),
                "neighbours_vote_top1": round(vote_right / n, 3), "concept_profile_top1": round(profile_right / n, 3)}

    # --- grocery packshots found by their names alone ----------------------------------------------------------
    def _grocery(self, eval_dir: Path, model_key: str) -> dict:
        manifest = eval_dir / "grocery" / "manifest.csv"
        if not manifest.exists():
            raise CommandError(f"{manifest} does not exist (the eval data lives in ../shared/eval)")
        photos = [p for p in manifest_read(manifest=manifest, label_column="product_id") if p.split == "iconic"]
        category = category_get_or_create_path(path="Evaluation")
        by_label: dict[str, int] = {}
        for number, photo in enumerate(photos):
            if photo.label not in by_label:
                # No words at all: the product is findable by its pictures only.
                product = product_create(data=ProductData(sku=f"G{number:05d}", name=f"G{number:05d}",
                                                          category=category, price=Decimal("1.00")))
                by_label[photo.label] = product.id
            product = Product.objects.get(id=by_label[photo.label])
            product_image_add(product=product, data=photo.path.read_bytes(), enqueue=False)
        self.stderr.write(f"embedding {len(photos)} packshots ...")
        catalogue_embed(model_key=model_key)
        hits = {1: 0, 5: 0, 10: 0}
        answered, per_query = 0, []
        for label, product_id in sorted(by_label.items()):
            text = label.replace("-", " ").replace("_", " ")
            result = products_for_text(text=text, limit=10, model_key=model_key)
            ranked = [hit.product_id for hit in result.hits]
            answered += bool(ranked)
            for k in hits:
                hits[k] += product_id in ranked[:k]
            per_query.append({"query": text, "rank": ranked.index(product_id) + 1 if product_id in ranked else None,
                              "concepts": list(result.parsed.concept_terms)})
        n = len(by_label)
        return {"set": "grocery names -> packshots", "model_key": model_key, "queries": n,
                "text->picture": {f"R@{k}": round(v / n, 3) for k, v in hits.items()},
                "queries_with_a_concept": sum(1 for q in per_query if q["concepts"]),
                "answered": answered, "per_query": per_query}

    def _table(self, figures: dict) -> str:
        lines = [f"{figures['set']} ({figures['model_key']}), queries: {figures['queries']}"]
        for method in ("full_text", "fused", "text->picture", "category_prediction"):
            if method in figures:
                lines.append(f"  {method:14} " + "  ".join(f"{k} {v:.3f}" for k, v in figures[method].items()))
        return "\n".join(lines) + "\n"
