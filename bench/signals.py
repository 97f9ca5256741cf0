"""What the interaction log costs the hot paths: the product page (similar items), the text search page and the
photo search results page, each with the log off, on through its Redis buffer (the default) and on with one
INSERT per list (interleaved, same process, same database); the log's own write alone both ways, and the flush.

    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/signals.py [--products 120] [--repeat 60]

Prints p50/p95 per page and setting; changes nothing outside its own database.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (puts the project on sys.path)
from common import bench_database, django_setup, embedded_stop_if_started, machine_line, media_dir, ms, queue_purge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=60)
    args = parser.parse_args()
    env = django_setup(database="shop_bench_signals", queue="shop-bench-signals", redis_db=13)
    import numpy as np
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings

    from catalog.models import Product
    from recommendations.models import Shown
    from recommendations.services import ShownList, log_flush, shown_record
    from shop.backoffice.demo import demo_csv_write
    from visualsearch.models import ImageEmbedding
    from visualsearch.querycache import query_vector_remember
    from visualsearch.services import embeddings_compute

    try:
        with bench_database(env), media_dir(), override_settings(DEBUG=False, RECOMMENDATIONS_SIMILAR_CACHE_SECONDS=0):
            with tempfile.TemporaryDirectory() as folder:
                csv_path = Path(folder) / "catalog.csv"
                demo_csv_write(assets=settings.DEMO_ASSETS_DIR, out=csv_path)
                csv_path.write_text("".join(csv_path.read_text().splitlines(keepends=True)[: args.products + 1]))
                call_command("import_catalog", str(settings.DEMO_ASSETS_DIR), csv=csv_path, no_progress=True,
                             stdout=io.StringIO())
            queue_purge()
            ids = list(ImageEmbedding.objects.values_list("id", flat=True))
            for start in range(0, len(ids), 32):
                embeddings_compute(embedding_ids=ids[start : start + 32])
            products = list(Product.objects.order_by("id"))
            key = settings.VISUALSEARCH_MODEL
            vector = np.asarray(ImageEmbedding.objects.filter(model_key=key).first().vector, np.float32)
            query_id = query_vector_remember(model_key=key, vector=vector, base_key=key, base_vector=vector)
            client = Client()
            pages = {
                "product page (similar items)": lambda n: products[n % len(products)].get_absolute_url(),
                "text search page": lambda n: f"/search/?q={['shoe', 'apple', 'lamp', 'guitar'][n % 4]}",
                "photo search results": lambda n: f"/search/photo/?q={query_id}",
            }
            print(machine_line())
            print(f"{len(products)} products, {args.repeat} requests per page and setting (interleaved)")
            modes = {
                "off": {"RECOMMENDATIONS_LOG": False},
                "buffered": {"RECOMMENDATIONS_LOG": True, "RECOMMENDATIONS_LOG_BUFFER": True},
                "INSERT": {"RECOMMENDATIONS_LOG": True, "RECOMMENDATIONS_LOG_BUFFER": False},
            }
            for name, url in pages.items():
                for n in range(5):
                    client.get(url(n))  # warm: the model, the caches, the connection
                timings = {mode: [] for mode in modes}
                for n in range(args.repeat):
                    for mode, changes in modes.items():
                        with override_settings(**changes):
                            started = time.perf_counter()
                            response = client.get(url(n))
                            timings[mode].append(time.perf_counter() - started)
                        assert response.status_code == 200, (name, response.status_code)
                log_flush()
                print(f"{name:<30} " + "   ".join(f"log {mode} {ms(timings[mode])}" for mode in modes))
            for mode in ("buffered", "INSERT"):
                writes = []
                with override_settings(**modes[mode]):
                    for n in range(args.repeat * 3):
                        started = time.perf_counter()
                        shown_record(visitor="bench", shown=ShownList(
                            kind="photo", product_ids=[p.id for p in products[:24]], model_key=key,
                            top_similarity=0.5, close_match=False, query_vector=vector, vector_key=key))
                        writes.append(time.perf_counter() - started)
                print(f"{'the log write alone, ' + mode:<30} {ms(writes)}")
            started = time.perf_counter()
            flushed = log_flush()
            took = time.perf_counter() - started
            print(f"{'the flush':<30} {flushed} photo-search rows (with their query vectors) in {took * 1000:.1f} ms "
                  f"({took * 1000 / max(flushed, 1):.2f} ms a row); {Shown.objects.count()} rows written in all")
    finally:
        embedded_stop_if_started(env)


if __name__ == "__main__":
    main()
