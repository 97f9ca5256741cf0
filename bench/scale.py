"""How vector search scales: pgvector HNSW (vector, halfvec, binary quantization + exact re-ranking) on synthetic
clustered 1280-d vectors, against exact search in numpy and an in-process HNSW (faiss), in one run.

    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/scale.py --sizes 100000
    SHOP_VAR_DIR=var-bench nice -n 10 .venv/bin/python bench/scale.py --sizes 10000 --queries 50   # quick check

The vectors are shaped like the shop's: the real embeddings of the demo catalogue's pictures (the active model,
computed once and cached in SHOP_VAR_DIR) are the cluster centres; each synthetic vector mixes two centres, adds
Gaussian noise scaled by the real per-dimension spread, is clipped at zero like the network's pooled ReLU6
features, and is normalised. The script prints how close synthetic neighbours are next to the real ones.

For each size it prints, per method: build time, index size, recall@10 against exact float32 search, and p50/p95
query time, without and with a selective filter (a category column holding 1/``--categories`` of the rows,
uncorrelated with the vectors: the hard case for a filtered ANN scan; pgvector runs it with
hnsw.iterative_scan = relaxed_order as the shop does). Queries are separate samples of the same distribution.

Binary quantization is measured twice: pgvector's ``binary_quantize(v)`` (sign bits), and sign bits of the vector
minus the catalogue mean. The shop's vectors are all >= 0, so plain sign bits carry almost no information.

Works in its own database ``shop_scale`` of the embedded PostgreSQL at SHOP_VAR_DIR (dropped at the end unless
--keep). Memory: about 3x N x 1280 x 4 bytes in this process (vectors, faiss copy, HNSW graph) plus the same
again in PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

DIM = 1280
K = 10
DATABASE = "shop_scale"


# --- data ------------------------------------------------------------------------------------------------------

def real_embeddings(var_dir: Path, *, count: int) -> np.ndarray:
    """Embeddings of the demo catalogue's pictures by the default model (cached: computing them takes a minute)."""
    from visualsearch.embedding import DEFAULT_MODEL_KEY, embedder_for

    cache = var_dir / f"bench-scale-centres-{DEFAULT_MODEL_KEY}-{count}.npy"
    if cache.exists():
        return np.load(cache)
    from PIL import Image

    assets = Path(os.environ.get("DEMO_ASSETS_DIR", PROJECT_DIR / "var" / "demo" / "package" / "assets"))
    paths = sorted(assets.glob("*.webp"))
    if not paths:
        raise SystemExit(f"no pictures in {assets}: run `make demo-assets`")
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, min(count, len(paths))).astype(int)]
    embedder = embedder_for(DEFAULT_MODEL_KEY)
    vectors = []
    for start in range(0, len(paths), 32):
        images = []
        for path in paths[start : start + 32]:
            rgba = Image.open(path).convert("RGBA")
            white = Image.new("RGB", rgba.size, (255, 255, 255))
            white.paste(rgba, mask=rgba.getchannel("A"))  # as intake flattens transparency
            images.append(white)
        vectors.append(embedder.embed(images))
    result = np.concatenate(vectors).astype(np.float32)
    var_dir.mkdir(parents=True, exist_ok=True)  # a fresh SHOP_VAR_DIR
    np.save(cache, result)
    return result


def synthetic(centres: np.ndarray, *, n: int, noise: float, seed: int) -> np.ndarray:
    """n unit vectors: a mix of two real centres (mostly one), Gaussian noise in the real spread, clipped at 0."""
    rng = np.random.default_rng(seed)
    spread = centres.std(axis=0).astype(np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 50_000):
        m = min(50_000, n - start)
        a = rng.integers(0, len(centres), m)
        b = rng.integers(0, len(centres), m)
        t = rng.uniform(0.0, 0.35, m).astype(np.float32)[:, None]
        x = (1 - t) * centres[a] + t * centres[b]
        x += noise * spread * rng.standard_normal((m, DIM), dtype=np.float32)
        np.maximum(x, 0.0, out=x)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[start : start + m] = x
    return out


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int = K, rows: np.ndarray | None = None,
                half: bool = False) -> np.ndarray:
    """Exact cosine top-k ids (vectors are unit length: inner product), in chunks to bound memory.

    half=True rounds the vectors to float16 first: the best any halfvec search can do.
    """
    if half:
        queries = queries.astype(np.float16).astype(np.float32)
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), k), dtype=np.int64)
    ids_all = np.arange(len(data)) if rows is None else rows
    for start in range(0, len(ids_all), 200_000):
        ids = ids_all[start : start + 200_000]
        chunk = data[ids].astype(np.float16).astype(np.float32) if half else data[ids]
        scores = queries @ chunk.T
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_ids = np.concatenate([best_ids, np.broadcast_to(ids, scores.shape)], axis=1)
        top = np.argpartition(-merged_scores, k, axis=1)[:, :k]
        best_scores = np.take_along_axis(merged_scores, top, axis=1)
        best_ids = np.take_along_axis(merged_ids, top, axis=1)
    return best_ids


def recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    return float(np.mean([len(set(map(int, f[:K])) & set(map(int, t))) / K for f, t in zip(found, truth)]))


# --- reporting -------------------------------------------------------------------------------------------------

@dataclass
class Row:
    method: str
    setting: str
    recall: float
    times: list[float]
    filtered: bool = False
    returned: float = float(K)
    plan: str = ""

    def line(self) -> str:
        p50, p95 = np.percentile(np.asarray(self.times) * 1000, [50, 95])
        short = f"  (returned {self.returned:.1f} of {K})" if self.returned < K - 0.05 else ""
        if self.plan and self.plan != "HNSW index":
            short += f"  [{self.plan}]"
        elif self.filtered and self.plan:
            short += "  [HNSW iterative scan]"
        return (f"  {self.method:<34} {self.setting:<18} {'filter' if self.filtered else '      '}  "
                f"recall@10 {self.recall:5.3f}  p50 {p50:8.2f} ms  p95 {p95:8.2f} ms{short}")


def timed_queries(run, queries: np.ndarray, *, warmup: int = 3) -> tuple[list[np.ndarray], list[float]]:
    for q in queries[:warmup]:
        run(q)
    found, times = [], []
    for q in queries:
        started = time.perf_counter()
        ids = run(q)
        times.append(time.perf_counter() - started)
        found.append(np.asarray(ids, dtype=np.int64))
    return found, times


def mib(nbytes: float) -> str:
    return f"{nbytes / 2**20:8.1f} MiB"


# --- PostgreSQL ------------------------------------------------------------------------------------------------

def pg_connect(var_dir: Path, dbname: str):
    import psycopg
    from pgvector.psycopg import register_vector

    from shop.embedded import postgres_ensure

    if os.environ.get("DATABASE_URL"):
        from urllib.parse import urlsplit

        url = urlsplit(os.environ["DATABASE_URL"])
        conninfo = dict(host=url.hostname, port=url.port or 5432, user=url.username, password=url.password)
    else:
        pg = postgres_ensure(var_dir)
        conninfo = dict(host=pg.socket_dir, user=pg.user)
    # prepare_threshold=None: every query is planned afresh, as Django does; a cached generic plan would also
    # ignore the per-query SET LOCALs (enable_seqscan) that the forced and exact rows rely on.
    conn = psycopg.connect(**conninfo, dbname=dbname, autocommit=True, prepare_threshold=None)
    if dbname != "postgres":
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
    return conn


def copy_vectors(conn, data: np.ndarray, categories: np.ndarray) -> float:
    """COPY (id, category, v vector) in PostgreSQL's binary format, built with numpy (fast: no per-row Python)."""
    row = np.dtype([("nfields", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("cat", ">i4"),
                    ("l3", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("v", ">f4", (DIM,))])
    started = time.perf_counter()
    with conn.cursor() as cursor, cursor.copy("COPY items_vector (id, category, v) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
        for start in range(0, len(data), 20_000):
            chunk = data[start : start + 20_000]
            rows = np.zeros(len(chunk), dtype=row)
            rows["nfields"], rows["l1"], rows["l2"], rows["l3"] = 3, 8, 4, 4 + 4 * DIM
            rows["id"] = np.arange(start, start + len(chunk))
            rows["cat"] = categories[start : start + len(chunk)]
            rows["dim"] = DIM
            rows["v"] = chunk
            copy.write(rows.tobytes())
        copy.write(struct.pack(">h", -1))
    return time.perf_counter() - started


def vector_literal(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in v) + "]"


PG_METHODS = {
    # name: (table, index DDL (m, ef_construction substituted), order expression with %(q)s placeholder)
    "pgvector vector": ("items_vector", "USING hnsw (v vector_cosine_ops)", "v <=> %(q)s::vector"),
    "pgvector halfvec": ("items_halfvec", "USING hnsw (v halfvec_cosine_ops)", "v <=> %(q)s::halfvec"),
    "pgvector bit (sign) + re-rank": (
        "items_halfvec", "USING hnsw ((binary_quantize(v)::bit(1280)) bit_hamming_ops)",
        "binary_quantize(v)::bit(1280) <~> binary_quantize(%(q)s::halfvec)::bit(1280)"),
    "pgvector bit (v-mean) + re-rank": ("items_halfvec", "USING hnsw (bq bit_hamming_ops)", "bq <~> %(qb)s::bit(1280)"),
}


def pg_build(conn, method: str, *, m: int, ef_construction: int, workers: int, memory: str) -> tuple[float, int]:
    table, using, _ = PG_METHODS[method]
    name = "idx_" + "".join(c if c.isalnum() else "_" for c in method.lower())
    conn.execute(f"DROP INDEX IF EXISTS {name}")
    conn.execute(f"SET maintenance_work_mem = '{memory}'")
    conn.execute(f"SET max_parallel_maintenance_workers = {workers}")
    started = time.perf_counter()
    conn.execute(f"CREATE INDEX {name} ON {table} {using} WITH (m = {m}, ef_construction = {ef_construction})")
    seconds = time.perf_counter() - started
    size = conn.execute("SELECT pg_relation_size(%s)", [name]).fetchone()[0]
    return seconds, size


def pg_search(conn, method: str, *, ef_search: int, category: int | None, mean_vector: np.ndarray,
              max_scan_tuples: int, force_index: bool = False):
    """A function q -> ids, running the method's query the way the shop does (SET LOCAL inside a transaction)."""
    table, _, order = PG_METHODS[method]
    where = "WHERE category = %(cat)s" if category is not None else ""
    if "bit" in method:
        # Candidates by Hamming distance from the bit index, then exact cosine over their halfvec vectors.
        sql = (f"SELECT id FROM (SELECT id, v FROM {table} {where} ORDER BY {order} LIMIT %(cand)s) c "
               f"ORDER BY v <=> %(q)s::halfvec LIMIT {K}")
    else:
        sql = f"SELECT id FROM {table} {where} ORDER BY {order} LIMIT {K}"

    def run(q: np.ndarray, *, explain: bool = False):
        params = {"q": q, "cat": category, "cand": ef_search}  # numpy array: sent in binary by pgvector's adapter
        if "v-mean" in method:
            params["qb"] = "".join("1" if x > 0 else "0" for x in (q - mean_vector))
        with conn.transaction():
            conn.execute(f"SET LOCAL hnsw.ef_search = {ef_search}")
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            conn.execute(f"SET LOCAL hnsw.max_scan_tuples = {max_scan_tuples}")
            if force_index:  # what the iterative index scan does where the planner would rather scan the table
                conn.execute("SET LOCAL enable_seqscan = off")
                conn.execute("SET LOCAL enable_bitmapscan = off")
            rows = conn.execute(("EXPLAIN " if explain else "") + sql, params).fetchall()
        if explain:
            return "HNSW index" if any("Index Scan using idx_" in r[0] for r in rows) else "no HNSW index (planner)"
        return [r[0] for r in rows]

    return run


def pg_exact(conn, *, category: int | None):
    where = "WHERE category = %(cat)s" if category is not None else ""
    sql = f"SELECT id FROM items_halfvec {where} ORDER BY v <=> %(q)s::halfvec LIMIT {K}"

    def run(q: np.ndarray):
        with conn.transaction():
            conn.execute("SET LOCAL enable_indexscan = off")  # a sequential scan: PostgreSQL's exact answer
            rows = conn.execute(sql, {"q": q, "cat": category}).fetchall()
        return [r[0] for r in rows]

    return run


# --- the run ---------------------------------------------------------------------------------------------------

def run_size(args, n: int, centres: np.ndarray, conn_admin, var_dir: Path) -> None:
    import faiss

    print(f"\n=== {n:,} vectors of {DIM} dimensions, {args.queries} queries, k={K} ===")
    started = time.perf_counter()
    data = synthetic(centres, n=n, noise=args.noise, seed=1)
    queries = synthetic(centres, n=args.queries, noise=args.noise, seed=2)
    rng = np.random.default_rng(3)
    categories = rng.integers(0, args.categories, n).astype(np.int32)
    query_category = 0
    filtered_rows = np.flatnonzero(categories == query_category)
    print(f"generated in {time.perf_counter() - started:.1f} s; filter keeps {len(filtered_rows):,} rows "
          f"({100 * len(filtered_rows) / n:.1f} %)")

    truth = exact_top_k(data, queries)
    truth_f = exact_top_k(data, queries, rows=filtered_rows)
    nn = (queries * data[truth[:, 0]]).sum(axis=1)
    tenth = (queries * data[truth[:, -1]]).sum(axis=1)
    print(f"cosine of a query to its 1st / 10th neighbour: {nn.mean():.3f} / {tenth.mean():.3f}; "
          f"random pairs: {float((data[:1000] * data[1000:2000]).sum(axis=1).mean()) if n >= 2000 else float('nan'):.3f}")

    rows: list[Row] = []
    builds: list[str] = []
    mean_vector = data.mean(axis=0)
    sample = queries[: min(len(queries), max(5, 3_000_000 // n))]  # a sequential scan of 1M rows takes seconds

    # numpy exact: one query at a time, as a web request would.
    found, times = timed_queries(lambda q: np.argpartition(-(data @ q), K)[:K], queries)
    rows.append(Row("numpy exact (float32)", "", recall(found, truth), times))
    found, times = timed_queries(lambda q: filtered_rows[np.argpartition(-(data[filtered_rows] @ q), K)[:K]], queries)
    rows.append(Row("numpy exact (float32)", "", recall(found, truth_f), times, filtered=True))
    # Neighbours of these vectors are very close together; rounding to float16 alone already reorders some.
    rows.append(Row("numpy exact on float16 vectors", "halfvec bound", recall(list(exact_top_k(data, queries, half=True)), truth),
                    [0.0]))

    # faiss HNSW, same m and ef_construction as pgvector.
    if not args.no_faiss:
        index = faiss.IndexHNSWFlat(DIM, args.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = args.ef_construction
        started = time.perf_counter()
        index.add(data)
        build_s = time.perf_counter() - started
        size = len(faiss.serialize_index(index))
        builds.append(f"  faiss HNSWFlat (float32, {faiss.omp_get_max_threads()} threads)  build {build_s:8.1f} s  size {mib(size)}")
        selector = faiss.IDSelectorBatch(filtered_rows)
        for ef in args.ef_search:
            params = faiss.SearchParametersHNSW(efSearch=ef)
            found, times = timed_queries(lambda q: index.search(q[None, :], K, params=params)[1][0], queries)
            rows.append(Row("faiss HNSW", f"efSearch={ef}", recall(found, truth), times))
            params_f = faiss.SearchParametersHNSW(efSearch=ef, sel=selector)
            found, times = timed_queries(lambda q: index.search(q[None, :], K, params=params_f)[1][0], queries)
            rows.append(Row("faiss HNSW", f"efSearch={ef}", recall(found, truth_f), times, filtered=True,
                            returned=float(np.mean([(f >= 0).sum() for f in found]))))
        del index

    # PostgreSQL + pgvector.
    conn_admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    conn_admin.execute(f"CREATE DATABASE {DATABASE}")
    conn = pg_connect(var_dir, DATABASE)
    try:
        conn.execute(f"CREATE TABLE items_vector (id bigint PRIMARY KEY, category int NOT NULL, v vector({DIM}) NOT NULL)")
        load_s = copy_vectors(conn, data, categories)
        del data  # the ground truth is computed; give PostgreSQL the memory for its index builds (1M: ~5 GB)
        started = time.perf_counter()
        conn.execute(
            f"CREATE TABLE items_halfvec AS SELECT id, category, v::halfvec({DIM}) AS v, "
            f"binary_quantize(v - %s::vector)::bit({DIM}) AS bq FROM items_vector",
            [vector_literal(mean_vector)],
        )
        conn.execute("ALTER TABLE items_halfvec ADD PRIMARY KEY (id)")
        conn.execute("VACUUM ANALYZE items_vector")
        conn.execute("VACUUM ANALYZE items_halfvec")
        convert_s = time.perf_counter() - started
        sizes = {t: conn.execute("SELECT pg_table_size(%s)", [t]).fetchone()[0] for t in ("items_vector", "items_halfvec")}
        print(f"COPY {n:,} rows: {load_s:.1f} s; halfvec + bit copy: {convert_s:.1f} s; "
              f"table vector {mib(sizes['items_vector']).strip()}, halfvec+bit {mib(sizes['items_halfvec']).strip()}")
        for method in args.methods:
            build_s, size = pg_build(conn, method, m=args.m, ef_construction=args.ef_construction,
                                     workers=args.workers, memory=args.maintenance_work_mem)
            builds.append(f"  {method:<34} build {build_s:8.1f} s  size {mib(size)}  ({n / build_s:,.0f} vectors/s)")
            print(builds[-1], flush=True)
            for ef in args.ef_search:
                for category in (None, query_category):
                    run = pg_search(conn, method, ef_search=ef, category=category, mean_vector=mean_vector,
                                    max_scan_tuples=args.max_scan_tuples)
                    found, times = timed_queries(run, queries)
                    rows.append(Row(method, f"ef_search={ef}", recall(found, truth if category is None else truth_f),
                                    times, filtered=category is not None,
                                    returned=float(np.mean([len(f) for f in found])),
                                    plan=run(queries[0], explain=True)))
                    print(rows[-1].line(), flush=True)
                    if rows[-1].plan != "HNSW index":
                        run = pg_search(conn, method, ef_search=ef, category=category, mean_vector=mean_vector,
                                        max_scan_tuples=args.max_scan_tuples, force_index=True)
                        found, times = timed_queries(run, queries)
                        rows.append(Row(method, f"ef_search={ef}", recall(found, truth_f), times, filtered=True,
                                        returned=float(np.mean([len(f) for f in found])),
                                        plan=run(queries[0], explain=True) + ", forced"))
                        print(rows[-1].line(), flush=True)
        for category in (None, query_category):
            found, times = timed_queries(pg_exact(conn, category=category), sample, warmup=1)
            rows.append(Row("pgvector exact (seq scan, halfvec)", "", recall(found, (truth if category is None else truth_f)[: len(sample)]),
                            times, filtered=category is not None))
    finally:
        conn.close()
        if not args.keep:
            conn_admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")

    print(f"\n--- {n:,} vectors: builds (m={args.m}, ef_construction={args.ef_construction}, "
          f"maintenance_work_mem={args.maintenance_work_mem}, parallel workers={args.workers}) ---")
    print("\n".join(builds))
    print(f"--- {n:,} vectors: queries (k={K}; 'filter' = category holding {100 / args.categories:.0f} % of rows) ---")
    for row in rows:
        print(row.line())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000], help="row counts (default 100000)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=64)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40, 100, 200])
    parser.add_argument("--methods", nargs="+", default=list(PG_METHODS), choices=list(PG_METHODS))
    parser.add_argument("--categories", type=int, default=50, help="the filter keeps 1/N of the rows (default 50: 2 %%)")
    parser.add_argument("--max-scan-tuples", type=int, default=20_000, help="hnsw.max_scan_tuples (pgvector's default)")
    parser.add_argument("--noise", type=float, default=0.6, help="noise, in units of the real per-dimension spread")
    parser.add_argument("--centres", type=int, default=512, help="demo pictures embedded as cluster centres")
    parser.add_argument("--workers", type=int, default=1, help="max_parallel_maintenance_workers for the builds")
    parser.add_argument("--maintenance-work-mem", default="4GB", help="the graph should fit: ~N x 5.5 KB for vector")
    parser.add_argument("--no-faiss", action="store_true", help="skip faiss (it holds another copy of the vectors)")
    parser.add_argument("--keep", action="store_true", help="keep the shop_scale database afterwards")
    args = parser.parse_args()

    var_dir = Path(os.environ.get("SHOP_VAR_DIR", PROJECT_DIR / "var"))
    import faiss
    import torch

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; numpy {np.__version__}, "
          f"faiss {faiss.__version__}, torch {torch.__version__}")
    centres = real_embeddings(var_dir, count=args.centres)
    gram = centres @ centres.T
    np.fill_diagonal(gram, -1)
    print(f"real embeddings ({len(centres)} demo pictures): share of zero entries {float((centres == 0).mean()):.2f}, "
          f"cosine to nearest other picture {float(gram.max(axis=1).mean()):.3f}, random pairs "
          f"{float(gram[gram > -1].mean()):.3f}")
    was_running = (var_dir / "pgdata" / "postmaster.pid").exists()
    conn_admin = pg_connect(var_dir, "postgres")
    version = conn_admin.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    print(f"PostgreSQL {conn_admin.info.server_version}, pgvector {version[0] if version else '?'}, "
          f"shared_buffers {conn_admin.execute('SHOW shared_buffers').fetchone()[0]}")
    try:
        for n in args.sizes:
            run_size(args, n, centres, conn_admin, var_dir)
    finally:
        conn_admin.close()
        if not was_running and not os.environ.get("DATABASE_URL"):
            from shop.embedded import postgres_stop

            postgres_stop(var_dir)


if __name__ == "__main__":
    main()
