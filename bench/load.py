"""A bounded load test of the real shop on loopback: gunicorn + a Celery worker on a dedicated database.

    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/load.py [--seconds 30] [--think 0]

Starts the shop as it would run in production on this machine: gunicorn (2 gthread workers x 4 threads for 2 cores,
DEBUG off, one torch thread per worker so two searches do not fight over the cores) and one Celery worker, on the
demo catalogue (~370 products, imported and embedded first). Then, each for ``--seconds``:

  1. search by photo (POST /api/v1/search/image, a 1024x768 JPEG) with 4 concurrent shoppers;
  2. similar items (GET /api/v1/products/<id>/similar) with 20 concurrent shoppers (target: p95 < 100 ms);
  3. product pages (GET /p/<slug>/, which include 8 similar items) with 20 concurrent shoppers, from a cold page
     cache and then with the pages kept (shop.storefront.productpage), and one shopper alone (service time);
  4. ingest while 4 shoppers search by photo: new products with pictures through
     catalog.services.product_image_add, embedded by the worker; images/s from upload to stored vector.

Each shopper is a thread with its own HTTP session that sends its next request as soon as the last one answered
(plus ``--think`` seconds): a closed loop, so 20 shoppers mean 20 requests in flight, the worst case for latency.
A thread loop rather than locust: it needs no extra packages (locust brings gevent, Flask and a web UI), and a
fixed number of closed-loop users for a fixed time with exact percentiles is all this measures. The load
generator shares the 2 cores with the server, as locust would.

Works on its own database ``shop_load`` (dropped afterwards), Redis databases 10/11 and queue ``shop-load``.
"""

from __future__ import annotations

import argparse
import io
import random
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import common  # noqa: F401  (puts the project on sys.path)
import numpy as np
from common import (
    bench_database,
    celery_wait_ready,
    celery_worker,
    child_process,
    django_setup,
    embedded_stop_if_started,
    machine_line,
    media_dir,
    queue_purge,
    shopper_photo,
    wait_for,
)


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def line(self, label: str) -> str:
        ok = self.statuses.get(200, 0)
        bad = sum(self.statuses.values()) - ok + sum(self.errors.values())
        if self.latencies:
            p50, p95, p99 = np.percentile(np.asarray(self.latencies) * 1000, [50, 95, 99])
            timing = f"p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  p99 {p99:7.1f} ms"
        else:
            timing = "no answers"
        detail = ""
        if bad:
            detail = "  errors: " + ", ".join(
                [f"HTTP {s} x{c}" for s, c in self.statuses.items() if s != 200] + [f"{e} x{c}" for e, c in self.errors.items()]
            )
        return (f"  {label:<44} {timing}  {len(self.latencies) / self.seconds:6.1f} req/s  "
                f"{len(self.latencies)} requests, {bad} errors{detail}")


def run_users(*, users: int, seconds: float, think: float, request) -> Result:
    """``users`` closed-loop shoppers calling ``request(session, rng)`` for ``seconds``."""
    import requests

    result = Result()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def shopper(index: int) -> None:
        rng = random.Random(index)
        session = requests.Session()
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status = request(session, rng)
                elapsed = time.perf_counter() - started
                with lock:
                    result.latencies.append(elapsed)
                    result.statuses[status] += 1
            except requests.RequestException as error:
                with lock:
                    result.errors[type(error).__name__] += 1
            if think:
                time.sleep(rng.uniform(0.5 * think, 1.5 * think))

    threads = [threading.Thread(target=shopper, args=(i,), daemon=True) for i in range(users)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    result.seconds = time.monotonic() - started
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def catalogue_load(assets: Path, *, limit: int | None) -> tuple[int, float, set[str]]:
    """The demo catalogue through the import command; the worker embeds it. Returns (images, seconds, files)."""
    import csv

    import tempfile

    from django.core.management import call_command

    from shop.backoffice.demo import demo_csv_write
    from visualsearch.models import EmbeddingStatus, ImageEmbedding

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shop-load-csv-") as folder:
        csv_path = Path(folder) / "catalog.csv"
        demo_csv_write(assets=assets, out=csv_path)
        if limit:
            csv_path.write_text("".join(csv_path.read_text().splitlines(keepends=True)[: limit + 1]))
        call_command("import_catalog", str(assets), csv=csv_path, no_progress=True, stdout=io.StringIO())
        with csv_path.open() as handle:
            files = {row["image"] for row in csv.DictReader(handle)}
    wait_for(lambda: not ImageEmbedding.objects.filter(status=EmbeddingStatus.PENDING).exists(),
             timeout=900, interval=0.5, what="the worker to embed the demo catalogue")
    ready = ImageEmbedding.objects.filter(status=EmbeddingStatus.READY).count()
    return ready, time.perf_counter() - started, files


def ingest_new_products(assets: Path, *, used: set[str], count: int, stop: threading.Event, report: dict) -> None:
    """Add ``count`` new products (demo pictures not in the catalogue) one upload at a time, as staff would."""
    from decimal import Decimal

    from django.db import connection

    from catalog.services import ProductData, category_get_or_create_path, product_create

    from visualsearch.services import product_image_add
    from visualsearch.models import EmbeddingStatus, ImageEmbedding

    try:
        category = category_get_or_create_path(path="New arrivals")
        pictures = [p for p in sorted(assets.glob("*.webp")) if p.name not in used][::7][:count]
        started = time.perf_counter()
        image_ids = []
        for index, path in enumerate(pictures):
            product = product_create(
                data=ProductData(sku=f"LOAD-{index:05d}", name=f"New arrival {index}", category=category,
                                 price=Decimal("9.99"))
            )
            image, _ = product_image_add(product=product, data=path.read_bytes(), alt_text=path.name)
            image_ids.append(image.id)
        report["upload_s"] = time.perf_counter() - started
        wait_for(lambda: not ImageEmbedding.objects.filter(image_id__in=image_ids, status=EmbeddingStatus.PENDING).exists(),
                 timeout=900, interval=0.2, what="the worker to embed the new products")
        report["total_s"] = time.perf_counter() - started
        report["images"] = len(image_ids)
    finally:
        connection.close()
        stop.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each scenario (default 30)")
    parser.add_argument("--think", type=float, default=0.0, help="mean pause between a shopper's requests, seconds")
    parser.add_argument("--web-workers", type=int, default=2)
    # gthread, not sync: sync workers close the connection after every response, so each request of a shopper
    # paid a new TCP connection; on this machine 2 workers x 4 threads served 3x the similar-items requests/s
    # of 4 sync workers (172 vs 57 req/s, 20 shoppers, same run conditions).
    parser.add_argument("--web-threads", type=int, default=4, help=">1 uses gunicorn's gthread worker (keep-alive)")
    parser.add_argument("--ingest", type=int, default=100, help="new products uploaded during scenario 4")
    parser.add_argument("--similar-cache-seconds", type=int, default=None,
                        help="RECOMMENDATIONS_SIMILAR_CACHE_SECONDS for the web server (0: off; default: the shop's)")
    parser.add_argument("--products", type=int, default=None, help="import only this many demo products (quick check)")
    parser.add_argument("--only", nargs="+", choices=["search", "similar", "pages", "ingest"],
                        default=["search", "similar", "pages", "ingest"])
    args = parser.parse_args()

    env = django_setup(database="shop_load", queue="shop-load", redis_db=10)
    from django.conf import settings

    assets = settings.DEMO_ASSETS_DIR
    print(machine_line())
    try:
        with bench_database(env), media_dir() as media:
            with celery_worker(env, media_root=media, log=env.var_dir / "load-worker.log") as worker:
                celery_wait_ready(worker)
                images, seconds, used = catalogue_load(assets, limit=args.products)
                print(f"demo catalogue: {images} images imported and embedded by the worker in {seconds:.1f} s "
                      f"({images / seconds:.1f} images/s, including the worker's model load)")
                run_scenarios(args, env, media, assets, used)
            queue_purge()
    finally:
        embedded_stop_if_started(env)


def run_scenarios(args, env, media: Path, assets: Path, used: set[str]) -> None:
    from catalog.models import Product

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web_env = env.child_env(
        media_root=media,
        DEBUG="False",
        ALLOWED_HOSTS="127.0.0.1",
        VISUALSEARCH_PRELOAD_MODEL="1",
        OMP_NUM_THREADS="1",  # one torch thread per web worker: 2 workers on 2 cores, no oversubscription
        # All simulated shoppers come from 127.0.0.1: the per-IP API throttles would answer 429 to the crowd.
        # Per second, not per minute: DRF keeps one timestamp per request in the window, and one IP sending a
        # crowd's requests would grow that list (and its cost) far beyond what any real shopper's IP does.
        SHOP_API_RATE_ANON="1000000/second",
        SHOP_API_RATE_KEY="1000000/second",
        SHOP_API_RATE_IP="1000000/second",
    )
    if args.similar_cache_seconds is not None:
        web_env["RECOMMENDATIONS_SIMILAR_CACHE_SECONDS"] = str(args.similar_cache_seconds)
    gunicorn = [sys.executable, "-m", "gunicorn", "shop.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", str(args.web_workers), "--timeout", "120", "--log-level", "warning"]
    if args.web_threads > 1:
        gunicorn += ["--worker-class", "gthread", "--threads", str(args.web_threads)]
    products = list(Product.objects.filter(is_published=True).values_list("id", "slug"))
    photos = [shopper_photo(assets / p.name, size=(1024, 768), seed=i)
              for i, p in enumerate(sorted(assets.glob("*.webp"))[::97][:24])]

    def search(session, rng) -> int:
        files = {"image": ("photo.jpg", rng.choice(photos), "image/jpeg")}
        return session.post(f"{base}/api/v1/search/image", files=files, timeout=60).status_code

    def similar(session, rng) -> int:
        return session.get(f"{base}/api/v1/products/{rng.choice(products)[0]}/similar", timeout=60).status_code

    def page(session, rng) -> int:
        return session.get(f"{base}/p/{rng.choice(products)[1]}/", timeout=60).status_code

    import requests

    with child_process(gunicorn, env=web_env, log=env.var_dir / "load-web.log") as web:
        started = time.perf_counter()

        def up() -> bool:
            if web.poll() is not None:
                raise RuntimeError("gunicorn stopped; see load-web.log in the var dir")
            try:
                return requests.get(f"{base}/api/v1/products/{products[0][0]}/similar", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(up, timeout=120, interval=0.5, what="gunicorn")
        # Warm-up: each web worker loads the model and opens its database connection before the clock runs.
        run_users(users=args.web_workers * 2, seconds=5, think=0, request=search)
        print(f"gunicorn: {args.web_workers} workers x {args.web_threads} threads on {base}, similar-items cache "
              f"{web_env.get('RECOMMENDATIONS_SIMILAR_CACHE_SECONDS', 'default')} s, up and warm in "
              f"{time.perf_counter() - started:.1f} s; {len(products)} products; think time {args.think} s; "
              f"{args.seconds:.0f} s per scenario")
        if "search" in args.only:
            print(run_users(users=4, seconds=args.seconds, think=args.think, request=search)
                  .line("search by photo, 4 shoppers"), flush=True)
        if "similar" in args.only:
            print(run_users(users=20, seconds=args.seconds, think=args.think, request=similar)
                  .line("similar items API, 20 shoppers"), flush=True)
            print(run_users(users=1, seconds=min(10.0, args.seconds), think=0, request=similar)
                  .line("similar items API, 1 shopper (service time)"), flush=True)
        if "pages" in args.only:
            # First from a cold page cache (every product's body is made on its first visit, ~370 of them in the
            # first seconds), then again with the bodies kept: a shop that has been open a while.
            print(run_users(users=20, seconds=args.seconds, think=args.think, request=page)
                  .line("product pages, 20 shoppers, cold page cache"), flush=True)
            print(run_users(users=20, seconds=args.seconds, think=args.think, request=page)
                  .line("product pages, 20 shoppers, pages kept"), flush=True)
            print(run_users(users=1, seconds=min(10.0, args.seconds), think=0, request=page)
                  .line("product pages, 1 shopper (service time)"), flush=True)
        if "ingest" in args.only:
            stop, report = threading.Event(), {}
            feeder = threading.Thread(target=ingest_new_products, args=(assets,),
                                      kwargs={"used": used, "count": args.ingest, "stop": stop, "report": report})
            feeder.start()
            result = run_users_until(stop, users=4, think=args.think, request=search)
            feeder.join()
            if "images" in report:
                print(f"  ingest while 4 shoppers search: {report['images']} images uploaded in "
                      f"{report['upload_s']:.1f} s, all embedded after {report['total_s']:.1f} s: "
                      f"{report['images'] / report['total_s']:.1f} images/s end to end")
            print(result.line("search by photo during the ingest"), flush=True)


def run_users_until(stop: threading.Event, *, users: int, think: float, request) -> Result:
    """Shoppers that keep going until ``stop`` is set (the ingest finished)."""
    # run_users takes a duration: run short rounds until the ingest is done, and merge them.
    merged = Result(seconds=1e-9)
    while not stop.is_set():
        part = run_users(users=users, seconds=5, think=think, request=request)
        merged.latencies += part.latencies
        merged.statuses.update(part.statuses)
        merged.errors.update(part.errors)
        merged.seconds += part.seconds
    return merged


if __name__ == "__main__":
    main()
