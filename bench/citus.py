"""The shop's k-NN search on Citus distributed tables against the same schema on one plain PostgreSQL node.

    # one node: the embedded PostgreSQL of SHOP_VAR_DIR, database shop_citus_bench (dropped at the end)
    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/citus.py --rows 1000000
    # a Citus cluster (bench/citus_cluster.sh starts one on loopback; DEVELOPERS.md says how to build Citus)
    CITUS_URL=postgresql://postgres@127.0.0.1:9700/postgres nice -n 10 .venv/bin/python bench/citus.py --rows 1000000

The tables are the shop's, cut to the columns the search reads, in the shape Citus needs: products are
distributed by ``id``; pictures and their embeddings by ``product_id``, co-located with products, so the k-NN
query's joins (on ``product_id``) run inside each shard with no repartitioning; every unique constraint
includes the distribution column; categories and model versions are reference tables (a copy on every node).
The embedding index is the shop's own partial HNSW index (``querysets.hnsw_index_sql``); the query is the shop's
k-NN query reshaped for sharding (``knn_sql``: products joined on the embedding's ``product_id``, the picture
looked up by ``(product_id, id)``), and its settings are the shop's ``SET LOCAL``s, preceded by ``SET LOCAL
citus.propagate_set_commands = 'local'`` so that Citus sends them to the shards (plain PostgreSQL accepts that
line as an unused custom setting): the same statements run on both. DEVELOPERS.md lists what the shop's own
schema still needs before its tables can be distributed.

On Citus every shard walks its own HNSW graph with ``LIMIT k`` and the coordinator merges the shards' rows, so a
query costs one index scan per shard; the filter (a category holding 1/``--categories`` of the products,
uncorrelated with the vectors) is applied inside each shard's iterative scan.

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
import psycopg

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.scale import DIM, K, exact_top_k, real_embeddings, recall, synthetic, timed_queries  # noqa: E402

DATABASE = "shop_citus_bench"
MODEL_KEY = "effnet-lite1-avg-240"
TABLES = ("visualsearch_imageembedding", "catalog_productimage", "catalog_product", "catalog_category",
          "visualsearch_modelversion")

SCHEMA = f"""
CREATE TABLE catalog_category (id integer PRIMARY KEY, name varchar(100) NOT NULL);
CREATE TABLE visualsearch_modelversion (id integer PRIMARY KEY, key varchar(64) NOT NULL UNIQUE,
    dimension integer NOT NULL, is_active boolean NOT NULL);
CREATE TABLE catalog_product (id bigint PRIMARY KEY, category_id integer NOT NULL, price numeric(10, 2) NOT NULL,
    is_published boolean NOT NULL DEFAULT true);
CREATE TABLE catalog_productimage (id bigint NOT NULL, product_id bigint NOT NULL,
    kind varchar(16) NOT NULL DEFAULT 'catalogue', position integer NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, id));
CREATE TABLE visualsearch_imageembedding (id bigint NOT NULL, image_id bigint NOT NULL, product_id bigint NOT NULL,
    model_key varchar(64) NOT NULL DEFAULT '{MODEL_KEY}', status varchar(10) NOT NULL DEFAULT 'ready',
    vector halfvec, PRIMARY KEY (product_id, id),
    CONSTRAINT imageembedding_one_per_image_and_key UNIQUE (product_id, image_id, model_key));
"""


def knn_sql(*, filtered: bool) -> str:
    """The shop's k-NN query (visualsearch.querysets.knn_images), its joins on the embedding's product_id.

    The picture is looked up in a LATERAL subquery kept apart by OFFSET 0, not in a plain join: joined on two
    columns (product_id and id), PostgreSQL multiplies the two clauses' selectivities, estimates 2 rows out of
    1M, and sorts the whole table instead of walking the HNSW index (measured: 0.6-0.8 s a query instead of
    milliseconds). The subquery's unique-key lookup is estimated at one row, so the plan stays an index walk.
    """
    category = "AND p.category_id = ANY(%(categories)s)" if filtered else ""
    return f"""
        SELECT e.image_id, e.product_id, (e.vector::halfvec({DIM}) <=> %(q)s::halfvec({DIM})) AS distance
        FROM visualsearch_imageembedding e
        JOIN catalog_product p ON p.id = e.product_id
        CROSS JOIN LATERAL (
            SELECT i.kind FROM catalog_productimage i WHERE i.product_id = e.product_id AND i.id = e.image_id OFFSET 0
        ) i
        WHERE e.model_key = %(key)s AND e.vector IS NOT NULL AND i.kind = 'catalogue' AND p.is_published {category}
        ORDER BY e.vector::halfvec({DIM}) <=> %(q)s::halfvec({DIM})
        LIMIT %(k)s
    """


def settings_sql(ef_search: int) -> list[str]:
    return [
        "SET LOCAL citus.propagate_set_commands = 'local'",
        f"SET LOCAL hnsw.ef_search = {int(ef_search)}",
        "SET LOCAL hnsw.iterative_scan = relaxed_order",
    ]


def connect(args):
    import psycopg
    from pgvector.psycopg import register_vector

    if args.citus_url:
        conn = psycopg.connect(args.citus_url, autocommit=True, prepare_threshold=None)
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        return conn, None
    from bench.scale import pg_connect

    var_dir = Path(os.environ.get("SHOP_VAR_DIR", PROJECT_DIR / "var"))
    admin = pg_connect(var_dir, "postgres")
    if not args.reuse:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    return pg_connect(var_dir, DATABASE), admin


def copy_embeddings(conn, data: np.ndarray, per_product: int) -> None:
    """COPY (id, image_id, product_id, vector halfvec) in PostgreSQL's binary format, built with numpy."""
    row = np.dtype([("nfields", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("image", ">i8"),
                    ("l3", ">i4"), ("product", ">i8"), ("l4", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
                    ("v", ">f2", (DIM,))])
    sql = "COPY visualsearch_imageembedding (id, image_id, product_id, vector) FROM STDIN WITH (FORMAT BINARY)"
    with conn.cursor() as cursor, cursor.copy(sql) as copy:
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


def sizes(conn, citus: bool) -> dict[str, int]:
    """Bytes of the embedding table (heap + TOAST) and of its HNSW index, summed over the shards on Citus."""
    from visualsearch.querysets import _index_name

    index = _index_name(MODEL_KEY)  # the shop's own name for the key's index
    if not citus:
        return {"table_bytes": conn.execute("SELECT pg_table_size('visualsearch_imageembedding')").fetchone()[0],
                "hnsw_index_bytes": conn.execute("SELECT pg_relation_size(%s)", [index]).fetchone()[0]}
    table = conn.execute("SELECT citus_table_size('visualsearch_imageembedding')").fetchone()[0]
    shards = conn.execute(
        "SELECT sum(result::bigint) FROM run_command_on_shards('visualsearch_imageembedding', "
        "$$SELECT pg_relation_size('" + index + "_' || split_part('%s', '_', -1))$$)"
    ).fetchone()[0]
    return {"table_bytes": int(table), "hnsw_index_bytes": int(shards or 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="embedding rows (default 100000)")
    parser.add_argument("--per-product", type=int, default=2, help="pictures per product (default 2)")
    parser.add_argument("--categories", type=int, default=10, help="the filter keeps 1/N of the products (10 %%)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[100, 200, 400])
    parser.add_argument("--shards", type=int, default=0, help="shards per table on Citus (default: 2 per worker)")
    parser.add_argument("--maintenance-work-mem", default="4GB")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the tables afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="query the tables a --keep run left (same --rows): no load, no build")
    args = parser.parse_args()
    args.citus_url = os.environ.get("CITUS_URL", "")
    var_dir = Path(os.environ.get("SHOP_VAR_DIR", PROJECT_DIR / "var"))

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.dev")
    if args.citus_url:
        os.environ["DATABASE_URL"] = args.citus_url  # so that settings start no embedded PostgreSQL of their own
    import django

    django.setup()

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    centres = real_embeddings(var_dir, count=512)
    data = synthetic(centres, n=args.rows, noise=0.6, seed=1)
    queries = synthetic(centres, n=args.queries, noise=0.6, seed=2)
    products = (args.rows + args.per_product - 1) // args.per_product
    product_category = np.random.default_rng(3).integers(0, args.categories, products).astype(np.int32)
    row_category = product_category[np.arange(args.rows) // args.per_product]
    filtered_rows = np.flatnonzero(row_category == 0)
    # Ground truth on float16-rounded vectors: what the halfvec column holds (ids are row index + 1).
    truth = exact_top_k(data, queries, half=True) + 1
    truth_f = exact_top_k(data, queries, rows=filtered_rows, half=True) + 1
    del data  # 5 GB at 1M: regenerated (same seed) for the COPY rather than held while PostgreSQL builds

    conn, admin = connect(args)
    citus = bool(conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone())
    workers = conn.execute("SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND groupid > 0"
                           ).fetchone()[0] if citus else 0
    setup = f"Citus, coordinator + {workers} workers" if citus else "one plain PostgreSQL node"
    print(f"PostgreSQL {conn.info.server_version}, {setup}; {args.rows:,} vectors, {products:,} products, "
          f"filter keeps {100 * len(filtered_rows) / args.rows:.1f} % of the rows")
    figures: dict[str, object] = {"setup": setup, "workers": workers, "rows": args.rows, "runs": []}
    try:
        if not args.reuse:
            build(conn, args, citus=citus, workers=workers, centres=centres, product_category=product_category,
                  figures=figures)
        figures.update(sizes(conn, citus))
        print(f"table {figures['table_bytes'] / 2**20:,.0f} MiB, HNSW index {figures['hnsw_index_bytes'] / 2**20:,.0f} MiB "
              f"({(figures['table_bytes'] + figures['hnsw_index_bytes']) / args.rows * 1e6 / 2**30:.2f} GiB per "
              f"million vectors)", flush=True)
        queries_run(conn, queries, truth, truth_f, args, figures)
    finally:
        if not args.keep:
            for table in TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        conn.close()
        if admin is not None and not args.keep:
            admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        if admin is not None:
            admin.close()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def build(conn, args, *, citus, workers, centres, product_category, figures) -> None:
    """Create and fill the tables, distribute them on Citus, build the HNSW index."""
    from visualsearch.querysets import hnsw_index_sql

    for table in TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    conn.execute(SCHEMA)
    started = time.perf_counter()
    conn.execute("INSERT INTO catalog_category SELECT g, 'category ' || g FROM generate_series(0, %s) g",
                 [args.categories - 1])
    conn.execute("INSERT INTO visualsearch_modelversion VALUES (1, %s, %s, true)", [MODEL_KEY, DIM])
    with conn.cursor() as cursor, cursor.copy("COPY catalog_product (id, category_id, price) FROM STDIN") as copy:
        for pid, category in enumerate(product_category.tolist(), start=1):
            copy.write_row((pid, category, 10 + pid % 90))
    conn.execute("INSERT INTO catalog_productimage (id, product_id, position) "
                 "SELECT g, (g - 1) / %s + 1, (g - 1) %% %s FROM generate_series(1, %s) g",
                 [args.per_product, args.per_product, args.rows])
    copy_embeddings(conn, synthetic(centres, n=args.rows, noise=0.6, seed=1), args.per_product)
    figures["load_s"] = round(time.perf_counter() - started, 1)
    print(f"loaded in {figures['load_s']} s", flush=True)
    if citus:
        started = time.perf_counter()
        shards = args.shards or 2 * max(workers, 1)
        conn.execute("SELECT create_reference_table('catalog_category')")
        conn.execute("SELECT create_reference_table('visualsearch_modelversion')")
        conn.execute("SELECT create_distributed_table('catalog_product', 'id', shard_count => %s)", [shards])
        for table in ("catalog_productimage", "visualsearch_imageembedding"):
            conn.execute(f"SELECT create_distributed_table('{table}', 'product_id', colocate_with => 'catalog_product')")
            conn.execute(f"SELECT truncate_local_data_after_distributing_table('{table}')")
        conn.execute("SELECT truncate_local_data_after_distributing_table('catalog_product')")
        figures["distribute_s"] = round(time.perf_counter() - started, 1)
        figures["shards"] = shards
        print(f"distributed over {shards} shards in {figures['distribute_s']} s", flush=True)
    started = time.perf_counter()
    conn.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")  # on Citus: the workers' config
    conn.execute(hnsw_index_sql(model_key=MODEL_KEY, dimension=DIM))
    figures["index_build_s"] = round(time.perf_counter() - started, 1)
    conn.execute("VACUUM ANALYZE visualsearch_imageembedding")
    conn.execute("ANALYZE catalog_productimage")
    conn.execute("ANALYZE catalog_product")
    print(f"HNSW index built in {figures['index_build_s']} s", flush=True)




def queries_run(conn, queries, truth, truth_f, args, figures) -> None:
    """recall@10 and p50/p95 per ef_search, without and with the filter, the shop's way (SET LOCAL in a transaction)."""
    for ef in args.ef_search:
        for filtered in (False, True):
            sql = knn_sql(filtered=filtered)

            def run(q, sql=sql, ef=ef):
                with conn.transaction():
                    for statement in settings_sql(ef):
                        conn.execute(statement)
                    rows = conn.execute(sql, {"q": q.astype(np.float32), "key": MODEL_KEY, "k": K,
                                              "categories": [0]}).fetchall()
                rows.sort(key=lambda r: r[2])  # relaxed_order, as the shop sorts again
                return [r[0] for r in rows]

            found, times = timed_queries(run, queries)
            p50, p95 = np.percentile(np.asarray(times) * 1000, [50, 95])
            result = {"ef_search": ef, "filtered": filtered, "recall_at_10": round(recall(found, truth_f if filtered else truth), 3),
                      "p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2),
                      "returned": float(np.mean([len(f) for f in found]))}
            figures["runs"].append(result)
            print(f"  ef_search {ef:4d} {'10 % filter' if filtered else 'no filter  '}  recall@10 "
                  f"{result['recall_at_10']:.3f}  p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  "
                  f"(returned {result['returned']:.1f})", flush=True)
    with conn.transaction():
        for statement in settings_sql(200):
            conn.execute(statement)
        # Values bound client-side: Citus asks each shard for its plan, which it cannot do with parameters.
        with psycopg.ClientCursor(conn) as cursor:
            cursor.execute("EXPLAIN " + knn_sql(filtered=True),
                           {"q": queries[0], "key": MODEL_KEY, "k": K, "categories": [0]})
            plan = cursor.fetchall()
    figures["plan_uses_hnsw"] = any("imageembedding_hnsw" in r[0] for r in plan)
    print("plan:", "HNSW index scan" if figures["plan_uses_hnsw"] else "no HNSW index scan",
          "| " + " / ".join(r[0].strip()[:70] for r in plan if "Scan" in r[0] or "Task Count" in r[0]))


if __name__ == "__main__":
    main()
