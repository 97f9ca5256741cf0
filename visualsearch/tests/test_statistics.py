"""Running means per model key, and search in the centred space."""

import numpy as np
import pytest

from conftest import demo_asset_bytes
from visualsearch import statistics
from visualsearch.models import ImageEmbedding, VectorStatistics
from visualsearch.selectors import photo_embed, products_near_photo, products_near_vector

from .fixtures import query_copy

pytestmark = pytest.mark.django_db
KEY = "effnet-lite1-avg-240"


def _unit(seed: int, dim: int = 1280) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


def test_queries_are_written_in_batches_as_one_running_mean_per_key(settings):
    settings.VISUALSEARCH_QUERY_STATS_FLUSH_EVERY = 3
    settings.VISUALSEARCH_QUERY_STATS_FLUSH_SECONDS = 3600
    vectors = [_unit(n) for n in range(3)]

    statistics.query_vector_observe(model_key=KEY, vector=vectors[0])
    statistics.query_vector_observe(model_key=KEY, vector=vectors[1])
    assert VectorStatistics.objects.count() == 0  # nothing written on the first searches
    statistics.query_vector_observe(model_key=KEY, vector=vectors[2])

    row = VectorStatistics.objects.get()
    assert (row.model_key, row.kind, row.count) == (KEY, "query", 3)
    np.testing.assert_allclose(np.asarray(row.mean), np.mean(vectors, axis=0), atol=1e-6)
    # an aggregate and nothing else: no photo, no shopper, no single query vector
    assert sorted(f.name for f in VectorStatistics._meta.fields) == ["count", "id", "kind", "mean", "model_key", "updated_at"]


def test_the_running_mean_weighs_only_the_recent_window(settings):
    settings.VISUALSEARCH_QUERY_STATS_WINDOW = 4
    old, new = _unit(1), _unit(2)
    for _ in range(8):
        statistics.query_vector_observe(model_key=KEY, vector=old)
    statistics.query_statistics_flush()
    for _ in range(4):
        statistics.query_vector_observe(model_key=KEY, vector=new)
    statistics.query_statistics_flush()

    row = VectorStatistics.objects.get(kind="query")
    assert row.count == 8  # the window of 4, plus the 4 new
    np.testing.assert_allclose(np.asarray(row.mean), (old + new) / 2, atol=1e-6)


def test_statistics_are_kept_per_key_and_used_only_for_it(catalogue, settings):
    settings.VISUALSEARCH_CENTRING_MIN_QUERIES = 2
    for seed in range(3):
        statistics.query_vector_observe(model_key="effnet-lite0-avg-224", vector=_unit(seed))
    statistics.query_statistics_flush()

    centring = statistics.centring_for(KEY)

    # the shop's key has no query history of its own: its queries are centred on its catalogue's mean
    catalogue_vectors = np.asarray(
        [np.asarray(v, dtype=np.float32) for v in ImageEmbedding.objects.filter(model_key=KEY).values_list("vector", flat=True)]
    )
    np.testing.assert_allclose(centring.catalogue_mean, catalogue_vectors.mean(axis=0), atol=2e-3)
    assert centring.queries_seen == 0 and np.array_equal(centring.query_mean, centring.catalogue_mean)
    other = VectorStatistics.objects.get(model_key="effnet-lite0-avg-224")
    assert (other.kind, other.count) == ("query", 3)
    assert statistics.centring_for("effnet-lite0-avg-224") is None  # no catalogue vectors of that key: no centring


def test_centred_search_ranks_by_the_exact_centred_cosine(catalogue, settings):
    settings.VISUALSEARCH_CENTRING_MIN_QUERIES = 1
    key, vector = photo_embed(query_copy(demo_asset_bytes("1f3b8.webp")))
    statistics.query_vector_observe(model_key=key, vector=_unit(7) * 0.1 + vector * 0.0)
    statistics.query_statistics_flush()
    centring = statistics.centring_for(key)

    matches = products_near_photo(vector=vector, model_key=key, limit=8)

    assert matches[0].product == catalogue["Guitar"]
    stored = {
        image_id: np.asarray(v, dtype=np.float32)
        for image_id, v in ImageEmbedding.objects.filter(model_key=key).values_list("image_id", "vector")
    }
    q = vector - centring.query_mean
    expected = {
        image_id: float(q @ (g - centring.catalogue_mean) / np.linalg.norm(q) / np.linalg.norm(g - centring.catalogue_mean))
        for image_id, g in stored.items()
    }
    assert [m.similarity for m in matches] == sorted((m.similarity for m in matches), reverse=True)
    for match in matches:
        assert match.similarity == pytest.approx(expected[match.image.id], abs=2e-3)
    # the plain search returns the same products, ranked by the plain cosine
    plain = products_near_vector(vector=vector, model_key=key, limit=8)
    assert {m.product.id for m in plain} == {m.product.id for m in matches}
    assert plain[0].similarity == pytest.approx(float(vector @ stored[plain[0].image.id]), abs=2e-3)
