"""The short-lived memory of a photo search's vectors: what the page needs to re-search without an upload."""

import numpy as np
import pytest
from django.core.cache import cache

from visualsearch.querycache import query_vector_recall, query_vector_remember


@pytest.fixture(autouse=True)
def _local_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


def test_objects_come_back_with_their_box_vector_and_concept():
    vector = np.asarray([0.6, 0.8], np.float32)
    query_id = query_vector_remember(
        model_key="k", vector=vector,
        objects=[(0.1, 0.2, 0.3, 0.4, vector), (0.5, 0.5, 0.25, 0.25, vector[::-1], 846)],
    )

    recalled = query_vector_recall(query_id)

    assert [(o.box, o.concept) for o in recalled.objects] == [((0.1, 0.2, 0.3, 0.4), None), ((0.5, 0.5, 0.25, 0.25), 846)]
    np.testing.assert_allclose(recalled.objects[1].vector, [0.8, 0.6], atol=1e-3)


def test_an_entry_written_before_objects_had_a_concept_still_reads():
    vector = np.asarray([1.0, 0.0], np.float16).tobytes()
    cache.set("photoq:old", ("k", vector, [((0.1, 0.2, 0.3, 0.4), vector)], "", b""), 60)

    recalled = query_vector_recall("old")

    assert [(o.box, o.concept) for o in recalled.objects] == [((0.1, 0.2, 0.3, 0.4), None)]
