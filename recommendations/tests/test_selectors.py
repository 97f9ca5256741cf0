"""Similar items: the per-product ranking cache (RECOMMENDATIONS_SIMILAR_CACHE_SECONDS)."""

from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.tests.factories import ProductFactory
from recommendations.selectors import similar_items
from visualsearch.selectors import active_model_key


def _vector_queries(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "<=>" in q["sql"]]


def test_a_second_call_serves_the_same_ranking_without_a_vector_query(catalogue):
    # given a product whose similar items were asked once
    first = similar_items(product=catalogue["Red Apple"])
    # when they are asked again
    with CaptureQueriesContext(connection) as queries:
        second = similar_items(product=catalogue["Red Apple"])
    # then the same products come back in the same order, with no k-NN query
    assert [(m.product.name, m.image.id, m.similarity, m.close) for m in second] == [
        (m.product.name, m.image.id, m.similarity, m.close) for m in first
    ]
    assert second[0].product.name == "Green Apple"
    assert len(second) == 7
    assert _vector_queries(queries) == []


def test_a_product_unpublished_after_caching_drops_out_at_once(catalogue):
    # given a cached ranking that holds Green Apple
    assert similar_items(product=catalogue["Red Apple"])[0].product.name == "Green Apple"
    # when Green Apple is unpublished
    catalogue["Green Apple"].is_published = False
    catalogue["Green Apple"].save()
    # then the cached ranking no longer shows it
    names = [m.product.name for m in similar_items(product=catalogue["Red Apple"])]
    assert "Green Apple" not in names
    assert len(names) == 6


def test_a_cached_ranking_shows_the_current_price(catalogue):
    # given a cached ranking
    similar_items(product=catalogue["Red Apple"])
    # when the first similar product's price changes
    catalogue["Green Apple"].price = Decimal("2.50")
    catalogue["Green Apple"].save()
    # then the next answer shows the new price
    assert similar_items(product=catalogue["Red Apple"])[0].product.price == Decimal("2.50")


def test_an_empty_answer_is_not_cached(catalogue):
    # given a product with no vector yet
    product = ProductFactory()
    # when its similar items are asked
    assert similar_items(product=product) == []
    # then nothing was cached, so the list appears once the product is embedded
    assert cache.get(f"similar:{active_model_key()}:{product.id}:8") is None


def test_with_the_cache_off_every_call_runs_the_vector_query(catalogue, settings):
    # given the cache turned off
    settings.RECOMMENDATIONS_SIMILAR_CACHE_SECONDS = 0
    similar_items(product=catalogue["Red Apple"])
    # when the similar items are asked again
    with CaptureQueriesContext(connection) as queries:
        similar = similar_items(product=catalogue["Red Apple"])
    # then the k-NN query ran again and nothing was cached
    assert len(_vector_queries(queries)) == 1
    assert similar[0].product.name == "Green Apple"
    assert cache.get(f"similar:{active_model_key()}:{catalogue['Red Apple'].id}:8") is None


# --- "similar, in another colour": cached the same way ------------------------------------------------------------


def test_other_colours_asked_again_are_served_by_one_query_with_the_same_ranking(catalogue):
    from recommendations.selectors import similar_in_other_colours

    # given a product whose other-colour matches were asked once (its first picture is red)
    first = similar_in_other_colours(product=catalogue["Red Apple"], limit=3)
    # when they are asked again
    with CaptureQueriesContext(connection) as queries:
        second = similar_in_other_colours(product=catalogue["Red Apple"], limit=3)
    # then the same products come back in the same order, from one query for the products and pictures
    assert [(m.product.name, m.image.id, m.similarity, m.close) for m in second] == [
        (m.product.name, m.image.id, m.similarity, m.close) for m in first
    ]
    assert second[0].product.name == "Green Apple" and len(second) == 3
    assert all("red" not in m.image.colour_keys for m in second)
    assert len(queries.captured_queries) == 1 and _vector_queries(queries) == []


def test_other_colours_with_the_cache_off_run_the_vector_query_every_time(catalogue, settings):
    from recommendations.selectors import similar_in_other_colours

    settings.RECOMMENDATIONS_SIMILAR_CACHE_SECONDS = 0
    similar_in_other_colours(product=catalogue["Red Apple"], limit=3)
    with CaptureQueriesContext(connection) as queries:
        others = similar_in_other_colours(product=catalogue["Red Apple"], limit=3)
    assert len(_vector_queries(queries)) == 1
    assert others[0].product.name == "Green Apple"
    assert cache.get(f"similar-colours:{active_model_key()}:{catalogue['Red Apple'].id}:3") is None
