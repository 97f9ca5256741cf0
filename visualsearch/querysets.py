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
) -> list[ImageHit]:
    """The ``limit`` nearest catalogue images by cosine distance, filters applied inside the index scan.

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
    query = f"""
        SELECT e.image_id, i.product_id, (e.vector::halfvec({dim}) <=> %s::halfvec({dim})) AS distance
        FROM visualsearch_imageembedding e
        JOIN catalog_productimage i ON i.id = e.image_id
        JOIN catalog_product p ON p.id = i.product_id
        WHERE {" AND ".join(where)}
        ORDER BY e.vector::halfvec({dim}) <=> %s::halfvec({dim})
        LIMIT %s
    """
    literal = vector_literal(vector)
    with transaction.atomic(), connection.cursor() as cursor:
        # SET LOCAL only lasts for this transaction: outside atomic() it would silently do nothing.
        # pgvector caps ef_search at 1000; past it the iterative scan keeps going until ``limit`` rows are found.
        cursor.execute("SET LOCAL hnsw.ef_search = %s", [min(max(int(ef_search), limit), 1000)])
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(query, [literal, *params, literal, int(limit)])
        rows = cursor.fetchall()
    hits = [ImageHit(image_id=r[0], product_id=r[1], distance=float(r[2])) for r in rows]
    hits.sort(key=lambda hit: hit.distance)
    return hits
