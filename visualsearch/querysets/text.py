"""Products ranked by words: full text in both languages, typo-tolerant words, the pictures' concepts, fused by
reciprocal rank; and the filters every product search shares."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .reads import _read_rows


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

        from ..models import CONCEPT_COUNT

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
