"""The home of vector and search SQL (with selectors.py): ``vectors`` (HNSW index DDL, the embedding rows'
writes, the k-NN query), ``text`` (products ranked by words and by their pictures' concepts) and ``reads`` (how
a read reaches the router's database, its SET LOCALs with it)."""

from .reads import CITUS_SETTINGS, _is_citus, _read_rows, _rows_on
from .text import RRF_K, ProductFilters, TextHit, products_text_ranked, tsquery_sql, words_tsquery
from .vectors import (
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    PICTURE_LATERAL,
    ImageHit,
    _index_name,
    catalogue_vector_mean,
    embeddings_pending_create,
    embeddings_store_ready,
    hnsw_index_sql,
    images_scored,
    knn_images,
    knn_plan,
    vector_literal,
)

__all__ = [
    "CITUS_SETTINGS", "HNSW_EF_CONSTRUCTION", "HNSW_M", "PICTURE_LATERAL", "RRF_K", "ImageHit", "ProductFilters",
    "TextHit", "_index_name", "_is_citus", "_read_rows", "_rows_on", "catalogue_vector_mean",
    "embeddings_pending_create", "embeddings_store_ready", "hnsw_index_sql", "images_scored", "knn_images",
    "knn_plan", "products_text_ranked", "tsquery_sql", "vector_literal", "words_tsquery",
]
