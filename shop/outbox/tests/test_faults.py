"""The outbox on real processes: events survive a broker that is down at commit and workers killed mid-way.

A private PostgreSQL + Redis (``faultkit.Stack``) with a real Celery worker and beat (reconciler every 2 s), a
staff webhook endpoint on a real loopback HTTP server, and products written by another process through
``catalog.services``. The receiver must get every ``product.created`` exactly once.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter

import pytest

from shop.tests.faultkit import Stack, stack_running, wait_until

pytestmark = pytest.mark.e2e

FAST_RECOVERY = {
    "OUTBOX_RECONCILE_SECONDS": "2",
    "OUTBOX_RESEND_AFTER_SECONDS": "3",
    "SHOP_WEBHOOK_ALLOW_PRIVATE_URLS": "1",
    "SHOP_WEBHOOK_BACKOFF_SECONDS": "1",
}


@pytest.fixture(scope="module")
def stack():
    yield from stack_running(**FAST_RECOVERY)


def _faultkit(stack: Stack, *args: str, **env: str) -> tuple[dict, str]:
    out = stack.run(sys.executable, "-m", "shop.tests.faultkit", *args, **env)
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def _received_product_ids(receiver) -> Counter:
    return Counter(json.loads(r["body"])["data"]["id"] for r in receiver.events("product.created") if r["answered"] == 200)


def _deliveries_per_event(stack: Stack, product_ids: list[int], endpoint_id: int) -> list[tuple]:
    return stack.sql(
        """SELECT (d.payload->>'id')::int, count(*) FROM partners_webhookdelivery d
           WHERE d.event = 'product.created' AND d.endpoint_id = %s AND (d.payload->>'id')::int = ANY(%s)
           GROUP BY 1 ORDER BY 1""",
        (endpoint_id, product_ids),
    )


def test_broker_down_at_commit_loses_no_event_and_sends_none_twice(stack, webhook_receiver):
    # given a staff endpoint listening to product.created
    endpoint = _faultkit(stack, "webhook-endpoint", webhook_receiver.url)[0]["endpoint"]

    # when a process writes 5 products while its broker is unreachable (nothing listens on port 9)
    made, log = _faultkit(stack, "products", "5", "0", REDIS_URL="redis://127.0.0.1:9/0")
    products = made["products"]

    # then each commit kept its event, and the failed send was logged, not raised
    assert log.count("left to the reconciler") == 5
    events = stack.sql("SELECT (payload->>'id')::int FROM outbox_event WHERE topic = 'product.created' "
                       "AND (payload->>'id')::int = ANY(%s) ORDER BY 1", (products,))
    assert [row[0] for row in events] == sorted(products)
    # and the reconciler dispatches them: the partner hears each product once, in one delivery each
    wait_until(lambda: set(_received_product_ids(webhook_receiver)) == set(products), timeout=120,
               what="the 5 product.created webhooks")
    time.sleep(6)  # three more reconciler rounds: nothing is sent again
    assert _received_product_ids(webhook_receiver) == Counter({pid: 1 for pid in products})
    assert _deliveries_per_event(stack, products, endpoint) == [(pid, 1) for pid in sorted(products)]
    assert stack.sql("SELECT count(*) FROM outbox_event WHERE status <> 'dispatched' AND (payload->>'id')::int = ANY(%s)",
                     (products,)) == [(0,)]


@pytest.mark.parametrize("point", ["in-handler", "after-dispatch"])
def test_worker_killed_during_or_after_a_dispatch_loses_no_event_and_sends_none_twice(stack, webhook_receiver, point):
    # given a staff endpoint, and a worker whose pool process will be SIGKILLed once at this point of a dispatch
    endpoint = _faultkit(stack, "webhook-endpoint", webhook_receiver.url)[0]["endpoint"]
    kill_file = stack.var_dir / "kill-once.txt"
    kill_file.write_text(point)
    worker = stack.processes["worker"]
    pool_before = stack.worker_pool_children()
    offset = 100 if point == "in-handler" else 200

    # when 3 products are written (each commit sends its event to the worker)
    products = _faultkit(stack, "products", "3", str(offset))[0]["products"]

    # then the kill happened, the worker lived on with a new pool process, and each event reached the partner once
    wait_until(lambda: not kill_file.exists(), timeout=60, what="the worker to reach the kill point")
    wait_until(lambda: set(_received_product_ids(webhook_receiver)) == set(products), timeout=120,
               what="the 3 product.created webhooks")
    time.sleep(6)
    assert _received_product_ids(webhook_receiver) == Counter({pid: 1 for pid in products})
    assert _deliveries_per_event(stack, products, endpoint) == [(pid, 1) for pid in sorted(products)]
    handled = stack.sql("SELECT count(*) FROM outbox_eventhandled h JOIN outbox_event e ON e.id = h.event_id "
                        "WHERE (e.payload->>'id')::int = ANY(%s)", (products,))
    assert handled == [(3,)]
    assert worker.poll() is None and stack.worker_pool_children() != pool_before
