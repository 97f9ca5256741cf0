"""Recognised regions ("shop the look" in a room): where each of the photo's likeliest concepts fires, as boxes
with the feature map pooled over them; added to the salient objects, never leading the first search."""

import io

import numpy as np
import pytest
from PIL import Image

from visualsearch.embedding import embedder_for
from visualsearch.embedding.regions import regions_from_map, recognised_regions
from visualsearch.selectors import photo_query, products_near_photo

from .fixtures import two_things_photo


def _map() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 3-channel 10 x 10 feature map: channel 0 fires on rows 1-3 x columns 1-3, channel 1 on rows 6-8 x
    columns 5-8; concept 0 reads channel 0, concept 1 channel 1, concept 2 channel 0 again (a second name for the
    same thing), concept 3 channel 2 (which never fires) with a bias that makes it far less likely."""
    features = np.zeros((3, 10, 10), np.float32)
    features[0, 1:4, 1:4] = 5.0
    features[1, 6:9, 5:9] = 4.0
    weights = np.asarray([[1, 0, 0], [0, 1, 0], [0.9, 0, 0], [0, 0, 1]], np.float32) * 10
    bias = np.asarray([0, 0, 0, -8], np.float32)
    return features, weights, bias


def test_each_concept_gets_the_box_where_it_fires_and_the_vector_pooled_over_it():
    features, weights, bias = _map()

    regions = regions_from_map(features, weights=weights, bias=bias, concepts=4, threshold=0.7)

    assert [r.concept for r in regions] == [1, 0]  # likeliest first; concept 2 is concept 0's box again
    by_concept = {r.concept: r for r in regions}
    corners = {c: (r.box.x0, r.box.y0, r.box.x1, r.box.y1) for c, r in by_concept.items()}
    assert corners == {0: (0.1, 0.1, 0.4, 0.4), 1: (0.5, 0.6, 0.9, 0.9)}
    np.testing.assert_allclose(by_concept[0].vector, [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(by_concept[1].vector, [0, 1, 0], atol=1e-6)
    logits = weights @ features.mean(axis=(1, 2)) + bias
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert by_concept[1].box.score == pytest.approx(round(float(probabilities[1]), 4))


def test_a_concept_far_less_likely_than_the_likeliest_gets_no_region_and_the_limit_holds():
    features, weights, bias = _map()
    features[2, 0:2, 8:10] = 1.0  # concept 3 now fires somewhere, but stays under 5 % of the likeliest

    regions = regions_from_map(features, weights=weights, bias=bias, concepts=4, threshold=0.7)
    assert 3 not in [r.concept for r in regions]
    assert [r.concept for r in regions_from_map(features, weights=weights, bias=bias, concepts=4, limit=1)] == [1]


def test_a_region_filling_the_photo_or_a_speck_is_no_region():
    features = np.ones((1, 10, 10), np.float32)  # fires everywhere: the whole photo, searched already
    assert regions_from_map(features, weights=np.ones((1, 1), np.float32), bias=np.zeros(1, np.float32)) == []
    speck = np.zeros((1, 10, 10), np.float32)
    speck[0, 4, 4] = 1.0  # one cell of 100: 1 % of the photo
    assert regions_from_map(speck, weights=np.ones((1, 1), np.float32), bias=np.zeros(1, np.float32)) == []


def _thing_under(box, things: dict) -> str | None:
    """The thing whose true box holds the region's centre (the map's cells are 32 px: edges are coarse)."""
    x, y = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    return next((name for name, t in things.items() if t[0] <= x <= t[2] and t[1] <= y <= t[3]), None)


def test_the_real_network_finds_regions_on_the_two_things_and_nowhere_else():
    photo, guitar_box, teapot_box = two_things_photo()
    picture = Image.open(io.BytesIO(photo)).convert("RGB")

    regions = recognised_regions(embedder_for("effnet-lite1-avg-240"), picture)

    things = [_thing_under(r.box, {"guitar": guitar_box, "teapot": teapot_box}) for r in regions]
    assert sorted(things) == ["guitar", "teapot"]  # one region on each thing, none on the bare table
    assert all(np.isclose(np.linalg.norm(r.vector), 1.0, atol=1e-5) for r in regions)


@pytest.mark.django_db
def test_with_nothing_salient_the_regions_are_the_objects_and_the_whole_photo_leads(settings, catalogue, monkeypatch):
    import visualsearch.selectors as selectors

    photo, guitar_box, teapot_box = two_things_photo()
    monkeypatch.setattr(selectors, "_objects_in", lambda picture: ([], None))  # U²-Net sees nothing here

    query = photo_query(photo)
    settings.VISUALSEARCH_REGIONS_SIDE = 0
    without = photo_query(photo)

    assert query.objects and all(o.concept is not None for o in query.objects)
    assert query.box is None and without.objects == ()
    np.testing.assert_array_equal(query.vector, without.vector)  # a region never leads: the whole photo does
    found = {products_near_photo(vector=o.vector, model_key=query.model_key, limit=1)[0].product.name
             for o in query.objects}
    assert found == {"Guitar", "Teapot"}


@pytest.mark.django_db
def test_regions_the_salient_objects_already_hold_are_not_repeated(catalogue):
    photo, _, _ = two_things_photo()

    query = photo_query(photo)  # U²-Net finds both things; their regions are those objects again

    assert [o.concept for o in query.objects] == [None, None]


def test_a_region_is_dropped_only_when_it_repeats_a_salient_object(settings):
    from visualsearch.embedding.objects import ObjectBox
    from visualsearch.embedding.regions import RecognisedRegion
    from visualsearch.selectors import _regions_beyond

    def region(concept, x0, y0, x1, y1):
        return RecognisedRegion(box=ObjectBox(x0, y0, x1, y1, 0.01), concept=concept, vector=np.ones(2) / np.sqrt(2))

    candidates = [
        region(1, 0.05, 0.05, 0.45, 0.45),  # the salient sofa's own box again (IoU 0.64)
        region(2, 0.10, 0.10, 0.20, 0.20),  # inside the sofa's box, under its mask
        region(3, 0.30, 0.30, 0.40, 0.40),  # inside the sofa's box, off the mask, one of the sofa's concepts
        region(3, 0.40, 0.30, 0.56, 0.40),  # the same concept spilling over the box's edge, 62 % inside
        region(6, 0.40, 0.30, 0.56, 0.40),  # ... and another concept there: a lamp behind the sofa
        region(4, 0.30, 0.05, 0.40, 0.15),  # inside the sofa's box, off the mask, another concept: a lamp
        region(5, 0.60, 0.60, 0.90, 0.90),  # elsewhere in the room
    ]
    sofa = ObjectBox(0.0, 0.0, 0.5, 0.5, 1.0)
    mask = np.zeros((100, 100), np.float32)
    mask[0:25, 0:25] = 1.0  # U²-Net's mask covers the top-left quarter of the sofa's box
    settings.VISUALSEARCH_OBJECTS_MAX = 5

    kept = _regions_beyond(candidates, salient=[(sofa, {3: 0.5, 9: 0.2})], mask=mask)

    assert [r.concept for r in kept] == [6, 4, 5]
    settings.VISUALSEARCH_OBJECTS_MAX = 2  # the sofa and one region
    assert [r.concept for r in _regions_beyond(candidates, salient=[(sofa, {3: 0.5})], mask=mask)] == [6]
    assert [r.concept for r in _regions_beyond(candidates, salient=[], mask=None)] == [1, 2]  # nothing to repeat


def test_a_salient_box_is_pooled_from_the_map_over_the_cells_it_touches():
    from visualsearch.embedding.objects import ObjectBox
    from visualsearch.embedding.regions import PhotoMap

    features, weights, bias = _map()
    found = PhotoMap(features=features, weights=weights, bias=bias)

    np.testing.assert_allclose(found.pooled(ObjectBox(0.12, 0.12, 0.38, 0.38, 1.0)), [1, 0, 0], atol=1e-6)
    half = found.pooled(ObjectBox(0.05, 0.05, 0.35, 0.35, 1.0))  # cells 0-3 of channel 0: 9 of 16 fire
    np.testing.assert_allclose(half, [1, 0, 0], atol=1e-6)
    logits = np.asarray([0, 40, 0, -8], np.float64)  # what the head reads in that box: channel 1 at 4, x 10
    (concept, probability), = found.concepts(ObjectBox(0.5, 0.6, 0.9, 0.9, 1.0), count=1).items()
    assert (concept, probability) == (1, pytest.approx(np.exp(40) / np.exp(logits).sum()))
    assert found.pooled(ObjectBox(0.95, 0.95, 1.0, 1.0, 1.0)).shape == (3,)  # a sliver still has one cell
