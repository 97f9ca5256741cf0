"""Learning from clicks: pairs from the log, the retrain's guard, switching and switching back."""

import io

import numpy as np
import pytest
from PIL import Image

from catalog.tests.factories import ProductFactory
from recommendations.learning import (
    ClickPairs,
    click_pairs_load,
    clicks_retrain,
    pairs_agreeing,
    retrain_switch_back,
    searches_holdout,
)
from recommendations.models import ActionKind, Retrain
from recommendations.services import ShownList, action_record, shown_record
from visualsearch.models import EmbeddingStatus, ImageEmbedding, ModelVersion
from visualsearch.selectors import active_model_key
from visualsearch.services import product_image_add
from visualsearch.training import AdapterSettings
from visualsearch.versions import VersionError

KEY = "effnet-lite1-avg-240"
DIM = 1280
QUICK = AdapterSettings(epochs=4, min_steps=60, batch_size=64)


def _png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (seed * 40 % 256, 90, 160)).save(out, "PNG")
    return out.getvalue()


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def shifted_shop(db):
    """Six products whose catalogue vectors are known; a shopper's photo of one product looks more like the next
    product's catalogue picture than like its own (the plain key gets them all wrong)."""
    rng = np.random.default_rng(0)
    centres = _unit(rng.normal(size=(6, DIM)))
    products = []
    for n, centre in enumerate(centres):
        product = ProductFactory(name=f"Thing {n}")
        image, _ = product_image_add(product=product, data=_png(n), enqueue=False)
        ImageEmbedding.objects.filter(image=image, model_key=KEY).update(status=EmbeddingStatus.READY,
                                                                        vector=centre.tolist())
        products.append(product)

    def photo(n: int) -> np.ndarray:
        return _unit(centres[n] * 0.3 + centres[(n + 1) % 6] * 0.5 + rng.normal(size=DIM) * 0.01)

    return products, photo


def _search_and_click(products, vector, clicked, visitor, kind=ActionKind.OPEN):
    shown = shown_record(visitor=visitor, shown=ShownList(
        kind="photo", product_ids=[p.id for p in products], model_key=KEY, query_vector=vector, vector_key=KEY))
    action_record(visitor=visitor, shown_id=shown.id, product_id=clicked.id, kind=kind)
    return shown


def test_click_pairs_keep_the_strongest_action_and_only_photo_searches_with_a_vector(shifted_shop):
    products, photo = shifted_shop
    first = _search_and_click(products, photo(0), products[0], "a")
    action_record(visitor="a", shown_id=first.id, product_id=products[0].id, kind=ActionKind.BUY)
    _search_and_click(products, photo(1), products[2], "b")
    text = shown_record(visitor="c", shown=ShownList(kind="text", product_ids=[products[3].id]))
    action_record(visitor="c", shown_id=text.id, product_id=products[3].id, kind=ActionKind.OPEN)

    pairs = click_pairs_load(base_key=KEY)

    assert pairs.products.tolist() == [products[0].id, products[2].id]
    assert pairs.weights.tolist() == [3.0, 1.0]
    assert pairs.vectors.shape == (2, DIM)
    assert np.allclose(pairs.vectors[0], photo_vector := pairs.vectors[0]) and abs(np.linalg.norm(photo_vector) - 1) < 1e-2


def test_a_retrain_on_clicks_that_carry_a_signal_switches_search_and_can_be_switched_back(shifted_shop):
    products, photo = shifted_shop
    for k in range(60):  # right clicks, with one in four on a wrong product
        n = k % 6
        clicked = products[(n + 2) % 6] if k % 4 == 3 else products[n]
        _search_and_click(products, photo(n), clicked, f"v{k}")

    run = clicks_retrain(force=True, adapter_settings=QUICK, min_pairs=20, margin=0.05)

    assert run.status == "switched", run.message
    assert run.pairs == 60
    assert (run.figures["pairs_training"], run.figures["pairs_held_out"]) == (48, 12)
    assert run.figures["candidate"]["held_out_recall_at_1"] >= run.figures["active"]["held_out_recall_at_1"] + 0.05
    assert active_model_key() == run.version_key and run.previous_key == KEY
    assert ImageEmbedding.objects.filter(model_key=run.version_key, status="ready").count() == 6
    # staff switch back
    retrain_switch_back(retrain_id=run.id)
    assert active_model_key() == KEY


def test_a_version_that_is_not_better_is_not_switched_to(shifted_shop):
    products, photo = shifted_shop
    rng = np.random.default_rng(5)
    for k in range(60):  # clicks that say nothing: a random product whatever the photo
        _search_and_click(products, photo(k % 6), products[int(rng.integers(6))], f"v{k}")
    versions_before = ModelVersion.objects.count()

    run = clicks_retrain(force=True, adapter_settings=QUICK, min_pairs=20, margin=0.05)

    assert run.status == "kept", run.message
    assert "needs +0.050" in run.message
    assert active_model_key() == KEY
    assert ModelVersion.objects.count() == versions_before  # nothing registered
    assert not ImageEmbedding.objects.exclude(model_key=KEY).exists()
    with pytest.raises(VersionError):
        retrain_switch_back(retrain_id=run.id)


def test_too_few_clicks_or_learning_switched_off_changes_nothing(shifted_shop, settings):
    products, photo = shifted_shop
    _search_and_click(products, photo(0), products[0], "a")

    off = clicks_retrain()  # the schedule's call, with RECOMMENDATIONS_RETRAIN at its default (off)
    few = clicks_retrain(force=True, min_pairs=20)

    assert (off.status, off.message) == ("skipped", "learning from clicks is off (RECOMMENDATIONS_RETRAIN)")
    assert (few.status, few.message, few.pairs) == ("skipped", "1 click pairs; a retrain needs 20", 1)
    assert Retrain.objects.count() == 1  # the switched-off schedule leaves no row
    assert active_model_key() == KEY
    assert not ImageEmbedding.objects.exclude(model_key=KEY).exists()


def test_a_stray_click_that_its_neighbours_disagree_with_is_dropped():
    # given two groups of similar searches; in each, shoppers clicked the group's product, except one stray click
    rng = np.random.default_rng(3)
    a, b = _unit(rng.normal(size=(2, 16)))
    vectors = _unit(np.stack([a] * 6 + [b] * 6) + rng.normal(size=(12, 16)) * 0.05)
    products = np.asarray([1, 1, 1, 2, 1, 1, 2, 2, 2, 2, 2, 2])  # the fourth search of group a opened product 2
    pairs = ClickPairs(vectors=vectors, products=products, weights=np.ones(12, np.float32), shown_ids=np.arange(12))
    # when the pairs are checked against their neighbours
    keep = pairs_agreeing(pairs)
    # then only the stray click goes
    assert keep.tolist() == [True, True, True, False] + [True] * 8
    # and even bought (three times an open's weight) it stays a stray against five agreeing neighbours
    bought = ClickPairs(vectors=vectors, products=products, weights=np.where(np.arange(12) == 3, 3.0, 1.0),
                        shown_ids=np.arange(12))
    assert pairs_agreeing(bought).tolist()[3] is False


def test_the_guard_does_not_count_the_clicks_the_active_ranking_invited_as_its_hits(shifted_shop):
    # given shoppers who, one time in four, open the first result the plain key shows (the next product's
    # picture: the fixture's photos look like it) instead of the product they photographed
    products, photo = shifted_shop
    truth = {}
    for k in range(90):
        n = k % 6
        clicked = products[(n + 1) % 6] if (k // 6) % 4 == 3 else products[n]  # every product's 4th, 8th, 12th
        truth[_search_and_click(products, photo(n), clicked, f"v{k}").id] = products[n].id
    pairs = click_pairs_load(base_key=KEY)
    held = searches_holdout(pairs.shown_ids)
    right = np.asarray([truth[s] == p for s, p in zip(pairs.shown_ids, pairs.products)])
    assert (int(held.sum()), int((held & ~right).sum())) == (18, 5)  # on raw clicks the plain key would score 5/18

    run = clicks_retrain(force=True, adapter_settings=QUICK, min_pairs=20)

    # then both versions are judged on the held-out clicks that agree with their neighbours: here exactly the
    # right ones, so the plain key, which ranks the next product first for every photo, scores none
    assert run.figures["pairs_held_out"] == 18
    assert run.figures["pairs_judged"] == int((held & right).sum()) == 13
    assert run.figures["active"]["held_out_recall_at_1"] == 0.0


def test_after_a_switch_the_versions_are_judged_only_on_searches_made_since(shifted_shop):
    # given a first retrain that switched search to an adapter learnt from every pair, held-out ones included
    products, photo = shifted_shop
    for k in range(60):  # as in the switch test above
        n = k % 6
        _search_and_click(products, photo(n), products[(n + 2) % 6] if k % 4 == 3 else products[n], f"a{k}")
    first = clicks_retrain(force=True, adapter_settings=QUICK, min_pairs=20, margin=0.05)
    assert first.status == "switched", first.message
    # when a retrain comes before any new search, there is nothing fair to judge by
    idle = clicks_retrain(force=True, adapter_settings=QUICK, min_pairs=20, margin=0.05)
    assert (idle.status, idle.message) == (
        "skipped", "no held-out search since the active version was trained agrees with its neighbours")
    assert active_model_key() == first.version_key
    # and after 30 more searches, only the held-out agreeing pairs among them are judged
    later = [_search_and_click(products, photo(k % 6), products[k % 6], f"b{k}").id for k in range(30)]
    run = clicks_retrain(force=True, adapter_settings=QUICK, min_pairs=20, margin=0.05)
    pairs = click_pairs_load(base_key=KEY)
    held_agreeing = searches_holdout(pairs.shown_ids) & pairs_agreeing(pairs)
    since = held_agreeing & np.isin(pairs.shown_ids, later)
    assert run.figures["pairs_judged"] == int(since.sum())
    assert 0 < int(since.sum()) < int(held_agreeing.sum())  # the earlier held-out pairs were left out
