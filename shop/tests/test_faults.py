"""Faults on real processes: a worker killed mid-embedding, Redis lost, PostgreSQL restarted.

Each test runs on a private PostgreSQL + Redis (``faultkit.Stack``, its own var dir) with a real Celery worker,
beat with a 3-second reconciler, and (for the database test) a real web server, so stopping and killing them
leaves the servers of the rest of the suite alone. Leases and resend delays are shortened through the workers'
environment so the reconciler acts within seconds. The longer runs (hundreds of images, ten kills) are
``bench/faults.py``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time

import pytest
import requests

from .faultkit import Stack, stack_running, wait_until

pytestmark = pytest.mark.e2e

BATCH = 8
MAX_ATTEMPTS = 3
FAST_RECOVERY = {
    "VISUALSEARCH_RECONCILE_SECONDS": "3",
    "VISUALSEARCH_CLAIM_LEASE_SECONDS": "15",  # above a batch's time on a busy 2-core machine, model load included
    "VISUALSEARCH_RESEND_AFTER_SECONDS": "8",
    "VISUALSEARCH_BATCH_SIZE": str(BATCH),
    "VISUALSEARCH_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
}


@pytest.fixture(scope="module")
def stack():
    yield from stack_running(**FAST_RECOVERY)


def _ingest(stack: Stack, *, count: int, offset: int, poison: int = 0) -> dict:
    out = stack.run(sys.executable, "-m", "shop.tests.faultkit", "ingest", str(count), str(poison), str(offset))
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rows(stack: Stack, offset: int, count: int) -> list[tuple]:
    """(image id, status, attempts, has vector, error) of the embedding rows of one ingest."""
    return stack.sql(
        """SELECT i.id, e.status, e.attempts, e.vector IS NOT NULL, e.error
           FROM catalog_productimage i JOIN catalog_product p ON p.id = i.product_id
           LEFT JOIN visualsearch_imageembedding e ON e.image_id = i.id
           WHERE p.sku = ANY(%s) ORDER BY i.id""",
        ([f"F-{n}" for n in range(offset, offset + count)],),
    )


def _assert_each_image_has_one_vector_or_a_recorded_failure(rows: list[tuple], count: int) -> None:
    assert len(rows) == count  # one row per image: none embedded twice into two rows, none missing
    assert len({row[0] for row in rows}) == count
    for image_id, status, attempts, has_vector, error in rows:
        assert (status, has_vector) in {("ready", True), ("failed", False)}, (image_id, status, error)
        if status == "failed":
            assert error, image_id
        assert 1 <= attempts <= MAX_ATTEMPTS


def test_worker_killed_mid_embedding_loses_nothing_and_poison_stops(stack):
    # given 24 images to embed, one of which kills its worker process whenever it is read (poison)
    count, offset = 96, 0  # enough batches to be killed three times mid-embedding at today's ingest speed
    ingest = _ingest(stack, count=count, offset=offset, poison=1)
    worker = stack.processes["worker"]

    # when the pool process is SIGKILLed three times while it is embedding (rows claimed, not yet stored)
    kills, deadline = 0, time.monotonic() + 240
    while kills < 3 and time.monotonic() < deadline and not stack.all_settled():
        busy = stack.worker_busy_child()
        if busy:
            # A batch of 32 now embeds in about a second: kill within it, and a pool process that finished (or
            # that the poison killed) before the signal landed is simply looked for again.
            time.sleep(random.uniform(0, 0.2))
            try:
                os.kill(busy, signal.SIGKILL)
            except ProcessLookupError:
                continue
            kills += 1
            wait_until(lambda: stack.worker_pool_children() not in ([], [busy]), timeout=30, what="a new pool process")
        time.sleep(0.05)
    wait_until(stack.all_settled, timeout=300, interval=1, what="every embedding to be ready or failed")

    # then every image has exactly one row, with a vector or a recorded failure
    rows = _rows(stack, offset, count)
    _assert_each_image_has_one_vector_or_a_recorded_failure(rows, count)
    # and the poison image used its attempts and was given up on, and stays given up on
    poison = stack.sql("SELECT e.status, e.attempts, e.error FROM visualsearch_imageembedding e JOIN "
                       "catalog_productimage i ON i.id = e.image_id WHERE i.content_hash = %s", (ingest["poison"][0],))
    assert poison == [("failed", MAX_ATTEMPTS, f"gave up after {MAX_ATTEMPTS} attempts (the worker died or timed out)")]
    time.sleep(7)  # two more reconciler rounds
    assert stack.sql("SELECT status, attempts FROM visualsearch_imageembedding e JOIN catalog_productimage i "
                     "ON i.id = e.image_id WHERE i.content_hash = %s", (ingest["poison"][0],)) == [("failed", MAX_ATTEMPTS)]
    # and at most the poison's batch failed with it; the worker itself lived on (only pool processes died)
    ready = sum(1 for row in rows if row[1] == "ready")
    assert ready >= count - BATCH
    assert kills == 3 and worker.poll() is None


def test_redis_stopped_and_restarted_with_its_data_lost_loses_nothing(stack):
    # given an ingest the worker is consuming
    count, offset = 24, 100
    ready_before = stack.embedding_states().get("ready", 0)
    _ingest(stack, count=count, offset=offset)
    worker = stack.processes["worker"]
    wait_until(lambda: stack.embedding_states().get("ready", 0) > ready_before, timeout=120,
               what="the worker to start on the ingest")

    # when Redis stops and comes back, then stops again and comes back empty (queued messages lost)
    stack.redis_stop()
    time.sleep(3)
    stack.redis_start()
    time.sleep(2)
    stack.redis_stop(lose_data=True)
    time.sleep(3)
    stack.redis_start()

    # then the same worker consumes again by itself and the reconciler re-sends what Redis forgot
    wait_until(stack.all_settled, timeout=240, interval=1, what="every embedding to settle after Redis came back")
    rows = _rows(stack, offset, count)
    _assert_each_image_has_one_vector_or_a_recorded_failure(rows, count)
    assert [row for row in rows if row[1] != "ready"] == []
    assert worker.poll() is None and stack.processes["worker"] is worker


def test_postgres_restart_gives_clear_503s_then_recovers_without_a_web_restart(stack):
    # given a web server, and an ingest in progress
    url = stack.web_start()
    web = stack.processes["web"]
    count, offset = 16, 200
    _ingest(stack, count=count, offset=offset)
    product = stack.sql("SELECT id, slug FROM catalog_product WHERE sku = %s", (f"F-{offset}",))[0]
    from django.conf import settings

    photo = sorted(settings.DEMO_ASSETS_DIR.glob("*.webp"))[offset].read_bytes()
    session = requests.Session()

    def search_page():
        return session.post(f"{url}/search/photo/", files={"image": ("q.webp", photo, "image/webp")},
                            data={"csrfmiddlewaretoken": session.cookies["csrftoken"]}, allow_redirects=False,
                            timeout=60)

    def search_api():
        return session.post(f"{url}/api/v1/search/image", files={"image": ("q.webp", photo, "image/webp")}, timeout=60)

    def product_page():
        return session.get(f"{url}/p/{product[1]}/", timeout=30)

    def similar_api():
        return session.get(f"{url}/api/v1/products/{product[0]}/similar", timeout=30)

    assert session.get(f"{url}/search/photo/", timeout=30).status_code == 200  # the form and its CSRF cookie
    assert search_api().status_code == 200  # warms the model up in the web process

    # when PostgreSQL stops
    stack.postgres_stop()
    down = {"search page": search_page(), "search api": search_api(), "product page": product_page(),
            "similar api": similar_api(), "home": session.get(f"{url}/", timeout=30)}

    # then every request is a clear 503, on pages and in the API
    assert {name: r.status_code for name, r in down.items()} == dict.fromkeys(down, 503)
    assert down["search api"].json()["code"] == down["similar api"].json()["code"] == "search_unavailable"
    assert "unavailable for a moment" in down["search page"].text
    assert "unavailable for a moment" in down["product page"].text and "unavailable for a moment" in down["home"].text

    # when it is back, the same web server answers again and the ingest completes
    stack.postgres_start()
    assert search_page().status_code == 302
    assert search_api().status_code == 200
    assert product_page().status_code == 200
    assert web.poll() is None and stack.processes["web"] is web
    wait_until(stack.all_settled, timeout=240, interval=1, what="the ingest to finish after the restart")
    # similar items once the product's picture has its vector (before that: 409 embedding_not_ready)
    assert similar_api().status_code == 200
    rows = _rows(stack, offset, count)
    _assert_each_image_has_one_vector_or_a_recorded_failure(rows, count)
    assert [row for row in rows if row[1] != "ready"] == []
