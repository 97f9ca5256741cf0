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
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections, router, transaction

from .models import ImageEmbedding

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


_Statements = tuple[tuple[str, list[object]], ...]

CITUS_SETTINGS: _Statements = (("SET LOCAL citus.propagate_set_commands = 'local'", []),)
"""First among a k-NN query's SET LOCALs: on Citus it sends the ones that follow (``hnsw.*``) to the shards that
run the index scans; plain PostgreSQL keeps it as an unused custom setting for the transaction."""

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


def _read_rows(sql: str, params: list[object], *, settings_sql: _Statements = ()) -> list[tuple]:
    """The rows of one read, on the database the project's router picks for vector reads (a read replica when
    DATABASE_REPLICA_URLS names some, else the primary), with ``settings_sql`` (SET LOCAL ...) run first in the same
    transaction on that same connection.

    A replica that fails to answer (shut down, connection lost) is reported to the router with the hint
    ``unavailable`` and the read runs once more where the router then says: search keeps answering from another
    replica or the primary instead of failing until the replica's next health check.
    """
    alias = router.db_for_read(ImageEmbedding)
    try:
        return _rows_on(alias, sql, params, settings_sql)
    except (OperationalError, InterfaceError):
        if alias == DEFAULT_DB_ALIAS:
            raise
        retry = router.db_for_read(ImageEmbedding, unavailable=alias)
        if retry == alias:
            raise
        return _rows_on(retry, sql, params, settings_sql)


def _is_citus(alias: str) -> bool:
    """Whether the database behind ``alias`` is a Citus coordinator (asked once per connection)."""
    wrapper = connections[alias]
    wrapper.ensure_connection()
    answer = getattr(wrapper.connection, "_lumen_citus", None)
    if answer is None:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
            answer = bool(cursor.fetchone()[0])
        wrapper.connection._lumen_citus = answer
    return answer


def _rows_on(alias: str, sql: str, params: list[object], settings_sql: _Statements) -> list[tuple]:
    if settings_sql and _is_citus(alias):
        # Citus sends a SET LOCAL on to the shards as the whole query string it arrived in: sent in one string
        # with the query, the shards would run the query too (against the distributed table's name, which
        # they do not have). So on Citus each statement goes alone, in one transaction: the same statements.
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            for statement, values in settings_sql:
                cursor.execute(statement, values)
            cursor.execute(sql, params)
            return cursor.fetchall()
    with connections[alias].cursor() as cursor:
        if not settings_sql:
            cursor.execute(sql, params)
            return cursor.fetchall()
        # The SET LOCALs and the query in one string, one round trip (Django's psycopg cursors bind parameters
        # on the client, so PostgreSQL gets one simple query): outside a transaction, PostgreSQL runs a string of
        # statements as one implicit transaction, so each SET LOCAL holds for this query and ends with it; inside
        # a caller's transaction it holds until that one ends, as a SET LOCAL there always does. Before, BEGIN,
        # each SET and COMMIT were a round trip of their own (5 instead of 1).
        cursor.execute(
            "; ".join([*(statement for statement, _ in settings_sql), sql]),
            [*(value for _, values in settings_sql for value in values), *params],
        )
        while cursor.description is None and cursor.nextset():
            pass  # the SETs' results (no rows) come first
        return cursor.fetchall()


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form of a float32 vector. Nine significant digits give back every float32 exactly (Python's
    repr of the float64 would write up to 17): a 1280-d literal takes 0.35 ms to write instead of 0.66 ms and is
    17 kB instead of 26 kB for PostgreSQL to read; a photo search sends three."""
    return "[" + ",".join(map("{:.9g}".format, np.asarray(vector, dtype=np.float32).tolist())) + "]"


def embeddings_pending_create(*, image_ids: list[int], model_keys: list[str]) -> None:
    """A pending row for each of these pictures and keys, with the picture's ``product_id`` (the column pictures
    and embeddings are distributed by on Citus): one INSERT … SELECT, rows that exist are left alone."""
    if not image_ids or not model_keys:
        return
    with connections[router.db_for_write(ImageEmbedding)].cursor() as cursor:  # a write: the primary
        cursor.execute(
            """INSERT INTO visualsearch_imageembedding
                   (image_id, product_id, model_key, status, error, attempts, created_at, updated_at)
               SELECT i.id, i.product_id, k.key, 'pending', '', 0, now(), now()
                 FROM catalog_productimage i CROSS JOIN unnest(%s::varchar[]) AS k(key)
                WHERE i.id = ANY(%s)
                ORDER BY i.id, k.key
               ON CONFLICT DO NOTHING""",
            [list(model_keys), list(image_ids)],
        )


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
    colours: tuple[str, ...] = (),
    colours_excluded: tuple[str, ...] = (),
    tsquery: tuple[str, list[object]] | None = None,
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
    rows = _read_rows(
        query,
        [literal, *extra_params, *params, order_literal, int(limit)],
        # pgvector caps ef_search at 1000; past it the iterative scan keeps going until ``limit`` rows are found.
        settings_sql=(
            *CITUS_SETTINGS,
            ("SET LOCAL hnsw.ef_search = %s", [min(max(int(ef_search), limit), 1000)]),
            ("SET LOCAL hnsw.iterative_scan = relaxed_order", []),
        ),
    )
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


@dataclass(frozen=True)
class ProductFilters:
    """The filters every product search shares (text, photo): they apply inside each query, never after it."""

    category_ids: list[int] | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    colours: tuple[str, ...] = ()
    """Palette keys: a product qualifies when one of its pictures has one of them (``catalog.ProductImage``)."""
    in_stock: bool = False
    published_only: bool = True

    def sql(self, alias: str = "p") -> tuple[list[str], list[object]]:
        where, params = [], []
        if self.published_only:
            where.append(f"{alias}.is_published")
        if self.category_ids is not None:
            where.append(f"{alias}.category_id = ANY(%s)")
            params.append(list(self.category_ids))
        if self.min_price is not None:
            where.append(f"{alias}.price >= %s")
            params.append(self.min_price)
        if self.max_price is not None:
            where.append(f"{alias}.price <= %s")
            params.append(self.max_price)
        if self.in_stock:
            where.append(f"{alias}.stock_quantity > 0")
        if self.colours:
            where.append(
                f"EXISTS (SELECT 1 FROM catalog_productimage ci WHERE ci.product_id = {alias}.id "
                f"AND ci.kind = 'catalogue' AND ci.colour_keys && %s::varchar[])"
            )
            params.append(list(self.colours))
        return where, params


@dataclass(frozen=True)
class TextHit:
    product_id: int
    score: float
    """The fused score: sum over the lists that found the product of weight / (RRF_K + rank)."""
    by_words: bool
    """Found by full text, or by the name words its typos were corrected to."""
    by_pictures: bool
    """Found because its pictures show the query's concepts."""


RRF_K = 60
"""Reciprocal-rank fusion's constant (Cormack et al. 2009): 60 flattens the top so that no one list decides."""
# The concept list weighs 0.6 of the words' list: chosen on the even half of the demo's labelled queries (NDCG@10
# 0.556 at 1.0, 0.563 at 0.6, 0.555 at 0.4, 0.523 at 2.0) and confirmed on the odd half (0.597 -> 0.605); a
# picture's concepts are noisier evidence than the shop's own words.


def tsquery_sql(*, english: str, chinese_tokens: list[str]) -> tuple[str, list[object]] | None:
    """The SQL tsquery for the words: English through websearch_to_tsquery('english'), Chinese tokens ANDed."""
    parts, params = [], []
    if english.strip():
        parts.append("websearch_to_tsquery('english', %s)")
        params.append(english)
    if chinese_tokens:
        # Tokens are jieba words: quoted as lexemes, so nothing in them is read as tsquery syntax.
        parts.append("to_tsquery('simple', %s)")
        params.append(" & ".join("'" + token.replace("'", "''").replace("\\", "") + "'" for token in chinese_tokens))
    if not parts:
        return None
    return " && ".join(parts), params


def words_tsquery(words: str) -> tuple[str, list[object]] | None:
    """The tsquery for a shopper's words in either language (``catalog.text`` segments the Chinese)."""
    from catalog.text import chinese_query_tokens, latin_text

    return tsquery_sql(english=latin_text(words), chinese_tokens=chinese_query_tokens(words))


def products_text_ranked(
    *,
    tsquery: tuple[str, list[object]] | None,
    trigrams: list[str],
    concepts: dict[int, float],
    model_key: str,
    filters: ProductFilters,
    limit: int,
    depth: int = 200,
    min_trigram_share: float = 0.5,
    concept_weight: float = 0.6,
    trigram_weight: float = 0.5,
    min_concept_score: float = 0.002,
    typo_fallback_below: int = 3,
    relative_concept_score: float = 0.0,
) -> list[TextHit]:
    """Products for a text query in one SQL statement: full text, typo-corrected words and pictured concepts, each
    ranked on its own (``depth`` deep, filters inside) and fused by weighted reciprocal rank.

    The concept list ranks products by the best of their pictures' probability mass on the query's concepts
    (``ImageEmbedding.concepts`` of ``model_key`` only: keys never mix), reading only the pictures the GIN index
    on ``concept_ids`` returns. A picture whose mass is under ``min_concept_score`` shows none of them.
    """
    where, params = filters.sql("p")
    filter_sql = " AND ".join(where) or "TRUE"
    ctes: list[tuple[str, str]] = []  # (name, SELECT product_id, rank, weight, source)
    cte_params: list[object] = []
    if tsquery is not None:
        query_sql, query_params = tsquery
        ctes.append((
            "ft",
            f"""SELECT product_id, rank, 1.0 AS weight, 'w' AS source FROM (
                  SELECT p.id AS product_id,
                         row_number() OVER (ORDER BY ts_rank_cd(p.search_vector, q.query) DESC, p.id) AS rank
                  FROM catalog_product p, (SELECT {query_sql} AS query) q
                  WHERE p.search_vector @@ q.query AND {filter_sql}) ranked
                WHERE rank <= %s""",
        ))
        cte_params += [*query_params, *params, depth]
    if trigrams:
        # Typos only: when the words found fewer than ``typo_fallback_below`` products, the name words whose
        # trigrams are mostly in the query's ("running" in "runing shoe": 6 of its 8) are taken as meant and
        # searched instead, ORed (a product with all of them ranks first). The vocabulary is the distinct words of
        # the names (catalog.CatalogueWord), thousands of rows where the products are 100k.
        guard = f"(SELECT count(*) FROM ft) < {int(typo_fallback_below)} AND " if tsquery is not None else ""
        ctes.append((
            "tg",
            f"""SELECT product_id, rank, %s::float AS weight, 'w' AS source FROM (
                  SELECT p.id AS product_id,
                         row_number() OVER (ORDER BY ts_rank_cd(p.search_vector, c.query) DESC, p.id) AS rank
                  FROM catalog_product p, (
                    SELECT to_tsquery('english', string_agg(word, ' | ')) AS query FROM (
                      SELECT word, share, max(share) OVER () AS best FROM (
                        SELECT w.word, s.share FROM catalog_catalogueword w
                        CROSS JOIN LATERAL (
                          SELECT count(*)::float / w.trigram_count AS share
                          FROM unnest(w.trigrams) t WHERE t = ANY(%s::varchar[])
                        ) s
                        WHERE {guard}w.trigrams && %s::varchar[] AND s.share >= %s
                        ORDER BY s.share DESC, w.word LIMIT 8) candidates
                    ) meant
                    -- the best spellings only: "guitr" means guitar (4 of 7), not gum (2 of 4)
                    WHERE share >= best - 0.1
                  ) c
                  WHERE c.query IS NOT NULL AND p.search_vector @@ c.query AND {filter_sql}) ranked
                WHERE rank <= %s""",
        ))
        cte_params += [trigram_weight, trigrams, trigrams, min_trigram_share, *params, depth]
    if concepts:
        from pgvector import SparseVector

        from .models import CONCEPT_COUNT

        ctes.append((
            "cc",
            f"""SELECT product_id, rank, %s::float AS weight, 'c' AS source FROM (
                  SELECT product_id, score, max(score) OVER () AS top,
                         row_number() OVER (ORDER BY score DESC, product_id) AS rank FROM (
                    SELECT e.product_id, max(-(e.concepts <#> %s::sparsevec)) AS score
                    FROM visualsearch_imageembedding e
                    JOIN catalog_productimage i ON i.product_id = e.product_id AND i.id = e.image_id
                    JOIN catalog_product p ON p.id = e.product_id
                    WHERE e.model_key = %s AND e.status = 'ready' AND i.kind = 'catalogue'
                      AND e.concept_ids && %s::smallint[] AND {filter_sql}
                    GROUP BY e.product_id) scored
                  WHERE score >= %s) ranked
                WHERE rank <= %s AND score >= %s * top""",
        ))
        cte_params += [
            concept_weight,
            SparseVector(concepts, CONCEPT_COUNT).to_text(),
            model_key,
            sorted(concepts),
            *params,
            min_concept_score,
            depth,
            relative_concept_score,
        ]
    if not ctes:
        if not (filters.colours or filters.category_ids is not None):
            return []
        # Nothing to rank by but a colour or a category ("red"): every product that passes, newest first.
        ctes.append((
            "fl",
            f"""SELECT product_id, rank, 1.0 AS weight, 'w' AS source FROM (
                  SELECT p.id AS product_id, row_number() OVER (ORDER BY p.created_at DESC, p.id DESC) AS rank
                  FROM catalog_product p WHERE {filter_sql}) ranked
                WHERE rank <= %s""",
        ))
        cte_params += [*params, depth]
    query = f"""
        WITH {", ".join(f"{name} AS ({body})" for name, body in ctes)}
        SELECT product_id, sum(weight / ({RRF_K} + rank)) AS score,
               bool_or(source = 'w') AS by_words, bool_or(source = 'c') AS by_pictures
        FROM ({" UNION ALL ".join(f"SELECT * FROM {name}" for name, _ in ctes)}) fused
        GROUP BY product_id
        ORDER BY score DESC, product_id
        LIMIT %s
    """
    rows = _read_rows(query, [*cte_params, int(limit)])
    return [TextHit(product_id=r[0], score=float(r[1]), by_words=bool(r[2]), by_pictures=bool(r[3])) for r in rows]
