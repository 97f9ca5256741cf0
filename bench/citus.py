"""The shop's own tables and k-NN query on Citus distributed tables, against the same on one plain PostgreSQL node.

    # one node: the embedded PostgreSQL of SHOP_VAR_DIR, database shop_citus_bench (dropped at the end)
    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/citus.py --rows 1000000
    # a Citus cluster (bench/citus_cluster.sh starts one on loopback; DEVELOPERS.md says how to build Citus)
    CITUS_URL=postgresql://postgres@127.0.0.1:9700/postgres nice -n 10 .venv/bin/python bench/citus.py --rows 1000000

The schema is the shop's: ``manage.py migrate`` creates it (on Citus in a schema of its own, ``shop_bench``,
dropped at the end). On Citus the benchmark then distributes it the way DEVELOPERS.md describes: categories and
model versions become reference tables; products are distributed by ``id`` and pictures and embeddings by
``product_id``, co-located with them (their keys, ``(product_id, id)``, and the embedding's foreign key to its
picture, ``(product_id, image_id)``, are the shop's since visualsearch migration 0007). What Citus cannot hold is
dropped and printed: unique constraints without the distribution column (a product's SKU and slug) and foreign
keys between distributed and local tables (order lines, the interaction log, variants ...).

The queries are the shop's own ``visualsearch.querysets.knn_images``, unchanged, through Django's connection:
its ``SET LOCAL citus.propagate_set_commands = 'local'`` sends ``hnsw.ef_search`` and ``hnsw.iterative_scan`` to
the shards (plain PostgreSQL keeps it as an unused setting), and its picture lookup by ``(product_id, id)`` in a
fenced subquery runs inside each shard. Each shard walks its own HNSW graph with ``LIMIT k`` and the coordinator
merges the shards' rows, so a query costs one index scan per shard; the filter (a category holding
1/``--categories`` of the products, uncorrelated with the vectors) is applied inside each shard's iterative scan.

``--warm N`` first runs N untimed queries over other vectors, as a shop that has been serving has its index in
PostgreSQL's buffers; the embedded server's ``shared_buffers`` is a quarter of the machine's memory
(shop/embedded.py), which holds a million vectors' 3.8 GB index on a 16 GB machine.

The vectors are bench/scale.py's synthetic 1280-d vectors shaped like the real embeddings. Prints load, distribute
and index build times, table and index sizes, and recall@10 with p50/p95 per ef_search, with and without the
filter. ``--json FILE`` writes the same figures.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.scale import DIM, K, exact_top_k, real_embeddings, recall, synthetic, timed_queries  # noqa: E402

DATABASE = "shop_citus_bench"
SCHEMA = "shop_bench"
MODEL_KEY = "effnet-lite1-avg-240"
REFERENCE = ("catalog_category", "visualsearch_modelversion")
DISTRIBUTED = ("catalog_product", "catalog_productimage", "visualsearch_imageembedding")


def copy_embeddings(cursor, data: np.ndarray, per_product: int) -> None:
    """COPY (id, image_id, product_id, vector halfvec) in PostgreSQL's binary format, built with numpy; the
    shop's other NOT NULL columns take defaults set for the load."""
    row = np.dtype([("nfields", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("image", ">i8"),
                    ("l3", ">i4"), ("product", ">i8"), ("l4", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
                    ("v", ">f2", (DIM,))])
    sql = "COPY visualsearch_imageembedding (id, image_id, product_id, vector) FROM STDIN WITH (FORMAT BINARY)"
    with cursor.copy(sql) as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
        for start in range(0, len(data), 20_000):
            chunk = data[start : start + 20_000]
            rows = np.zeros(len(chunk), dtype=row)
            ids = np.arange(start, start + len(chunk)) + 1
            rows["nfields"], rows["l1"], rows["l2"], rows["l3"], rows["l4"] = 4, 8, 8, 8, 4 + 2 * DIM
            rows["id"] = rows["image"] = ids
            rows["product"] = (ids - 1) // per_product + 1
            rows["dim"] = DIM
            rows["v"] = chunk.astype(np.float16)
            copy.write(rows.tobytes())
        copy.write(struct.pack(">h", -1))


def sizes(cursor, citus: bool) -> dict[str, int]:
    """Bytes of the embedding table (heap + TOAST) and of its HNSW index, summed over the shards on Citus."""
    from visualsearch.querysets import _index_name

    index = _index_name(MODEL_KEY)  # the shop's own name for the key's index
    if not citus:
        cursor.execute("SELECT pg_table_size('visualsearch_imageembedding'), pg_relation_size(%s)", [index])
        table, index_bytes = cursor.fetchone()
        return {"table_bytes": table, "hnsw_index_bytes": index_bytes}
    cursor.execute("SELECT citus_table_size('visualsearch_imageembedding')")
    table = cursor.fetchone()[0]
    cursor.execute(
        "SELECT sum(result::bigint) FROM run_command_on_shards('visualsearch_imageembedding', "
        f"$$SELECT pg_relation_size('{SCHEMA}.{index}_' || split_part('%s', '_', -1))$$)"
    )
    return {"table_bytes": int(table), "hnsw_index_bytes": int(cursor.fetchone()[0] or 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="embedding rows (default 100000)")
    parser.add_argument("--per-product", type=int, default=2, help="pictures per product (default 2)")
    parser.add_argument("--categories", type=int, default=10, help="the filter keeps 1/N of the products (10 %%)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[100, 200, 400])
    parser.add_argument("--shards", type=int, default=0, help="shards per table on Citus (default: 2 per worker)")
    parser.add_argument("--maintenance-work-mem", default="4GB")
    parser.add_argument("--warm", type=int, default=0,
                        help="untimed queries (other vectors, half of them filtered) before the timed ones: a shop "
                             "that has been serving, its index in shared_buffers (default 0: as loaded)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the tables afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="query the tables a --keep run left (same --rows): no load, no build")
    args = parser.parse_args()
    args.citus_url = os.environ.get("CITUS_URL", "")
    var_dir = Path(os.environ.get("SHOP_VAR_DIR", PROJECT_DIR / "var"))

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    centres = real_embeddings(var_dir, count=512)  # from SHOP_VAR_DIR's shop, before Django points elsewhere
    admin = None
    if args.citus_url:
        os.environ["DATABASE_URL"] = args.citus_url  # the coordinator; settings start no embedded PostgreSQL
    else:
        from bench.scale import pg_connect

        admin = pg_connect(var_dir, "postgres")
        if not args.reuse:
            admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
            admin.execute(f"CREATE DATABASE {DATABASE}")
        os.environ["SHOP_DB_NAME"] = DATABASE  # the embedded PostgreSQL's, another database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.dev")
    import django

    django.setup()
    from django.db import connection

    if args.citus_url:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        connection.close()
        connection.settings_dict.setdefault("OPTIONS", {})["options"] = f"-c search_path={SCHEMA},public"

    data = synthetic(centres, n=args.rows, noise=0.6, seed=1)
    queries = synthetic(centres, n=args.queries, noise=0.6, seed=2)
    products = (args.rows + args.per_product - 1) // args.per_product
    product_category = np.random.default_rng(3).integers(0, args.categories, products).astype(np.int64)
    row_category = product_category[np.arange(args.rows) // args.per_product]
    filtered_rows = np.flatnonzero(row_category == 0)
    # Ground truth on float16-rounded vectors: what the halfvec column holds (ids are row index + 1).
    truth = exact_top_k(data, queries, half=True) + 1
    truth_f = exact_top_k(data, queries, rows=filtered_rows, half=True) + 1
    del data  # 5 GB at 1M: regenerated (same seed) for the COPY rather than held while PostgreSQL builds

    from visualsearch.querysets import _is_citus

    citus = _is_citus("default")
    with connection.cursor() as cursor:
        workers = 0
        if citus:
            cursor.execute("SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND groupid > 0")
            workers = cursor.fetchone()[0]
        setup = f"Citus, coordinator + {workers} workers" if citus else "one plain PostgreSQL node"
        cursor.execute("SHOW shared_buffers")  # the HNSW walk's page cache (shop/embedded.py: shared_buffers)
        buffers = cursor.fetchone()[0]
        print(f"PostgreSQL {connection.pg_version // 10000}, {setup}, shared_buffers {buffers}; {args.rows:,} "
              f"vectors, {products:,} products, filter keeps {100 * len(filtered_rows) / args.rows:.1f} % of the rows",
              flush=True)
    figures: dict[str, object] = {"setup": setup, "workers": workers, "rows": args.rows, "shared_buffers": buffers,
                                  "runs": []}
    try:
        if not args.reuse:
            build(args, citus=citus, workers=workers, centres=centres, product_category=product_category,
                  figures=figures)
        with connection.cursor() as cursor:
            figures.update(sizes(cursor, citus))
        print(f"table {figures['table_bytes'] / 2**20:,.0f} MiB, HNSW index {figures['hnsw_index_bytes'] / 2**20:,.0f} MiB "
              f"({(figures['table_bytes'] + figures['hnsw_index_bytes']) / args.rows * 1e6 / 2**30:.2f} GiB per "
              f"million vectors)", flush=True)
        if args.warm:
            warm_up(synthetic(centres, n=args.warm, noise=0.6, seed=4), args, figures)
        queries_run(queries, truth, truth_f, args, figures)
    finally:
        if not args.keep:
            if citus:
                with connection.cursor() as cursor:
                    cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            connection.close()
            if admin is not None:
                admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        if admin is not None:
            admin.close()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


CONSTRAINTS = """
SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid),
       c.confrelid::regclass::text, (SELECT array_agg(a.attname::text) FROM pg_attribute a
                                     WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey))
FROM pg_constraint c
WHERE c.connamespace = current_schema()::regnamespace AND c.contype IN ('f', 'u')
  AND (c.conrelid::regclass::text = ANY(%(tables)s) OR c.confrelid::regclass::text = ANY(%(tables)s))
ORDER BY 1, 2
"""


def distribute(cursor, *, shards: int) -> list[str]:
    """The shop's tables distributed: what Citus cannot hold dropped (returned), the rest kept or added again."""
    shop = (*REFERENCE, *DISTRIBUTED)
    cursor.execute(CONSTRAINTS, {"tables": list(shop)})
    dropped, again = [], []
    for table, name, kind, definition, referenced, columns in cursor.fetchall():
        if kind == "u":
            if table in DISTRIBUTED and ("id" if table == "catalog_product" else "product_id") not in columns:
                dropped.append(f"{table}: {definition}")  # a SKU or slug unique across all shards
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            continue
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        if table in shop and referenced in shop and not (table in REFERENCE and referenced in DISTRIBUTED):
            again.append((table, name, definition))  # among the distributed and reference tables
        else:
            dropped.append(f"{table}: {definition}")
    for table in REFERENCE:
        cursor.execute("SELECT create_reference_table(%s)", [table])
    cursor.execute("SELECT create_distributed_table('catalog_product', 'id', shard_count => %s)", [shards])
    for table in DISTRIBUTED[1:]:
        cursor.execute("SELECT create_distributed_table(%s, 'product_id', colocate_with => 'catalog_product')",
                       [table])
    for table in (*REFERENCE, *DISTRIBUTED):
        cursor.execute("SELECT truncate_local_data_after_distributing_table(%s)", [table])
    for table, name, definition in again:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    return dropped


def build(args, *, citus, workers, centres, product_category, figures) -> None:
    """The shop's schema by its migrations, filled, distributed on Citus, the key's HNSW index built."""
    from django.core.management import call_command
    from django.db import connection

    from visualsearch.querysets import _index_name, hnsw_index_sql

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    figures["migrate_s"] = round(time.perf_counter() - started, 1)
    print(f"the shop's migrations in {figures['migrate_s']} s", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {_index_name(MODEL_KEY)}")  # built after the load, timed
        cursor.execute(
            "INSERT INTO catalog_category (name, name_zh, slug, position) "
            "SELECT 'category ' || g, '', 'bench-category-' || g, g FROM generate_series(0, %s) g",
            [args.categories - 1],
        )
        cursor.execute("SELECT position, id FROM catalog_category WHERE slug LIKE 'bench-category-%%'")
        ids = dict(cursor.fetchall())
        figures["filter_category_id"] = ids[0]
        cursor.execute(
            """INSERT INTO catalog_product (id, sku, name, name_zh, slug, description, description_zh, price, currency,
                   stock_quantity, is_published, category_id, created_at, updated_at)
               SELECT g, 'B' || g, 'product ' || g, '', 'product-' || g, '', '', 10 + g %% 90, 'EUR', 1, true, c,
                      now(), now()
               FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(c, g)""",
            [[ids[c] for c in product_category.tolist()]],
        )
        cursor.execute(
            """INSERT INTO catalog_productimage (id, product_id, kind, position, alt_text, image, thumbnail, width,
                   height, content_hash, created_at)
               SELECT g, (g - 1) / %s + 1, 'catalogue', (g - 1) %% %s, '', 'b.jpg', 'b-t.jpg', 256, 256, g::text, now()
               FROM generate_series(1, %s) g""",
            [args.per_product, args.per_product, args.rows],
        )
        defaults = {"model_key": f"'{MODEL_KEY}'", "status": "'ready'", "error": "''", "attempts": "1",
                    "created_at": "now()", "updated_at": "now()"}
        for column, value in defaults.items():
            cursor.execute(f"ALTER TABLE visualsearch_imageembedding ALTER COLUMN {column} SET DEFAULT {value}")
        copy_embeddings(cursor, synthetic(centres, n=args.rows, noise=0.6, seed=1), args.per_product)
        for column in defaults:
            cursor.execute(f"ALTER TABLE visualsearch_imageembedding ALTER COLUMN {column} DROP DEFAULT")
        figures["load_s"] = round(time.perf_counter() - started, 1)
        print(f"loaded in {figures['load_s']} s", flush=True)
        if citus:
            started = time.perf_counter()
            shards = args.shards or 2 * max(workers, 1)
            dropped = distribute(cursor, shards=shards)
            figures["distribute_s"] = round(time.perf_counter() - started, 1)
            figures["shards"] = shards
            figures["dropped_for_citus"] = dropped
            print(f"distributed over {shards} shards in {figures['distribute_s']} s; dropped, as Citus cannot hold "
                  f"them:\n  " + "\n  ".join(dropped), flush=True)
        started = time.perf_counter()
        cursor.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")  # on Citus: the workers' config
        cursor.execute(hnsw_index_sql(model_key=MODEL_KEY, dimension=DIM))
        figures["index_build_s"] = round(time.perf_counter() - started, 1)
        for table in DISTRIBUTED:
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"HNSW index built in {figures['index_build_s']} s", flush=True)


def warm_up(vectors, args, figures) -> None:
    """The shop's own query over other vectors, untimed, at the largest ef_search: the pages a serving shop's
    searches keep in PostgreSQL's buffers."""
    from visualsearch.querysets import knn_images

    category = _filter_category_ids(figures)
    started = time.perf_counter()
    for number, vector in enumerate(vectors):
        knn_images(vector=vector, model_key=MODEL_KEY, dimension=DIM, limit=K, ef_search=max(args.ef_search),
                   category_ids=category if number % 2 else None)
    figures["warm_queries"] = len(vectors)
    print(f"{len(vectors)} warm-up queries in {time.perf_counter() - started:.0f} s", flush=True)


def queries_run(queries, truth, truth_f, args, figures) -> None:
    """recall@10 and p50/p95 per ef_search, without and with the filter: the shop's own knn_images."""
    from visualsearch.querysets import knn_images, knn_plan

    category = _filter_category_ids(figures)
    for ef in args.ef_search:
        for filtered in (False, True):

            def run(q, ef=ef, filtered=filtered):
                hits = knn_images(vector=q, model_key=MODEL_KEY, dimension=DIM, limit=K, ef_search=ef,
                                  category_ids=category if filtered else None)
                return [hit.image_id for hit in hits]

            found, times = timed_queries(run, queries)
            p50, p95 = np.percentile(np.asarray(times) * 1000, [50, 95])
            result = {"ef_search": ef, "filtered": filtered, "recall_at_10": round(recall(found, truth_f if filtered else truth), 3),
                      "p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2),
                      "returned": float(np.mean([len(f) for f in found]))}
            figures["runs"].append(result)
            print(f"  ef_search {ef:4d} {'10 % filter' if filtered else 'no filter  '}  recall@10 "
                  f"{result['recall_at_10']:.3f}  p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  "
                  f"(returned {result['returned']:.1f})", flush=True)
    # The plan of the shop's statement itself, with its SET LOCALs, on the cluster.
    plan = knn_plan(vector=queries[0], model_key=MODEL_KEY, dimension=DIM, limit=K, ef_search=200, category_ids=category)
    figures["plan_uses_hnsw"] = any("imageembedding_hnsw" in line for line in plan)
    print("plan:", "HNSW index scan" if figures["plan_uses_hnsw"] else "no HNSW index scan",
          "| " + " / ".join(line.strip()[:70] for line in plan if "Scan" in line or "Task Count" in line))


def _filter_category_ids(figures) -> list[int]:
    """The filter's category: the one this run made, or a kept run's (--reuse)."""
    from catalog.models import Category

    return [figures.get("filter_category_id") or Category.objects.get(slug="bench-category-0").pk]


if __name__ == "__main__":
    main()
