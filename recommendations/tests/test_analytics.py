"""What staff see of the interaction log: figures from Shown/Action rows written at known dates."""

from datetime import date, datetime, timedelta, timezone as dt_timezone

import numpy as np
import pytest

from catalog.tests.factories import CategoryFactory, ProductFactory
from recommendations.analytics import (
    analytics_period,
    analytics_read,
    categories_found,
    figures_by_kind,
    figures_by_rank,
    products_found,
    searches_per_day,
)
from recommendations.clustering import cluster_count, kmeans
from recommendations.demand import unmet_demand
from recommendations.models import ActionKind, ShownKind
from recommendations.tests.factories import ActionFactory, ShownFactory
from visualsearch.embedding import spec_for
from visualsearch.models import ImageEmbedding

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=dt_timezone.utc)
KEY = "effnet-lite1-avg-240"  # the test settings' VISUALSEARCH_MODEL, a plain key
DIMENSION = spec_for(KEY).dimension


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=dt_timezone.utc)


@pytest.fixture
def log():
    """Photo, text and similar-items lists of the last days of November, with opens, carts and a purchase, and one
    photo search from October (outside a 30-day period)."""
    shoes, kitchen = CategoryFactory(name="Shoes"), CategoryFactory(name="Kitchen")
    a, b = ProductFactory(name="A", category=shoes), ProductFactory(name="B", category=shoes)
    others = [ProductFactory(name=f"K{n}", category=kitchen) for n in range(12)]
    c = others[0]
    ids = [p.id for p in others]
    p1 = ShownFactory(kind=ShownKind.PHOTO, product_ids=[a.id, b.id, c.id, ids[1]], close_match=True, created_at=_at(30))
    p2 = ShownFactory(kind=ShownKind.PHOTO, product_ids=[b.id, a.id], close_match=True, created_at=_at(29))
    ShownFactory(kind=ShownKind.PHOTO, product_ids=[c.id], close_match=False, created_at=_at(28))
    old = ShownFactory(kind=ShownKind.PHOTO, product_ids=[a.id], close_match=True,
                       created_at=datetime(2026, 10, 15, 10, tzinfo=dt_timezone.utc))
    t1 = ShownFactory(kind=ShownKind.TEXT, product_ids=[a.id, *ids[1:]], close_match=True, filters={"page": "1"},
                      query_text="shoe", created_at=_at(30, 9))
    ShownFactory(kind=ShownKind.TEXT, product_ids=ids[9:12], close_match=True, filters={"page": "2"},
                 query_text="shoe", created_at=_at(30, 9))
    s1 = ShownFactory(kind=ShownKind.SIMILAR, product_ids=[b.id, c.id], close_match=True, source_product=a,
                      created_at=_at(29))
    ActionFactory(shown=p1, rank=1, kind=ActionKind.OPEN)
    ActionFactory(shown=p1, rank=1, kind=ActionKind.CART)
    ActionFactory(shown=p1, rank=1, kind=ActionKind.BUY)
    ActionFactory(shown=p2, rank=2, kind=ActionKind.OPEN)
    ActionFactory(shown=t1, rank=1, kind=ActionKind.OPEN)
    ActionFactory(shown=t1, rank=12, kind=ActionKind.OPEN)
    ActionFactory(shown=s1, rank=2, kind=ActionKind.OPEN)
    ActionFactory(shown=old, rank=1, kind=ActionKind.OPEN)
    ActionFactory(shown=old, rank=1, kind=ActionKind.BUY)
    return {"a": a, "b": b, "c": c, "others": others, "shoes": shoes, "kitchen": kitchen}


def test_the_period_is_the_last_days_today_included():
    period = analytics_period(days=7, now=NOW)
    assert (period.first_day, period.last_day) == (date(2026, 11, 24), date(2026, 11, 30))
    assert (period.start, period.end) == (datetime(2026, 11, 24, tzinfo=dt_timezone.utc),
                                          datetime(2026, 12, 1, tzinfo=dt_timezone.utc))
    with pytest.raises(ValueError):
        analytics_period(days=14, now=NOW)


def test_searches_per_day_by_kind_count_a_text_search_once_whatever_its_pages(log):
    days = searches_per_day(period=analytics_period(days=30, now=NOW))
    assert len(days) == 30 and days[0].day == date(2026, 11, 1) and days[-1].day == date(2026, 11, 30)
    assert [(d.day.day, d.photo, d.text, d.similar) for d in days if d.total] == [
        (28, 1, 0, 0), (29, 1, 0, 1), (30, 1, 1, 0),
    ]


def test_figures_by_kind_close_matches_click_through_and_conversion(log):
    figures = {f.kind: f for f in figures_by_kind(period=analytics_period(days=30, now=NOW))}
    photo, text, similar = figures["photo"], figures["text"], figures["similar"]
    # the October search and its purchase are outside the period
    assert (photo.lists, photo.close_matches, photo.impressions, photo.opens, photo.carts) == (3, 2, 7, 2, 1)
    assert (photo.lists_opened, photo.lists_bought) == (2, 1)
    assert (photo.close_share, photo.ctr, photo.cart_rate, photo.conversion) == (2 / 3, 2 / 7, 1 / 7, 1 / 3)
    # both pages of the text search are lists shown; "close" says nothing for words
    assert (text.lists, text.impressions, text.opens, text.lists_opened, text.lists_bought) == (2, 15, 2, 1, 0)
    assert (text.close_share, text.ctr, text.conversion) == (None, 2 / 15, 0.0)
    assert (similar.lists, similar.close_share, similar.ctr, similar.conversion) == (1, 1.0, 1 / 2, 0.0)


def test_click_through_and_add_to_cart_by_rank(log):
    ranks = figures_by_rank(period=analytics_period(days=30, now=NOW))
    assert [r.label for r in ranks] == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11+"]
    assert [(r.impressions, r.opens, r.carts) for r in ranks] == [
        (6, 2, 1), (5, 2, 0), (3, 0, 0), (2, 0, 0), (1, 0, 0), (1, 0, 0), (1, 0, 0), (1, 0, 0), (1, 0, 0), (1, 0, 0),
        (2, 1, 0),
    ]
    assert (ranks[0].ctr, ranks[0].cart_rate, ranks[1].ctr, ranks[10].ctr) == (2 / 6, 1 / 6, 2 / 5, 1 / 2)


def test_click_through_by_rank_of_one_kind(log):
    ranks = figures_by_rank(period=analytics_period(days=30, now=NOW), kind=ShownKind.PHOTO)
    assert [(r.impressions, r.opens) for r in ranks[:5]] == [(3, 1), (2, 1), (1, 0), (1, 0), (0, 0)]
    assert ranks[4].ctr is None


def test_most_found_products_and_categories_from_the_first_three_results_of_searches(log):
    period = analytics_period(days=30, now=NOW)
    found = products_found(period=period)
    # A: photo 1, photo 2, text; B: photo 1, photo 2 (similar items are not searches); K0: photo 1, photo 3;
    # K1 and K2: the text search (K1 is fourth in photo 1); A's opens: both photo searches and the text search
    assert [(f.product.name, f.top, f.opens) for f in found] == [
        ("A", 3, 3), ("B", 2, 0), ("K0", 2, 0), ("K1", 1, 0), ("K2", 1, 0),
    ]
    categories = categories_found(period=period)
    # Kitchen's open is the text search's rank 12 (K11): opened, though not in a top 3
    assert [(f.category.name, f.top, f.opens) for f in categories] == [("Shoes", 5, 3), ("Kitchen", 4, 1)]


def _near(axis: int, rng: np.random.Generator) -> list[float]:
    vector = np.zeros(DIMENSION, dtype=np.float32)
    vector[axis] = 1.0
    vector += rng.normal(0, 0.01, DIMENSION).astype(np.float32)
    return (vector / np.linalg.norm(vector)).tolist()


def _missed(vector, day: int, **fields):
    return ShownFactory(kind=ShownKind.PHOTO, close_match=False, query_vector=vector, vector_key=KEY,
                        created_at=_at(day), **fields)


def test_unmet_demand_groups_the_searches_that_found_nothing_close(settings):
    settings.RECOMMENDATIONS_VECTOR_RETENTION_DAYS = 30
    rng = np.random.default_rng(7)
    # given two groups of photo searches without a close match, far apart (axes 0 and 1), and one odd photo
    for day in (3, 10, 20, 21, 25, 28, 29):  # 2 before the window's midpoint (15 Nov 18:00), 5 after
        _missed(_near(0, rng), day)
    for day in (2, 5, 8, 12, 26):  # 4 before, 1 after
        _missed(_near(1, rng), day)
    _missed(_near(2, rng), 27)
    # and searches that are not unmet demand, or not comparable
    ShownFactory(kind=ShownKind.PHOTO, close_match=True, query_vector=_near(0, rng), vector_key=KEY, created_at=_at(28))
    ShownFactory(kind=ShownKind.PHOTO, close_match=False, query_vector=_near(0, rng), vector_key="effnet-lite0-avg-224",
                 created_at=_at(28))
    ShownFactory(kind=ShownKind.PHOTO, close_match=False, query_vector=None, created_at=_at(28))
    ShownFactory(kind=ShownKind.PHOTO, close_match=False, query_vector=_near(0, rng), vector_key=KEY,
                 created_at=datetime(2026, 10, 20, tzinfo=dt_timezone.utc))  # before the period

    # when the demand of the 30-day period is read
    demand = unmet_demand(start=analytics_period(days=30, now=NOW).start, now=NOW)

    # then 13 searches make 3 groups; the odd one is left out, the two groups come largest first
    assert cluster_count(13) == 3
    assert (demand.vector_key, demand.searches, demand.singles) == (KEY, 13, 1)
    assert [(c.number, c.size, c.first_half, c.second_half, c.trend) for c in demand.clusters] == [
        (1, 7, 2, 5, 3), (2, 5, 4, 1, -3),
    ]
    assert demand.clusters[0].pictures == []  # no catalogue picture has a vector here


def test_unmet_demand_covers_only_the_days_query_vectors_are_kept(settings):
    settings.RECOMMENDATIONS_VECTOR_RETENTION_DAYS = 30
    demand = unmet_demand(start=analytics_period(days=90, now=NOW).start, now=NOW)
    assert (demand.start, demand.end, demand.midpoint) == (NOW - timedelta(days=30), NOW, NOW - timedelta(days=15))
    assert (demand.searches, demand.clusters, demand.singles) == (0, [], 0)


def test_each_group_is_shown_by_the_catalogue_products_nearest_it(catalogue, settings):
    settings.RECOMMENDATIONS_VECTOR_RETENTION_DAYS = 30
    rng = np.random.default_rng(3)

    def near(name: str) -> list[float]:
        row = ImageEmbedding.objects.get(image__product=catalogue[name], model_key=KEY)
        vector = np.asarray(row.vector, dtype=np.float32) + rng.normal(0, 0.005, DIMENSION).astype(np.float32)
        return (vector / np.linalg.norm(vector)).tolist()

    # given photo searches like the teapot (7) and like the guitar (5), none of which found a close match
    for day in range(20, 27):
        _missed(near("Teapot"), day)
    for day in range(25, 30):
        _missed(near("Guitar"), day)

    demand = unmet_demand(start=analytics_period(days=30, now=NOW).start, now=NOW)

    assert [c.size for c in demand.clusters] == [7, 5]
    assert [c.pictures[0].product.name for c in demand.clusters] == ["Teapot", "Guitar"]
    assert [len(c.pictures) for c in demand.clusters] == [4, 4]


def test_kmeans_is_seeded_and_separates_far_groups():
    rng = np.random.default_rng(1)
    points = np.array([_near(0, rng) for _ in range(4)] + [_near(5, rng) for _ in range(3)])
    first = kmeans(points, k=2)
    again = kmeans(points, k=2)
    assert np.array_equal(first.labels, again.labels)
    assert sorted(np.bincount(first.labels).tolist()) == [3, 4]
    assert len(set(first.labels[:4].tolist())) == 1 and len(set(first.labels[4:].tolist())) == 1
    assert [cluster_count(n) for n in (0, 1, 2, 8, 50, 288, 10_000)] == [0, 1, 1, 2, 5, 12, 12]


def test_the_whole_page_reads_every_figure_of_one_period(log):
    board = analytics_read(days=7, now=NOW)
    assert board.period.days == 7 and len(board.searches) == 7
    assert (board.photo.conversion, board.text.conversion) == (1 / 3, 0.0)
    assert board.ranks[0].impressions == 6
    assert board.products[0].product.name == "A"
    assert board.demand.clusters == []


def test_with_an_adapter_version_active_the_searches_of_its_plain_key_are_grouped(settings):
    from visualsearch.embedding import LinearAdapter
    from visualsearch.models import ModelVersion
    from visualsearch.versions import model_version_register

    settings.RECOMMENDATIONS_VECTOR_RETENTION_DAYS = 30
    # given an adapter version over the plain key, active
    adapter = LinearAdapter(mean=np.zeros(DIMENSION, np.float32), weight=np.eye(DIMENSION, 64, dtype=np.float32),
                            bias=np.zeros(64, np.float32))
    model_version_register(key=f"{KEY}@adapter-test", base_key=KEY, adapter=adapter)
    ModelVersion.objects.update(is_active=False)
    ModelVersion.objects.filter(key=f"{KEY}@adapter-test").update(is_active=True)
    rng = np.random.default_rng(5)
    # and searches logged in the plain key's space (as the log keeps them), plus rows of another key
    for day in (2, 4, 20):
        _missed(_near(0, rng), day)
    for day in (3, 21):
        ShownFactory(kind=ShownKind.PHOTO, close_match=False, query_vector=_near(0, rng)[:64],
                     vector_key=f"{KEY}@adapter-test", created_at=_at(day))

    demand = unmet_demand(start=analytics_period(days=30, now=NOW).start, now=NOW)

    assert (demand.vector_key, demand.searches) == (KEY, 3)
    assert [(c.size, c.first_half, c.second_half) for c in demand.clusters] == [(3, 2, 1)]
