"""The import command's intake on large pictures: images/s with its thread pool against one thread.

    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/import_intake.py [--repeat 2]

Imports a folder of large pictures with ``catalog_import`` (read, check, decode, re-encode the stored JPEG and
its thumbnail, store files and rows, as ``manage.py import_catalog`` does), once per thread count, each into an
emptied catalogue, and prints images/s. The pictures: every packshot of ../shared/eval/ikea of at least 1000 px
(real product photos, read in place) and twelve 12-megapixel phone-sized JPEGs made from the demo assets. No
embedding runs (that is bench/ingest_search.py): only the intake the issue asks to double.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (puts the project on sys.path)
from common import PROJECT_DIR, bench_database, django_setup, embedded_stop_if_started, media_dir, queue_purge, shopper_photo

IKEA = PROJECT_DIR.parent / "shared" / "eval" / "ikea" / "images"


def pictures_folder(folder: Path, assets: Path) -> tuple[int, int]:
    """Links to the large IKEA packshots and twelve 12 MP JPEGs in ``folder``/large; returns both counts."""
    from PIL import Image

    target = folder / "large"
    target.mkdir()
    real = 0
    for path in sorted(IKEA.rglob("*.jpg")):
        if "room_scenes" in path.parts:
            continue
        with Image.open(path) as probe:
            if max(probe.size) < 1000:
                continue
        (target / f"ikea-{path.parent.name.replace(' ', '-')}-{path.name}").symlink_to(path)
        real += 1
    phone = sorted(assets.glob("*.webp"))[:12]
    for i, asset in enumerate(phone):
        (target / f"phone-{i:02d}.jpg").write_bytes(shopper_photo(asset, size=(4032, 3024), seed=i))
    return real, len(phone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="imports per thread count (best is printed)")
    args = parser.parse_args()
    env = django_setup(database="shop_bench_import", queue="shop-bench-import", redis_db=10)
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.models import Category, Product
    from shop.backoffice import importing

    try:
        with bench_database(env), media_dir(), tempfile.TemporaryDirectory(prefix="shop-bench-import-") as tmp:
            real, phone = pictures_folder(Path(tmp), settings.DEMO_ASSETS_DIR)
            print(f"{real} IKEA packshots >= 1000 px and {phone} 12 MP photos")
            results = {}
            for threads in sorted({1, importing.INTAKE_THREADS}):
                importing.INTAKE_THREADS = threads
                importing.INTAKE_AHEAD = 2 * threads
                best = 0.0
                for _ in range(args.repeat):
                    Product.objects.all().delete()
                    Category.objects.all().delete()
                    started = time.perf_counter()
                    with CaptureQueriesContext(connection) as queries:
                        report = importing.catalog_import(folder=Path(tmp))
                    seconds = time.perf_counter() - started
                    queue_purge()
                    assert not report.errors, report.errors[:3]
                    best = max(best, report.images_added / seconds)
                results[threads] = best
                print(f"  {threads} intake thread(s): {best:6.1f} images/s ({report.images_added} images, "
                      f"{len(queries.captured_queries) / report.images_added:.1f} SQL queries a picture)")
            if len(results) > 1:
                print(f"  speed-up: {results[max(results)] / results[1]:.2f}x")
    finally:
        embedded_stop_if_started(env)


if __name__ == "__main__":
    main()
