"""The home of vector SQL (with selectors.py): HNSW index DDL and the k-NN query over catalogue images.

Each model key has its own partial HNSW index over ``vector::halfvec(<dim>)`` with the cosine opclass, since the
column holds vectors of several dimensions while a new model version is backfilled. Queries repeat exactly that
expression and predicate so the planner can use the index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.db import connection, transaction

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


def vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(map(repr, np.asarray(vector, dtype=np.float32).tolist())) + "]"


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
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT avg(e.vector::vector)::text, count(*) FROM visualsearch_imageembedding e
               JOIN catalog_productimage i ON i.id = e.image_id
               WHERE e.model_key = %s AND e.status = 'ready' AND i.kind = 'catalogue'""",
            [model_key],
        )
        mean, count = cursor.fetchone()
    if not count:
        return None, 0
    return np.asarray([float(x) for x in mean.strip("[]").split(",")], dtype=np.float32), int(count)


def knn_images(
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
) -> list[ImageHit]:
    """The ``limit`` nearest catalogue images by cosine distance, filters applied inside the index scan.

    With ``query_mean`` and ``catalogue_mean`` (see ``statistics.py``) the index is walked with the centred query
    u = unit(q - query_mean): since every stored g has unit length, u.g orders images as (u.(g - catalogue_mean))
    does up to each image's |g - catalogue_mean|, which the same query returns (from g.catalogue_mean) so the
    candidates are re-ranked by the exact centred cosine here. Still one SQL query, on the same HNSW index.

    hnsw.iterative_scan lets the HNSW scan continue past ef_search candidates until ``limit`` rows pass the
    filters, so a selective category or price filter still returns ``limit`` rows. relaxed_order may return rows
    slightly out of order; they are sorted again below.
    """
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
        SELECT e.image_id, i.product_id, (e.vector::halfvec({dim}) <=> %s::halfvec({dim})) AS distance{extra}
        FROM visualsearch_imageembedding e
        JOIN catalog_productimage i ON i.id = e.image_id
        JOIN catalog_product p ON p.id = i.product_id
        WHERE {" AND ".join(where)}
        ORDER BY e.vector::halfvec({dim}) <=> %s::halfvec({dim})
        LIMIT %s
    """
    with transaction.atomic(), connection.cursor() as cursor:
        # SET LOCAL only lasts for this transaction: outside atomic() it would silently do nothing.
        # pgvector caps ef_search at 1000; past it the iterative scan keeps going until ``limit`` rows are found.
        cursor.execute("SET LOCAL hnsw.ef_search = %s", [min(max(int(ef_search), limit), 1000)])
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(query, [literal, *extra_params, *params, order_literal, int(limit)])
        rows = cursor.fetchall()
    if not centred:
        hits = [ImageHit(image_id=r[0], product_id=r[1], distance=float(r[2])) for r in rows]
        hits.sort(key=lambda hit: hit.distance)
        return hits
    offset = float(shifted @ catalogue_mean)
    mean_norm2 = float(catalogue_mean @ catalogue_mean)
    hits = []
    for image_id, product_id, distance, order_distance, negative_dot in rows:
        # |g - m|^2 = |g|^2 - 2 g.m + |m|^2 with |g| = 1; u.(g - m) = (1 - cosine distance to u) - u.m
        norm = max(1.0 - 2.0 * -float(negative_dot) + mean_norm2, 1e-12) ** 0.5
        score = (1.0 - float(order_distance) - offset) / norm
        hits.append(ImageHit(image_id=image_id, product_id=product_id, distance=float(distance), centred_similarity=score))
    hits.sort(key=lambda hit: -hit.centred_similarity)
    return hits
