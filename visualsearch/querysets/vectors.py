"""The home of vector SQL (with selectors.py): HNSW index DDL, the embedding rows' writes and the k-NN query over
catalogue images.

Each model key has its own partial HNSW index over ``vector::halfvec(<dim>)`` with the cosine opclass, since the
column holds vectors of several dimensions while a new model version is backfilled. Queries repeat exactly that
expression and predicate so the planner can use the index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.db import connections, router

from ..models import ImageEmbedding
from .reads import CITUS_SETTINGS, _read_rows, _Statements

# m=16, ef_construction=64 are pgvector's defaults; bench/scale.py measured recall@10 >= 0.98 with them at 100k.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64


def _index_name(model_key: str) -> str:
    return "imageembedding_hnsw_" + re.sub(r"[^a-z0-9]+", "_", model_key.lower())[:40]


def hnsw_index_sql(*, model_key: str, dimension: int) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._@-]+", model_key):
        raise ValueError(f"model key {model_key!r} may only hold letters, digits and . _ @ -")
    return (
        f"CREATE INDEX IF NOT EXISTS {_index_name(model_key)} ON visualsearch_imageembedding "
        f"USING hnsw ((vector::halfvec({int(dimension)})) halfvec_cosine_ops) "
        f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
        f"WHERE model_key = '{model_key}'"
    )


PICTURE_LATERAL = (
    "CROSS JOIN LATERAL (SELECT i.kind, i.colour_keys FROM catalog_productimage i "
    "WHERE i.product_id = e.product_id AND i.id = e.image_id OFFSET 0) i"
)
"""The k-NN query's picture, looked up by its key ``(product_id, id)`` in a subquery that OFFSET 0 keeps apart.
Joined on those two columns instead, PostgreSQL multiplies their selectivities, estimates a couple of rows out
of a million and sorts the whole table rather than walk the HNSW index (bench/citus.py measured 0.6-0.8 s a
query at 1M rows instead of milliseconds, on one node and on every Citus shard); the fenced unique-key lookup is
estimated at one row, so the plan stays an index walk. Correlated on the distribution column, Citus runs it
inside each shard."""


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form of a float32 vector. Nine significant digits give back every float32 exactly (Python's
    repr of the float64 would write up to 17): a 1280-d literal takes 0.35 ms to write instead of 0.66 ms and is
    17 kB instead of 26 kB for PostgreSQL to read; a photo search sends three."""
    return "[" + ",".join(map("{:.9g}".format, np.asarray(vector, dtype=np.float32).tolist())) + "]"


def embeddings_pending_create(*, image_ids: list[int], model_keys: list[str]) -> list[int]:
    """A pending row for each of these pictures and keys, with the picture's ``product_id`` (the column pictures
    and embeddings are distributed by on Citus): one INSERT … SELECT, rows that exist are left alone. Returns
    the ids of the rows it made."""
    if not image_ids or not model_keys:
        return []
    with connections[router.db_for_write(ImageEmbedding)].cursor() as cursor:  # a write: the primary
        cursor.execute(
            """INSERT INTO visualsearch_imageembedding
                   (image_id, product_id, model_key, status, error, attempts, created_at, updated_at)
               SELECT i.id, i.product_id, k.key, 'pending', '', 0, now(), now()
                 FROM catalog_productimage i CROSS JOIN unnest(%s::varchar[]) AS k(key)
                WHERE i.id = ANY(%s)
                ORDER BY i.id, k.key
               ON CONFLICT DO NOTHING
             RETURNING id""",
            [list(model_keys), list(image_ids)],
        )
        return [row[0] for row in cursor.fetchall()]


def embeddings_store_ready(*, rows: list[tuple[int, np.ndarray, str | None, list[int] | None]]) -> list[int]:
    """Store a batch's vectors (and concepts) and mark the rows ready, in one UPDATE … FROM (VALUES …): one round
    trip per batch instead of one per picture.

    ``rows``: (embedding id, vector, concepts as sparsevec text or None, indexed concept ids or None). Only rows
    still pending are written (one requeued or failed meanwhile is not overwritten); returns the ids written.
    """
    if not rows:
        return []
    values, params = [], []
    for embedding_id, vector, concepts, concept_ids in rows:
        values.append("(%s::bigint, %s::halfvec, %s::sparsevec, %s::smallint[])")
        params += [embedding_id, vector_literal(vector), concepts, concept_ids]
    with connections[router.db_for_write(ImageEmbedding)].cursor() as cursor:  # a write: the primary
        cursor.execute(
            f"""UPDATE visualsearch_imageembedding e
                   SET vector = v.vector, concepts = v.concepts, concept_ids = v.concept_ids,
                       status = 'ready', error = '', claimed_at = NULL
                  FROM (VALUES {", ".join(values)}) AS v(id, vector, concepts, concept_ids)
                 WHERE e.id = v.id AND e.status = 'pending'
             RETURNING e.id""",
            params,
        )
        return sorted(row[0] for row in cursor.fetchall())


@dataclass(frozen=True)
class ImageHit:
    image_id: int
    product_id: int
    distance: float
    """Cosine distance to the query vector as given."""
    centred_similarity: float | None = None
    """With centring: cos(q - query_mean, g - catalogue_mean), the score the hits are ranked by."""


def catalogue_vector_mean(*, model_key: str) -> tuple[np.ndarray | None, int]:
    """The mean of the key's ready catalogue vectors (labelled shopper photos left out) and their count."""
    ((mean, count),) = _read_rows(
        """SELECT avg(e.vector::vector)::text, count(*) FROM visualsearch_imageembedding e
           JOIN catalog_productimage i ON i.product_id = e.product_id AND i.id = e.image_id
           WHERE e.model_key = %s AND e.status = 'ready' AND i.kind = 'catalogue'""",
        [model_key],
    )
    if not count:
        return None, 0
    return np.asarray([float(x) for x in mean.strip("[]").split(",")], dtype=np.float32), int(count)


def knn_images(**arguments) -> list[ImageHit]:
    """The ``limit`` nearest catalogue images by cosine distance, filters applied inside the index scan (the
    arguments: ``_knn_statement``'s).

    With ``query_mean`` and ``catalogue_mean`` (see ``statistics.py``) the index is walked with the centred query
    u = unit(q - query_mean): since every stored g has unit length, u.g orders images as (u.(g - catalogue_mean))
    does up to each image's |g - catalogue_mean|, which the same query returns (from g.catalogue_mean) so the
    candidates are re-ranked by the exact centred cosine here. Still one SQL query, on the same HNSW index.

    hnsw.iterative_scan lets the HNSW scan continue past ef_search candidates until ``limit`` rows pass the
    filters, so a selective category or price filter still returns ``limit`` rows. relaxed_order may return rows
    slightly out of order; they are sorted again below.
    """
    statement = _knn_statement(**arguments)
    rows = _read_rows(statement.sql, statement.params, settings_sql=statement.settings_sql)
    if statement.shifted is None:
        hits = [ImageHit(image_id=r[0], product_id=r[1], distance=float(r[2])) for r in rows]
        hits.sort(key=lambda hit: hit.distance)
        return hits
    catalogue_mean = arguments["catalogue_mean"]
    offset = float(statement.shifted @ catalogue_mean)
    mean_norm2 = float(catalogue_mean @ catalogue_mean)
    hits = []
    for image_id, product_id, distance, order_distance, negative_dot in rows:
        # |g - m|^2 = |g|^2 - 2 g.m + |m|^2 with |g| = 1; u.(g - m) = (1 - cosine distance to u) - u.m
        norm = max(1.0 - 2.0 * -float(negative_dot) + mean_norm2, 1e-12) ** 0.5
        score = (1.0 - float(order_distance) - offset) / norm
        hits.append(ImageHit(image_id=image_id, product_id=product_id, distance=float(distance), centred_similarity=score))
    hits.sort(key=lambda hit: -hit.centred_similarity)
    return hits


def knn_plan(**arguments) -> list[str]:
    """PostgreSQL's plan (EXPLAIN) for the k-NN query ``knn_images`` runs with these arguments, on the same
    database and with the same SET LOCALs: for checking that it walks the HNSW index (tests, bench/citus.py,
    an operator's look at a slow search). Values are bound client-side, so Citus can plan it on every shard."""
    statement = _knn_statement(**arguments)
    rows = _read_rows("EXPLAIN " + statement.sql, statement.params, settings_sql=statement.settings_sql)
    return [row[0] for row in rows]


@dataclass(frozen=True)
class _KnnStatement:
    sql: str
    params: list[object]
    settings_sql: _Statements
    shifted: np.ndarray | None
    """With centring: the unit vector u = unit(q - query_mean) the index is walked with."""


def _knn_statement(
    *,
    vector: np.ndarray,
    model_key: str,
    dimension: int,
    limit: int,
    category_ids: list[int] | None = None,
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    exclude_product_id: int | None = None,
    published_only: bool = True,
    ef_search: int = 100,
    query_mean: np.ndarray | None = None,
    catalogue_mean: np.ndarray | None = None,
    colours: tuple[str, ...] = (),
    colours_excluded: tuple[str, ...] = (),
    tsquery: tuple[str, list[object]] | None = None,
) -> _KnnStatement:
    """The k-NN query's SQL, parameters and SET LOCALs (see ``knn_images``)."""
    dim = int(dimension)
    # Labelled shopper photos teach the adapter but are never a search result (they are not shown in the shop).
    where = ["e.model_key = %s", "e.vector IS NOT NULL", "i.kind = 'catalogue'"]
    params: list[object] = [model_key]
    if published_only:
        where.append("p.is_published")
    if category_ids is not None:
        where.append("p.category_id = ANY(%s)")
        params.append(list(category_ids))
    if min_price is not None:
        where.append("p.price >= %s")
        params.append(min_price)
    if max_price is not None:
        where.append("p.price <= %s")
        params.append(max_price)
    if exclude_product_id is not None:
        where.append("p.id <> %s")
        params.append(exclude_product_id)
    if colours:
        # The matching picture itself has the colour: "a red one" finds the red variant's picture.
        where.append("i.colour_keys && %s::varchar[]")
        params.append(list(colours))
    if colours_excluded:
        where.append("i.colour_keys IS NOT NULL AND NOT (i.colour_keys && %s::varchar[])")
        params.append(list(colours_excluded))
    if tsquery is not None:
        where.append(f"p.search_vector @@ ({tsquery[0]})")
        params.extend(tsquery[1])
    literal = vector_literal(vector)
    centred = query_mean is not None and catalogue_mean is not None
    if centred:
        shifted = np.asarray(vector, dtype=np.float32) - query_mean
        shifted = shifted / max(float(np.linalg.norm(shifted)), 1e-12)
        order_literal = vector_literal(shifted)
        extra = f", (e.vector::halfvec({dim}) <=> %s::halfvec({dim})), (e.vector::halfvec({dim}) <#> %s::halfvec({dim}))"
        extra_params = [order_literal, vector_literal(catalogue_mean)]
    else:
        order_literal, extra, extra_params = literal, "", []
    query = f"""
        SELECT e.image_id, e.product_id, (e.vector::halfvec({dim}) <=> %s::halfvec({dim})) AS distance{extra}
        FROM visualsearch_imageembedding e
        JOIN catalog_product p ON p.id = e.product_id
        {PICTURE_LATERAL}
        WHERE {" AND ".join(where)}
        ORDER BY e.vector::halfvec({dim}) <=> %s::halfvec({dim})
        LIMIT %s
    """
    return _KnnStatement(
        sql=query,
        params=[literal, *extra_params, *params, order_literal, int(limit)],
        # pgvector caps ef_search at 1000; past it the iterative scan keeps going until ``limit`` rows are found.
        settings_sql=(
            *CITUS_SETTINGS,
            ("SET LOCAL hnsw.ef_search = %s", [min(max(int(ef_search), limit), 1000)]),
            ("SET LOCAL hnsw.iterative_scan = relaxed_order", []),
        ),
        shifted=shifted if centred else None,
    )


def images_scored(
    *, vector: np.ndarray, model_key: str, dimension: int, product_ids: list[int], published_only: bool = True
) -> list[ImageHit]:
    """The cosine distance of ``vector`` to every catalogue image of these products, nearest first.

    For scoring a few named candidates (bought together with what a shopper chose) that a k-NN scan did not
    return: an exact scan of their images, by the product index, rather than a wider HNSW walk.
    """
    if not product_ids:
        return []
    dim = int(dimension)
    published = "AND p.is_published" if published_only else ""
    rows = _read_rows(
        f"""SELECT e.image_id, e.product_id, (e.vector::halfvec({dim}) <=> %s::halfvec({dim})) AS distance
            FROM visualsearch_imageembedding e
            JOIN catalog_productimage i ON i.product_id = e.product_id AND i.id = e.image_id
            JOIN catalog_product p ON p.id = e.product_id
            WHERE e.model_key = %s AND e.vector IS NOT NULL AND i.kind = 'catalogue'
              AND e.product_id = ANY(%s) {published}
            ORDER BY distance, e.image_id""",
        [vector_literal(vector), model_key, list(product_ids)],
    )
    return [ImageHit(image_id=r[0], product_id=r[1], distance=float(r[2])) for r in rows]
