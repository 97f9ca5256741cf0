"""The object step of search by photo: separate objects found, the main one leads, a shopper's crop wins."""

import numpy as np
import pytest
from conftest import demo_asset_bytes
from visualsearch.selectors import CropBox, photo_query, products_near_photo

from .fixtures import two_things_photo as _two_things

pytestmark = pytest.mark.django_db


def _iou(box: CropBox, truth: tuple) -> float:
    x0, y0, x1, y1 = box.x, box.y, box.x + box.width, box.y + box.height
    ix = max(0.0, min(x1, truth[2]) - max(x0, truth[0]))
    iy = max(0.0, min(y1, truth[3]) - max(y0, truth[1]))
    inter = ix * iy
    return inter / ((x1 - x0) * (y1 - y0) + (truth[2] - truth[0]) * (truth[3] - truth[1]) - inter)


def test_a_photo_of_two_things_gives_two_objects_and_each_finds_its_product(catalogue):
    photo, guitar_box, teapot_box = _two_things()

    query = photo_query(photo)

    assert len(query.objects) == 2
    by_left = sorted(query.objects, key=lambda o: o.box.x)
    assert _iou(by_left[0].box, guitar_box) >= 0.5 and _iou(by_left[1].box, teapot_box) >= 0.5
    assert sum(o.score for o in query.objects) == pytest.approx(1.0, abs=1e-3)
    assert query.box == query.objects[0].box  # the most prominent object leads
    found = [products_near_photo(vector=o.vector, model_key=query.model_key, limit=1)[0].product for o in by_left]
    assert found == [catalogue["Guitar"], catalogue["Teapot"]]


def test_a_packshot_is_one_object_and_the_whole_photo_leads(catalogue):
    query = photo_query(demo_asset_bytes("1f3b8.webp"))

    assert len(query.objects) == 1
    products = products_near_photo(vector=query.vector, model_key=query.model_key, limit=1)
    assert products[0].product == catalogue["Guitar"]


def test_a_crop_the_shopper_drew_wins_over_the_objects(catalogue):
    photo, _, teapot_box = _two_things()
    crop = CropBox(x=teapot_box[0], y=teapot_box[1], width=teapot_box[2] - teapot_box[0], height=teapot_box[3] - teapot_box[1])

    query = photo_query(photo, crop=crop)

    assert (query.box, query.objects) == (crop, ())
    assert products_near_photo(vector=query.vector, model_key=query.model_key, limit=1)[0].product == catalogue["Teapot"]


def test_the_object_step_can_be_turned_off(settings, catalogue):
    settings.VISUALSEARCH_OBJECTS = False
    photo, _, _ = _two_things()

    query = photo_query(photo)

    assert (query.box, query.objects) == (None, ())
    assert np.isclose(np.linalg.norm(query.vector), 1.0, atol=1e-4)


@pytest.mark.parametrize("objects,crop,short_side,decoded", [
    (False, None, 480, (800, 500)),                         # the network alone: 1/2 scale keeps twice its 240 px
    (True, None, None, (640, 400)),                         # the object step crops from the 640 px photo
    (False, CropBox(0.1, 0.1, 0.5, 0.5), None, (640, 400)),  # so does a box the shopper drew
])
def test_a_query_photo_is_decoded_only_as_far_as_its_search_needs(
    settings, catalogue, monkeypatch, objects, crop, short_side, decoded
):
    from visualsearch import selectors

    settings.VISUALSEARCH_OBJECTS = objects
    opened = []
    real = selectors.query_photo_open

    def recording(data, **options):
        picture = real(data, **options)
        opened.append((options["short_side"], picture.size))
        return picture

    monkeypatch.setattr(selectors, "query_photo_open", recording)
    photo, _, _ = _two_things(size=(1600, 1000))

    query = photo_query(photo, crop=crop)

    assert opened == [(short_side, decoded)]
    assert np.isclose(np.linalg.norm(query.vector), 1.0, atol=1e-4)
