"""Read replicas for real (shop/dbrouter.py): a streaming standby of the suite's PostgreSQL on a loopback port,
made by the wheel's pg_basebackup (shop/tests/standby.py). Search served by it finds what the primary committed once
it is replayed; a standby that stops, or a replica host that never answers, is skipped with one warning; writes
land on the primary only.

Every test commits for real (transaction=True): a standby replays commits, never a test's open transaction.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from decimal import Decimal

import psycopg
import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, router
from django.test.utils import CaptureQueriesContext

from catalog.models import Product
from catalog.tests.factories import CategoryFactory, ProductFactory
from conftest import demo_asset_bytes
from shop.dbrouter import PIN_COOKIE, replica_health_forget, replica_reads
from shop.partners.tests.api.fixtures import UserFactory, api, key_for
from shop.tests.standby import (
    database_alias_add,
    database_alias_remove,
    standby_remove,
    standby_start,
    standbys_leftover_remove,
)
from visualsearch.models import ImageEmbedding, VectorStatistics, VectorStatisticsKind
from visualsearch.selectors import active_model_key, catalogue_centring, product_first_vector, products_near_vector
from visualsearch.services import embeddings_compute, product_image_add
from visualsearch.statistics import catalogue_statistics_refresh, query_statistics_discard
from visualsearch.tests.fixtures import query_copy

STANDBY = "replica_0"
SILENT = "replica_1"
"""A replica host that accepts TCP connections and never answers (a hung machine): each connect waits the timeout."""

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["default", STANDBY, SILENT])]


def _replica_entry(*, port: int, dbname: str) -> dict:
    """What DATABASE_REPLICA_URLS=postgres://postgres@127.0.0.1:<port>/<test database> gives (settings/base.py)."""
    return {
        "ENGINE": "django.db.backends.postgresql", "NAME": dbname, "USER": "postgres", "HOST": "127.0.0.1",
        "PORT": port, "OPTIONS": {"connect_timeout": django_settings.DATABASE_REPLICA_CONNECT_TIMEOUT},
        "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True, "TEST": {"MIRROR": "default"},
    }


@pytest.fixture(scope="module")
def standby(django_db_setup):
    """The standby, and both replicas' aliases (defined before each test's database set-up, which checks them).
    Stopped and deleted at the end, whatever happened."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("the standby is a base backup of the embedded PostgreSQL; DATABASE_URL names another server")
    db = connection.settings_dict  # the test database, which pytest-django has created by now
    standbys_leftover_remove(django_settings.VAR_DIR)
    running = standby_start(
        primary={"host": db["HOST"], "user": db["USER"], "dbname": db["NAME"]},
        primary_pgdata=django_settings.VAR_DIR / "pgdata", var_dir=django_settings.VAR_DIR,
    )
    silent = socket.socket()
    try:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # never accepted: the kernel completes the handshake, then nothing answers
        database_alias_add(STANDBY, _replica_entry(port=running.port, dbname=db["NAME"]))
        database_alias_add(SILENT, _replica_entry(port=silent.getsockname()[1], dbname=db["NAME"]))
        yield running
    finally:
        database_alias_remove(STANDBY)
        database_alias_remove(SILENT)
        silent.close()
        standby_remove(running)


@pytest.fixture
def replicas(standby, settings):
    """The standby as the shop's one replica (running again if a test stopped it)."""
    if not standby.running:
        standby.start()
    settings.DATABASE_REPLICA_ALIASES = [STANDBY]
    settings.RECOMMENDATIONS_SIMILAR_CACHE_SECONDS = 0  # every similar-items request runs its k-NN query
    replica_health_forget()
    yield standby
    if standby.running:
        standby.sql("SELECT pg_wal_replay_resume()")  # a test that failed while replay was paused spoils no other
    replica_health_forget()
    for alias in (STANDBY, SILENT):
        connections[alias].close()


@pytest.fixture
def shop_catalogue(catalogue):
    """The eight embedded demo products, with the catalogue's mean vector computed as the beat task does (else
    the first search computes and writes it, and a unit of work that wrote reads the primary from then on)."""
    catalogue_statistics_refresh(model_key=active_model_key())
    return catalogue


def _knn_ran(queries: CaptureQueriesContext) -> bool:
    return any("hnsw.ef_search" in q["sql"] for q in queries.captured_queries)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [r["product_id"] for r in response.json()["results"]]


def _product_with_picture(*, name: str, asset: str):
    product = ProductFactory(name=name, price=Decimal("99.00"))
    image, _ = product_image_add(product=product, data=demo_asset_bytes(asset), enqueue=False)
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.filter(image=image).values_list("id", flat=True)))
    assert ImageEmbedding.objects.get(image=image).status == "ready"
    return product


def _photo_search(client, photo: bytes):
    with CaptureQueriesContext(connections[STANDBY]) as on_standby, CaptureQueriesContext(connection) as on_primary:
        response = client.post("/api/v1/search/image", {"image": SimpleUploadedFile("q.jpg", photo, "image/jpeg"),
                                                        "limit": 3})
    return _ids(response), on_standby, on_primary


def test_a_product_committed_on_the_primary_is_found_by_a_photo_search_on_the_standby_once_replayed(
    replicas, shop_catalogue, client
):
    standby = replicas
    # given the catalogue replayed on the standby, which then holds its replay
    standby.wait_replayed()
    standby.sql("SELECT pg_wal_replay_pause()")
    # when a new product and its embedded picture are committed on the primary
    trumpet = _product_with_picture(name="Trumpet", asset="1f3ba.webp")
    photo = query_copy(demo_asset_bytes("1f3ba.webp"))

    # then a search by its photo runs on the standby, which does not have it yet
    before, on_standby, on_primary = _photo_search(client, photo)
    assert len(before) == 3 and trumpet.id not in before
    assert _knn_ran(on_standby) and not _knn_ran(on_primary)

    # and once the standby has replayed the commit, the same search there finds it first
    standby.sql("SELECT pg_wal_replay_resume()")
    standby.wait_replayed()
    after, on_standby, on_primary = _photo_search(client, photo)
    assert after[0] == trumpet.id
    assert _knn_ran(on_standby) and not _knn_ran(on_primary)
    # the connection the search used is the standby's: in recovery, on its port
    with connections[STANDBY].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
        assert cursor.fetchone() == (True, standby.port)


def test_a_search_that_writes_the_query_statistics_still_reads_the_standby_and_pins_nobody(
    replicas, shop_catalogue, client, settings
):
    # given a process whose query statistics are due to be written at the next search (they are, after a quiet
    # minute: the flush is due by time as well as by count)
    settings.VISUALSEARCH_QUERY_STATS_FLUSH_SECONDS = 0
    query_statistics_discard()
    replicas.wait_replayed()
    before = VectorStatistics.objects.filter(kind=VectorStatisticsKind.QUERY).values_list("count", flat=True).first()

    # when a shopper searches by photo
    with CaptureQueriesContext(connections[STANDBY]) as on_standby, CaptureQueriesContext(connection) as on_primary:
        response = client.post("/api/v1/search/image", {
            "image": SimpleUploadedFile("q.jpg", query_copy(demo_asset_bytes("1fad6.webp")), "image/jpeg"),
            "limit": 3,
        })

    # then the statistics were written on the primary within the request, the k-NN query still ran on the standby,
    # and the shopper is not pinned to the primary for a write of theirs that never happened
    assert _ids(response)[0] == shop_catalogue["Teapot"].id
    assert VectorStatistics.objects.get(kind=VectorStatisticsKind.QUERY).count == (before or 0) + 1
    assert any("visualsearch_vectorstatistics" in q["sql"] for q in on_primary.captured_queries)
    assert _knn_ran(on_standby) and not _knn_ran(on_primary)
    assert PIN_COOKIE not in response.cookies


def test_when_the_standby_stops_similar_items_answer_from_the_primary_after_one_warning(
    replicas, shop_catalogue, caplog, settings
):
    standby = replicas
    standby.wait_replayed()
    url = f"/api/v1/products/{shop_catalogue['Guitar'].id}/similar?limit=3"
    # given similar items served by the standby
    with CaptureQueriesContext(connections[STANDBY]) as on_standby:
        served = _ids(api().get(url))
    assert len(served) == 3 and _knn_ran(on_standby)
    caplog.set_level(logging.INFO, logger="shop.dbrouter")

    # when it stops
    standby.stop()

    # then the next request answers the same, from the primary, and one warning says why
    with CaptureQueriesContext(connection) as on_primary:
        assert _ids(api().get(url)) == served
    assert _knn_ran(on_primary)
    # and the requests after it go to the primary without a word: the outage was logged once
    for _ in range(3):
        assert _ids(api().get(url)) == served
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", f"read replica {STANDBY} is unavailable (connection failed: connection to server at "
                    f"\"127.0.0.1\", port {standby.port} failed: Connection refused); its reads go to another replica "
                    f"or the primary"),
    ]

    # when it is back and its next check is due, reads return to it, with a line that says so
    standby.start()
    standby.wait_replayed()
    settings.DATABASE_REPLICA_CHECK_SECONDS = 0.0
    with CaptureQueriesContext(connections[STANDBY]) as on_standby:
        assert _ids(api().get(url)) == served
    assert _knn_ran(on_standby)
    assert [(r.levelname, r.getMessage()) for r in caplog.records][1:] == [
        ("INFO", f"read replica {STANDBY} answers again; reads go to it")
    ]


def test_a_search_whose_standby_stops_mid_request_runs_again_on_the_primary(replicas, shop_catalogue, caplog):
    standby = replicas
    standby.wait_replayed()
    guitar = shop_catalogue["Guitar"]
    key = active_model_key()
    vector = product_first_vector(product=guitar, model_key=key)
    centring = catalogue_centring(key)  # read now: the search below reads nothing else before its k-NN query
    expected = [m.product.id for m in products_near_vector(vector=vector, model_key=key, limit=3, centring=centring)]
    caplog.set_level(logging.INFO, logger="shop.dbrouter")

    with replica_reads():
        # given a unit of work that has picked the standby and reads it
        assert router.db_for_read(Product) == STANDBY
        assert Product.objects.filter(id=guitar.id).exists()
        # when the standby stops before its k-NN query
        standby.stop()
        found = [m.product.id for m in products_near_vector(vector=vector, model_key=key, limit=3, centring=centring)]
        # then the query ran again on the primary, and the rest of the unit reads there too
        assert router.db_for_read(Product) == "default"

    assert found == expected and len(found) == 3
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", f"read replica {STANDBY} is unavailable (a read lost its connection); its reads go to another "
                    f"replica or the primary"),
    ]


def test_a_replica_that_never_answers_costs_one_connect_timeout_then_is_skipped(
    replicas, shop_catalogue, caplog, settings
):
    settings.DATABASE_REPLICA_ALIASES = [SILENT]
    timeout = settings.DATABASE_REPLICA_CONNECT_TIMEOUT
    url = f"/api/v1/products/{shop_catalogue['Guitar'].id}/similar?limit=3"
    caplog.set_level(logging.INFO, logger="shop.dbrouter")

    # the first request waits the connect timeout once, then answers from the primary
    started = time.monotonic()
    first = _ids(api().get(url))
    first_seconds = time.monotonic() - started
    assert len(first) == 3 and timeout <= first_seconds < timeout + 5

    # the next ones do not try that replica again within DATABASE_REPLICA_CHECK_SECONDS: no wait
    for _ in range(3):
        started = time.monotonic()
        assert _ids(api().get(url)) == first
        assert time.monotonic() - started < timeout * 0.75
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", f"read replica {SILENT} is unavailable (connection timeout expired); its reads go to another "
                    f"replica or the primary"),
    ]


def test_writes_land_on_the_primary_only_and_pin_the_writer_to_it(replicas):
    standby = replicas
    CategoryFactory(name="Music", slug="music")
    standby.wait_replayed()
    writer = api(key_for(UserFactory(), "read", "write"))

    # when a partner creates a product while the standby serves reads
    with CaptureQueriesContext(connections[STANDBY]) as on_standby:
        created = writer.post("/api/v1/products", {"sku": "T-1", "name": "Brass Trumpet", "category": "music",
                                                   "price": "240.00", "stock_quantity": 2}, format="json")
    assert created.status_code == 201, created.json()
    product_id = created.json()["id"]

    # then nothing of it ran on the standby, and the row is on the primary, read there directly
    assert on_standby.captured_queries == []
    with psycopg.connect(**standby.primary) as primary:
        assert primary.execute("SELECT name, pg_is_in_recovery() FROM catalog_product WHERE id = %s",
                               [product_id]).fetchall() == [("Brass Trumpet", False)]
    # and the writer's next reads go to the primary while its pin lasts
    assert created.cookies[PIN_COOKIE]["max-age"] == django_settings.DATABASE_REPLICA_PIN_SECONDS == 5
    with CaptureQueriesContext(connections[STANDBY]) as on_standby:
        assert writer.get(f"/api/v1/products/{product_id}").json()["name"] == "Brass Trumpet"
    assert on_standby.captured_queries == []
    # while another client reads it from the standby, once replayed there
    standby.wait_replayed()
    with CaptureQueriesContext(connections[STANDBY]) as on_standby:
        assert api().get(f"/api/v1/products/{product_id}").json()["name"] == "Brass Trumpet"
    assert any("catalog_product" in q["sql"] for q in on_standby.captured_queries)
    # and the standby itself refuses a write, were one ever sent to it
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        standby.sql("UPDATE catalog_product SET name = 'x' WHERE id = %s", (product_id,))
