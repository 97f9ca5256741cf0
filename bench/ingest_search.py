"""`make bench`: embedding throughput, ingest throughput and search-by-photo latency on this machine.

    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/ingest_search.py [--queries 60] [--no-worker]

Prints:
  1. the bare model's images/s at batch 32 (preprocessed tensors in, unit vectors out);
  2. the full ingest path's images/s over the demo catalogue (~370 products) loaded with the import command:
     read file, decode, intake re-encode, store (catalog.services.product_image_add), then read back, preprocess,
     embed and store the vector (visualsearch.services.embeddings_compute), in this process;
  3. the same ingest through a real Celery worker process (unless --no-worker);
  4. search-by-photo latency p50/p95 split into decode+preprocess, embedding and database query, for a
     1024x768 photo and a 12-megapixel phone photo.

Works on its own database (``shop_bench``, dropped at the end), Redis databases 8/9 and queue ``shop-bench``,
and stops the embedded servers again if it started them. About 2-3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import common  # noqa: F401  (puts the project on sys.path)
from common import (
    bench_database,
    celery_wait_ready,
    celery_worker,
    django_setup,
    embedded_stop_if_started,
    machine_line,
    media_dir,
    ms,
    queue_purge,
    shopper_photo,
    wait_for,
)

BATCH = 32
FIGURES: dict = {}  # what --json writes


def model_alone(*, batches: int) -> float:
    """Images/s of preprocessed batches of 32 through the network (the model's ceiling on this machine)."""
    import torch
    from django.conf import settings

    from visualsearch.embedding import embedder_for
    from visualsearch.selectors import active_model_key

    embedder = embedder_for(active_model_key(), settings.VISUALSEARCH_DEVICE)
    spec = embedder.spec
    batch = torch.randn(BATCH, 3, spec.preprocessing.size, spec.preprocessing.size)
    embedder.embed_batch(batch)  # loads the weights; warms the allocator
    started = time.perf_counter()
    for _ in range(batches):
        embedder.embed_batch(batch)
    return batches * BATCH / (time.perf_counter() - started)


def demo_import(assets: Path, *, limit: int | None) -> tuple[float, list[int]]:
    """Import the demo catalogue with the import command; returns seconds and the pending embedding ids."""
    from django.core.management import call_command

    from shop.backoffice.demo import demo_csv_write
    from visualsearch.models import EmbeddingStatus, ImageEmbedding

    with tempfile.TemporaryDirectory(prefix="shop-bench-csv-") as folder:
        csv_path = Path(folder) / "catalog.csv"
        demo_csv_write(assets=assets, out=csv_path)
        if limit:
            lines = csv_path.read_text().splitlines(keepends=True)
            csv_path.write_text("".join(lines[: limit + 1]))
        started = time.perf_counter()
        call_command("import_catalog", str(assets), csv=csv_path, no_progress=True, stdout=io.StringIO())
        seconds = time.perf_counter() - started
    pending = list(
        ImageEmbedding.objects.filter(status=EmbeddingStatus.PENDING).order_by("id").values_list("id", flat=True)
    )
    return seconds, pending


def ingest_in_process(assets: Path, *, limit: int | None) -> int:
    from visualsearch.services import embeddings_compute

    store_s, pending = demo_import(assets, limit=limit)
    queue_purge()  # the import sent these ids to the queue; no worker runs yet, this process embeds them
    started = time.perf_counter()
    ready = 0
    for start in range(0, len(pending), BATCH):
        ready += embeddings_compute(embedding_ids=pending[start : start + BATCH])["ready"]
    embed_s = time.perf_counter() - started
    n = len(pending)
    print(f"  images: {n} ({ready} embedded)")
    print(f"  read+decode+intake re-encode+store (import command): {n / store_s:7.1f} images/s  ({store_s:.1f} s)")
    print(f"  read back+preprocess+embed+store vector (batches of {BATCH}): {n / embed_s:7.1f} images/s  ({embed_s:.1f} s)")
    print(f"  end to end: {n / (store_s + embed_s):7.1f} images/s")
    FIGURES["ingest_images_per_s"] = round(n / (store_s + embed_s), 1)
    return n


def ingest_with_worker(env, assets: Path, media: Path, *, limit: int | None) -> None:
    from catalog.models import Product, ProductImage
    from visualsearch.models import EmbeddingStatus, ImageEmbedding
    from visualsearch.services import embeddings_requeue

    log = env.var_dir / "bench-worker.log"
    with celery_worker(env, media_root=media, log=log) as worker:
        started = time.perf_counter()
        celery_wait_ready(worker)
        # Warm-up: the worker loads the model on its first task; a shop's worker has long done that.
        warm_ids = list(ProductImage.objects.order_by("id").values_list("id", flat=True)[:2])
        embeddings_requeue(image_ids=warm_ids)
        wait_for(
            lambda: not ImageEmbedding.objects.filter(image_id__in=warm_ids, status=EmbeddingStatus.PENDING).exists(),
            timeout=120, what="the worker's warm-up",
        )
        print(f"  worker start + model load: {time.perf_counter() - started:.1f} s (not counted below)")
        Product.objects.all().delete()  # images and vectors go with them; the import adds them again
        started = time.perf_counter()
        store_s, pending = demo_import(assets, limit=limit)
        wait_for(
            lambda: not ImageEmbedding.objects.filter(status=EmbeddingStatus.PENDING).exists(),
            timeout=600, interval=0.2, what="the worker to embed the catalogue",
        )
        total_s = time.perf_counter() - started
        failed = ImageEmbedding.objects.filter(status=EmbeddingStatus.FAILED).count()
    n = len(pending)
    print(f"  images: {n} (failed: {failed}), import {store_s:.1f} s, then the worker")
    print(f"  end to end, upload to stored vector: {n / total_s:7.1f} images/s  ({total_s:.1f} s)")
    FIGURES["worker_ingest_images_per_s"] = round(n / total_s, 1)


def search_latency(assets: Path, *, queries: int) -> None:
    import numpy as np
    from django.conf import settings

    from catalog.models import Category, Product
    from visualsearch import querysets
    from visualsearch.embedding import embedder_for
    from visualsearch.intake import query_photo_open
    from visualsearch.embedding.objects import salient_objects
    from visualsearch.embedding.regions import photo_map
    from visualsearch.selectors import (
        SearchFilters,
        active_model_key,
        intake_limits,
        products_near_photo,
        products_near_vector,
    )

    model_key = active_model_key()
    embedder = embedder_for(model_key, settings.VISUALSEARCH_DEVICE)
    products = list(Product.objects.filter(is_published=True).prefetch_related("images").order_by("id"))
    products = [p for p in products if _asset_name(p)]  # the variant products' pictures are their variants' (no code point in the SKU)
    department = Category.objects.filter(parent__isnull=True).order_by("id").first()
    rng = np.random.default_rng(7)
    for label, size, n in [("1024x768 photo", (1024, 768), queries), ("12 MP phone photo", (4032, 3024), max(10, queries // 4))]:
        picks = rng.choice(len(products), size=n + 3, replace=True)
        decode, objects, embed, regions, query, knn, filtered, hits_first = [], [], [], [], [], [], [], 0
        plain_decode, preprocess, forward, plain_query = [], [], [], []
        for i, index in enumerate(picks):
            product = products[index]
            data = shopper_photo(assets / _asset_name(product), size=size, seed=i)
            t0 = time.perf_counter()
            picture = query_photo_open(data, limits=intake_limits())  # the steps of selectors.photo_query, timed apart
            t1 = time.perf_counter()
            boxes = salient_objects(picture, side=settings.VISUALSEARCH_OBJECTS_SIDE).boxes[: settings.VISUALSEARCH_OBJECTS_MAX]
            t1b = time.perf_counter()
            regions_on = settings.VISUALSEARCH_REGIONS_SIDE > 0
            crops = [picture.crop(box.pixels(*picture.size)) for box in (boxes[:1] if regions_on else boxes)]
            vectors = embedder.embed_batch(embedder.preprocess([picture, *crops]))
            t1c = time.perf_counter()
            if regions_on:  # selectors.photo_query: one forward at the regions' size for the other boxes and regions
                found_map = photo_map(embedder, picture, side=settings.VISUALSEARCH_REGIONS_SIDE)
                vectors = [*vectors, *[found_map.pooled(box) for box in boxes[1:]]]
                found_map.regions(limit=settings.VISUALSEARCH_OBJECTS_MAX)
                for box in boxes:
                    found_map.concepts(box)  # what the region rules read of each salient object
            vector = vectors[0] + vectors[1] if len(vectors) > 1 else vectors[0]
            vector = vector / np.linalg.norm(vector)
            t2 = time.perf_counter()
            matches = products_near_photo(vector=vector, model_key=model_key, limit=24)
            t3 = time.perf_counter()
            querysets.knn_images(vector=vector, model_key=model_key, dimension=embedder.spec.dimension,
                                 limit=24 * 4 + 8, ef_search=settings.VISUALSEARCH_EF_SEARCH)
            t4 = time.perf_counter()
            products_near_vector(vector=vector, model_key=model_key, limit=24, filters=SearchFilters(category=department))
            t5 = time.perf_counter()
            # The path without the object step (VISUALSEARCH_OBJECTS=false, the partner API's plain search): the
            # photo decoded only as far as the network needs, preprocessing and one forward, then the same query.
            t5b = time.perf_counter()
            small = query_photo_open(data, limits=intake_limits(), short_side=embedder.spec.preprocessing.decode_side)
            t5c = time.perf_counter()
            alone = embedder.preprocess([small])
            t6 = time.perf_counter()
            plain_vector = embedder.embed_batch(alone)[0]
            t7 = time.perf_counter()
            products_near_photo(vector=plain_vector, model_key=model_key, limit=24)
            t8 = time.perf_counter()
            if i < 3:
                continue  # warm-up
            decode.append(t1 - t0)
            objects.append(t1b - t1)
            embed.append(t1c - t1b)
            regions.append(t2 - t1c)
            query.append(t3 - t2)
            knn.append(t4 - t3)
            filtered.append(t5 - t4)
            plain_decode.append(t5c - t5b)
            preprocess.append(t6 - t5c)
            forward.append(t7 - t6)
            plain_query.append(t8 - t7)
            hits_first += bool(matches) and matches[0].product.id == product.id
        total = [a + b + c + d + e for a, b, c, d, e in zip(decode, objects, embed, regions, query)]
        plain = [a + b + c + d for a, b, c, d in zip(plain_decode, preprocess, forward, plain_query)]
        FIGURES[label] = {"total": total, "plain": plain, "decode": decode, "objects": objects, "embed": embed,
                          "regions": regions, "query": query, "forward": forward}
        print(f"  {label} ({len(total)} searches over {len(products)} products; right product first in {hits_first}):")
        print(f"    decode (checks, reduced-scale decode, orient):        {ms(decode)}")
        print(f"    object step (U²-Net-p, {settings.VISUALSEARCH_OBJECTS_SIDE} px):                       {ms(objects)}")
        if settings.VISUALSEARCH_REGIONS_SIDE > 0:
            print(f"    embedding (whole photo + the main object, one batch): {ms(embed)}")
            print(f"    {settings.VISUALSEARCH_REGIONS_SIDE} px map (the other objects, the regions):          {ms(regions)}")
        else:
            print(f"    embedding (whole photo + each object, one batch):     {ms(embed)}")
        print(f"    database query (products_near_photo, centred, 24):   {ms(query)}")
        print(f"      of which the k-NN SQL alone (knn_images, 104 rows):  {ms(knn)}")
        print(f"      with a department filter ({department.name}):{' ' * max(1, 20 - len(department.name))}{ms(filtered)}")
        print(f"    total:                                                {ms(total)}")
        print("    without the object step (the photo alone):")
        print(f"      decode (checks, DCT scale, 2x the network's side):{ms(plain_decode)}")
        print(f"      preprocess (resize, crop, normalise):               {ms(preprocess)}")
        print(f"      one model forward (batch of 1):                     {ms(forward)}")
        print(f"      database query:                                     {ms(plain_query)}")
        print(f"      total (these four):                                 {ms(plain)}")
        print(f"      total / one forward, p50:                           "
              f"{np.percentile(plain, 50) / np.percentile(forward, 50):.2f}")


def _asset_name(product) -> str | None:
    # The demo importer stores the asset's file name nowhere; the sku carries the code point (DEMO-1F45F).
    from django.conf import settings

    try:
        code = int(product.sku.split("-")[1], 16)
    except ValueError:
        return None
    for name in (f"{code:x}.webp", f"{code:x}-fe0f.webp"):
        if (settings.DEMO_ASSETS_DIR / name).exists():
            return name
    return sorted(p.name for p in settings.DEMO_ASSETS_DIR.glob(f"{code:x}*.webp"))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=60, help="searches per photo size (default 60)")
    parser.add_argument("--batches", type=int, default=6, help="batches of 32 for the bare model (default 6)")
    parser.add_argument("--limit", type=int, default=None, help="import only this many demo products (quick check)")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads for this process (default: torch's, one per core)")
    parser.add_argument("--no-worker", action="store_true", help="skip the ingest through a Celery worker process")
    parser.add_argument("--json", type=Path, help="also write the main figures to this file, for comparing runs")
    args = parser.parse_args()

    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    env = django_setup(database="shop_bench", queue="shop-bench", redis_db=8)
    from django.conf import settings

    assets = settings.DEMO_ASSETS_DIR
    if not assets.is_dir():
        raise SystemExit(f"{assets} is missing: run `make demo-assets`")
    print(machine_line())
    print(f"model {settings.VISUALSEARCH_MODEL} on {settings.VISUALSEARCH_DEVICE}")
    try:
        with bench_database(env), media_dir() as media:
            FIGURES["model_images_per_s"] = round(model_alone(batches=args.batches), 1)
            print(f"1. bare model, batch {BATCH}: {FIGURES['model_images_per_s']:.1f} images/s")
            print("2. full ingest path in this process (demo catalogue via import_catalog):")
            ingest_in_process(assets, limit=args.limit)
            print("3. search by photo (the web process's steps, in this process):")
            search_latency(assets, queries=args.queries)
            if not args.no_worker:
                print("4. full ingest path through a Celery worker process (concurrency 1):")
                ingest_with_worker(env, assets, media, limit=args.limit)
            queue_purge()
        if args.json:
            photo, phone = FIGURES.get("1024x768 photo", {}), FIGURES.get("12 MP phone photo", {})

            def p(values, q):
                return round(float(np.percentile(values, q)) * 1000, 1) if values else None

            args.json.write_text(json.dumps({
                "model_key": settings.VISUALSEARCH_MODEL,
                "model_images_per_s": FIGURES.get("model_images_per_s"),
                "ingest_images_per_s": FIGURES.get("ingest_images_per_s"),
                "worker_ingest_images_per_s": FIGURES.get("worker_ingest_images_per_s"),
                "model_forward_ms": p(photo.get("forward", []), 50),
                "search_p50_ms": p(photo.get("total", []), 50),
                "search_p95_ms": p(photo.get("total", []), 95),
                "search_without_objects_p50_ms": p(photo.get("plain", []), 50),
                "object_step_p50_ms": p(photo.get("objects", []), 50),
                "search_12mp_p50_ms": p(phone.get("total", []), 50),
                "search_12mp_without_objects_p50_ms": p(phone.get("plain", []), 50),
            }, indent=1))
    finally:
        embedded_stop_if_started(env)


if __name__ == "__main__":
    main()
