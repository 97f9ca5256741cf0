"""Where one request's time goes: SQL queries (count and time) and the Python profile of the similar-items API
and a product page, in this process with Django's test client, on a dedicated database.

    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/profile_requests.py [--products 120] [--repeat 50]

Used to find what bench/load.py's p95 is made of; prints numbers, changes nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (puts the project on sys.path)
from common import bench_database, django_setup, embedded_stop_if_started, media_dir, ms, queue_purge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--sort", default="cumulative", choices=["cumulative", "tottime"],
                        help="order of the profile's lines (tottime: where the time is spent itself)")
    parser.add_argument("--only", choices=["similar", "page"], help="profile one of the two requests")
    parser.add_argument("--warm", action="store_true",
                        help="request every product once before measuring: the steady state of a shop whose caches "
                             "are filled (bench/load.py after its first seconds)")
    args = parser.parse_args()
    env = django_setup(database="shop_profile", queue="shop-profile", redis_db=12)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from shop.backoffice.demo import demo_csv_write
    from catalog.models import Product
    from visualsearch.models import ImageEmbedding
    from visualsearch.services import embeddings_compute

    try:
        with bench_database(env), media_dir(), override_settings(
            DEBUG=False, SHOP_API_RATES={"anon": "1000000/second", "key": "1000000/second", "ip": "1000000/second"}
        ):
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
            client = Client()
            for label, url_of in [
                ("similar items API", lambda p: f"/api/v1/products/{p.id}/similar"),
                ("product page", lambda p: p.get_absolute_url()),
            ]:
                if args.only and not label.startswith({"similar": "similar", "page": "product"}[args.only]):
                    continue
                for p in products if args.warm else products[:3]:
                    assert client.get(url_of(p)).status_code == 200
                with CaptureQueriesContext(connection) as queries:
                    client.get(url_of(products[5]))
                print(f"\n{label}: {len(queries.captured_queries)} SQL queries for one request:")
                for q in queries.captured_queries:
                    print(f"  {float(q['time']) * 1000:6.2f} ms  {q['sql'][:150]}")
                times = []
                profile = cProfile.Profile()
                for i in range(args.repeat):
                    product = products[i % len(products)]
                    started = time.perf_counter()
                    profile.enable()
                    client.get(url_of(product))
                    profile.disable()
                    times.append(time.perf_counter() - started)
                print(f"{label}: {ms(times)} in process, one at a time")
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(40)
                print("\n".join(out.getvalue().splitlines()[:60]))
    finally:
        embedded_stop_if_started(env)


if __name__ == "__main__":
    main()
