"""Fault runs too long for the suite: prints what survived.

    .venv/bin/python bench/faults.py [--images 300] [--kills 10] [--poison 2]

1. Ingest of N images while the worker's pool process is SIGKILLed ``--kills`` times mid-embedding and the
   whole worker (main process included) is killed once and started again, as a supervisor would; ``--poison``
   images kill their worker every time they are read.
2. Ingest while Redis is stopped and restarted, then stopped and restarted with its data deleted.
3. Ingest and searches while PostgreSQL is stopped for 10 s: every answer during the outage is counted.

Each scenario runs on a private PostgreSQL + Redis (shop/tests/faultkit.py), never on the shop's own servers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shop.tests.faultkit import Stack, wait_until  # noqa: E402

FAST_RECOVERY = {
    "VISUALSEARCH_RECONCILE_SECONDS": "3",
    "VISUALSEARCH_CLAIM_LEASE_SECONDS": "20",
    "VISUALSEARCH_RESEND_AFTER_SECONDS": "10",
    "VISUALSEARCH_BATCH_SIZE": "16",
    "VISUALSEARCH_MAX_ATTEMPTS": "3",
}


def ingest(stack: Stack, count: int, offset: int, poison: int = 0) -> dict:
    out = stack.run(sys.executable, "-m", "shop.tests.faultkit", "ingest", str(count), str(poison), str(offset))
    return json.loads(out.stdout.strip().splitlines()[-1])


def summary(stack: Stack, offset: int, count: int) -> dict:
    skus = [f"F-{n}" for n in range(offset, offset + count)]
    rows = stack.sql(
        """SELECT i.id, count(e.id), max(e.status), max(e.attempts), bool_and(e.vector IS NOT NULL OR e.status <> 'ready')
           FROM catalog_productimage i JOIN catalog_product p ON p.id = i.product_id
           LEFT JOIN visualsearch_imageembedding e ON e.image_id = i.id WHERE p.sku = ANY(%s) GROUP BY i.id""",
        (skus,),
    )
    return {
        "images": len(rows),
        "status": dict(Counter(row[2] for row in rows)),
        "images_with_more_than_one_row": sum(1 for row in rows if row[1] > 1),
        "images_without_a_row": sum(1 for row in rows if row[1] == 0),
        "ready_without_vector": sum(1 for row in rows if not row[4]),
        "attempts": dict(Counter(row[3] for row in rows)),
    }


def scenario_kills(stack: Stack, *, images: int, kills: int, poison: int) -> dict:
    start = time.monotonic()
    info = ingest(stack, images, 0, poison)
    done_kills, main_killed = 0, False
    while not stack.all_settled() and time.monotonic() - start < 1200:
        busy = stack.worker_busy_child() if done_kills < kills else None
        if busy:
            time.sleep(random.uniform(0, 1.0))
            os.kill(busy, signal.SIGKILL)
            done_kills += 1
            print(f"  {time.monotonic() - start:6.1f}s SIGKILL pool process {busy} mid-batch ({done_kills}/{kills})",
                  flush=True)
            children = [busy]
            if done_kills == kills // 2 and not main_killed:  # the whole worker too, once; a supervisor restarts it
                os.killpg(stack.processes["worker"].pid, signal.SIGKILL)
                stack.processes["worker"].wait()
                stack.worker_start()
                main_killed = True
                print(f"  {time.monotonic() - start:6.1f}s SIGKILL whole worker, started again", flush=True)
            wait_until(lambda: stack.worker_pool_children() not in ([], children), timeout=60, what="a new pool process")
        time.sleep(0.1)
    settled = time.monotonic() - start
    poison_rows = stack.sql("SELECT e.status, e.attempts FROM visualsearch_imageembedding e JOIN catalog_productimage i "
                            "ON i.id = e.image_id WHERE i.content_hash = ANY(%s)", (info["poison"],))
    time.sleep(10)
    poison_later = stack.sql("SELECT e.status, e.attempts FROM visualsearch_imageembedding e JOIN catalog_productimage i "
                             "ON i.id = e.image_id WHERE i.content_hash = ANY(%s)", (info["poison"],))
    result = summary(stack, 0, images)
    failed = result["status"].get("failed", 0)
    return {**result, "pool_kills": done_kills, "whole_worker_killed": main_killed, "seconds_to_settle": round(settled, 1),
            "poison": poison_rows, "poison_10s_later": poison_later,
            "innocent_images_failed_with_the_poison": failed - len(info["poison"])}


def scenario_redis(stack: Stack, *, images: int) -> dict:
    offset = 1000
    start = time.monotonic()
    ready_before = stack.embedding_states().get("ready", 0)
    ingest(stack, images, offset)
    worker = stack.processes["worker"]
    wait_until(lambda: stack.embedding_states().get("ready", 0) > ready_before + 16, timeout=300, what="progress")
    stack.redis_stop()
    time.sleep(5)
    stack.redis_start()
    time.sleep(5)
    stack.redis_stop(lose_data=True)
    lost_at = time.monotonic()
    time.sleep(5)
    stack.redis_start()
    wait_until(stack.all_settled, timeout=900, interval=1, what="settle")
    return {**summary(stack, offset, images), "seconds_to_settle": round(time.monotonic() - start, 1),
            "seconds_from_data_loss_to_settled": round(time.monotonic() - lost_at, 1),
            "same_worker_process": worker.poll() is None and stack.processes["worker"] is worker}


def scenario_postgres(stack: Stack, *, images: int) -> dict:
    import requests

    from shop.tests.faultkit import PROJECT_DIR

    offset = 2000
    url = stack.web_start()
    web = stack.processes["web"]
    photo = sorted((PROJECT_DIR / "var/demo/package/assets").glob("*.webp"))[offset].read_bytes()
    session = requests.Session()

    def search() -> int:
        try:
            return session.post(f"{url}/api/v1/search/image", files={"image": ("q.webp", photo, "image/webp")},
                                timeout=60).status_code
        except requests.RequestException:
            return -1

    ingest(stack, images, offset)
    search()  # model loaded in the web process
    wait_until(lambda: stack.embedding_states().get("pending", 0) > 0, timeout=60, what="ingest started")
    stack.postgres_stop()
    down_at = time.monotonic()
    during = Counter()
    while time.monotonic() - down_at < 10:
        during[search()] += 1
        during[session.get(f"{url}/", timeout=30).status_code] += 1
    stack.postgres_start()
    up_at = time.monotonic()
    after = Counter(search() for _ in range(5))
    first_ok = time.monotonic() - up_at
    wait_until(stack.all_settled, timeout=900, interval=1, what="settle")
    return {**summary(stack, offset, images), "answers_while_down": dict(during), "answers_after": dict(after),
            "seconds_to_first_answers_after_restart": round(first_ok, 1), "same_web_process": web.poll() is None,
            "seconds_from_restart_to_settled": round(time.monotonic() - up_at, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--poison", type=int, default=2)
    parser.add_argument("--only", choices=["kills", "redis", "postgres"])
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so `finally` stops the private servers
    stack = Stack.create(**FAST_RECOVERY)
    try:
        stack.start()
        print(f"private stack in {stack.var_dir}; settings {FAST_RECOVERY}", flush=True)
        if args.only in (None, "kills"):
            print("worker kills:", json.dumps(scenario_kills(stack, images=args.images, kills=args.kills,
                                                             poison=args.poison)), flush=True)
        if args.only in (None, "redis"):
            print("redis restart + data loss:", json.dumps(scenario_redis(stack, images=args.images * 2 // 3)), flush=True)
        if args.only in (None, "postgres"):
            print("postgres restart:", json.dumps(scenario_postgres(stack, images=args.images // 2)), flush=True)
    finally:
        stack.close()


if __name__ == "__main__":
    main()
