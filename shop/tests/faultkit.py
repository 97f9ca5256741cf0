"""Fault-injection harness: a private PostgreSQL + Redis in a var dir of its own, and real worker, beat and web
processes on them, so tests (``shop/tests/test_faults.py``) and ``bench/faults.py`` can kill, stop and restart
things without touching the servers the rest of the suite uses. Everything is on unix sockets or loopback.

``python -m shop.tests.faultkit worker|ingest`` are the child processes' entry points (run with the stack's env).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
PYTHON = sys.executable
# Variables of the calling process that would point a child at the suite's own servers or database.
_STRIP = {"SHOP_DB_NAME", "DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "SHOP_VAR_DIR", "XDG_RUNTIME_DIR",
          "DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST"}


@dataclass
class Stack:
    var_dir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    socket_dir: str = ""

    @classmethod
    def create(cls, **env: str) -> "Stack":
        # Short path under /tmp: unix socket paths are limited to 107 bytes.
        return cls(var_dir=Path(tempfile.mkdtemp(prefix="shop-fault-")), env_extra=env)

    # --- environment and plain commands ---------------------------------------------------------------
    def env(self, **more: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k not in _STRIP}
        return {
            **base,
            "SHOP_VAR_DIR": str(self.var_dir),
            "XDG_RUNTIME_DIR": str(self.var_dir / "run"),
            "DJANGO_SETTINGS_MODULE": "shop.settings.test",
            "MEDIA_ROOT": str(self.var_dir / "media"),
            "FAULTKIT_POISON_FILE": str(self.var_dir / "poison.txt"),
            "FAULTKIT_KILL_FILE": str(self.var_dir / "kill-once.txt"),
            "PYTHONUNBUFFERED": "1",
            "OUTBOX_SEND_ON_COMMIT": "1",
            **self.env_extra,
            **more,
        }

    def run(self, *argv: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        result = subprocess.run(list(argv), cwd=PROJECT_DIR, env=self.env(**env), capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{argv} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        return result

    def manage(self, *args: str, timeout: float = 300) -> str:
        return self.run(PYTHON, "manage.py", *args, timeout=timeout).stdout

    # --- PostgreSQL and Redis -------------------------------------------------------------------------
    def services_start(self) -> None:
        out = self.run(PYTHON, "-m", "shop.embedded", "start", "--var-dir", str(self.var_dir), timeout=120).stdout
        self.socket_dir = out.split("postgres: socket ", 1)[1].split(",", 1)[0]

    def postgres_stop(self) -> None:
        from shop import embedded

        embedded.postgres_stop(self.var_dir)

    def postgres_start(self) -> None:
        self.services_start()

    def redis_stop(self, *, lose_data: bool = False) -> None:
        from shop import embedded

        embedded.redis_stop(self.var_dir)
        if lose_data:  # the append-only file and any snapshot: Redis comes back empty
            redis_dir = self.var_dir / "redis"
            shutil.rmtree(redis_dir / "appendonlydir", ignore_errors=True)
            for leftover in [*redis_dir.glob("*.aof"), *redis_dir.glob("*.rdb")]:
                leftover.unlink()

    def redis_start(self) -> None:
        self.services_start()

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(host=self.socket_dir, user="postgres", dbname="shop", connect_timeout=5) as conn:
            return conn.execute(query, params).fetchall()

    # --- processes ------------------------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        log = open(self.var_dir / f"{name}.log", "a")
        process = subprocess.Popen(argv, cwd=PROJECT_DIR, env=self.env(**env), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[name] = process
        return process

    def start(self) -> None:
        """PostgreSQL, Redis, migrations, a worker and beat: the shop's back end, privately."""
        self.services_start()
        self.manage("migrate", "--noinput")
        self.worker_start()
        self.beat_start()

    def worker_start(self, **env: str) -> subprocess.Popen:
        return self.spawn("worker", [PYTHON, "-m", "shop.tests.faultkit", "worker"], **env)

    def beat_start(self, **env: str) -> subprocess.Popen:
        return self.spawn("beat", [PYTHON, "-m", "celery", "-A", "shop", "beat", "--loglevel", "INFO",
                                   "--schedule", str(self.var_dir / "beat-schedule")], **env)

    def web_start(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.spawn("web", [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--nothreading"])
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _port_open(port), timeout=90, what="the web server")
        return url

    def worker_pool_children(self) -> list[int]:
        import psutil

        worker = self.processes.get("worker")
        if worker is None or worker.poll() is not None:
            return []
        # A killed child stays a zombie until the main process reaps it: not a pool process any more.
        return [child.pid for child in psutil.Process(worker.pid).children() if child.status() != psutil.STATUS_ZOMBIE]

    def worker_busy_child(self) -> int | None:
        """The pool process's pid while it is embedding: it has claimed rows since it started, not yet done.

        (Rows claimed by an earlier, killed process stay claimed until their lease ends: they do not count.)
        """
        import psutil

        for pid in self.worker_pool_children():
            started = psutil.Process(pid).create_time()
            busy = self.sql("SELECT count(*) FROM visualsearch_imageembedding WHERE status = 'pending' "
                            "AND claimed_at > to_timestamp(%s)", (started,))[0][0]
            if busy:
                return pid
        return None

    def log(self, name: str) -> str:
        path = self.var_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        from shop import embedded

        embedded.redis_stop(self.var_dir)
        embedded.postgres_stop(self.var_dir)
        shutil.rmtree(self.var_dir, ignore_errors=True)

    # --- the catalogue's embedding state --------------------------------------------------------------
    def embedding_states(self) -> dict[str, int]:
        return dict(self.sql("SELECT status, count(*) FROM visualsearch_imageembedding GROUP BY status"))

    def all_settled(self) -> bool:
        states = self.embedding_states()
        return bool(states) and states.get("pending", 0) == 0


def stack_running(**env: str):
    """A started Stack for a module-scoped fixture: ``yield from stack_running(...)``; closed afterwards."""
    stack = Stack.create(**env)
    try:
        stack.start()
        yield stack
    finally:
        stack.close()


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate, *, timeout: float, interval: float = 0.25, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # a server being restarted: ask again
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


# --- child entry points ----------------------------------------------------------------------------------------
def _worker() -> None:
    """A real Celery worker whose pool process dies (SIGKILL, like the OOM killer) on a poison image.

    The poison list is a file of content hashes, read on every image, so a test can name poison after start.
    Only this wrapper knows about poison: the shop's code runs unchanged.
    """
    import django

    django.setup()
    from visualsearch import services

    real_open = services.stored_image_open
    poison_file = Path(os.environ["FAULTKIT_POISON_FILE"])

    def stored_image_open(data: bytes, **options):
        if poison_file.exists() and hashlib.sha256(data).hexdigest() in poison_file.read_text().split():
            os.kill(os.getpid(), signal.SIGKILL)
        return real_open(data, **options)

    services.stored_image_open = stored_image_open
    _outbox_kill_points()
    from celery.__main__ import main

    from django.conf import settings

    sys.argv = ["celery", "-A", "shop", "worker", "--loglevel", "INFO", "--concurrency", "1", "-Q",
                settings.CELERY_TASK_DEFAULT_QUEUE, "--without-mingle", "--without-gossip", "--hostname",
                f"fault-{os.getpid()}@%h"]
    main()


def _outbox_kill_points() -> None:
    """Let a test kill the worker's pool process once at a chosen point of an outbox dispatch.

    ``kill-once.txt`` names the point: ``in-handler`` (the webhook subscriber has written its deliveries, the
    dispatch transaction is still open) or ``after-dispatch`` (committed, the task not yet acknowledged). The file is
    removed before the kill, so the redelivered message runs normally.
    """
    from shop.outbox import services as outbox_services
    from shop.outbox import subscribers

    kill_file = Path(os.environ["FAULTKIT_KILL_FILE"])

    def kill_once(point: str) -> None:
        if kill_file.exists() and kill_file.read_text().strip() == point:
            kill_file.unlink()
            os.kill(os.getpid(), signal.SIGKILL)

    for subscriber in subscribers.subscribers_for("product.created"):
        def handler(event, _real=subscriber.handler):
            _real(event)
            kill_once("in-handler")

        subscribers.subscribe(name=subscriber.name, topics=list(subscriber.topics), handler=handler)
    real_dispatch = outbox_services.events_dispatch

    def events_dispatch(**kwargs):
        outcome = real_dispatch(**kwargs)
        kill_once("after-dispatch")
        return outcome

    outbox_services.events_dispatch = events_dispatch


def _webhook_endpoint(url: str) -> None:
    """A staff user's webhook endpoint for product.created (staff endpoints hear every product)."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from shop.partners.models import WebhookEndpoint

    owner, _ = get_user_model().objects.get_or_create(username="fault-staff", defaults={"is_staff": True})
    endpoint = WebhookEndpoint.objects.create(owner=owner, url=url, events=["product.created"])
    print(json.dumps({"endpoint": endpoint.id}))


def _products(count: int, offset: int) -> None:
    """Create ``count`` products, each in its own transaction (each records its product.created event)."""
    import django

    django.setup()
    from decimal import Decimal

    from catalog.services import ProductData, category_get_or_create_path, product_create

    category = category_get_or_create_path(path="Fault/Outbox")
    ids = [
        product_create(data=ProductData(sku=f"O-{offset + n}", name=f"Outbox {offset + n}", category=category,
                                        price=Decimal("2.00"))).id
        for n in range(count)
    ]
    print(json.dumps({"products": ids}))


def _ingest(count: int, poison: int, offset: int) -> None:
    """Add ``count`` demo pictures as products (one image each) and send them to the workers in batches."""
    import django

    django.setup()
    from decimal import Decimal

    from django.conf import settings
    from django.db import transaction

    from catalog.services import ProductData, category_get_or_create_path, product_create

    from visualsearch.services import product_image_add
    from visualsearch.services import embeddings_enqueue

    assets = sorted(settings.DEMO_ASSETS_DIR.glob("*.webp"))[offset : offset + count]
    category = category_get_or_create_path(path="Fault/Ingest")
    pending, hashes = [], []
    with transaction.atomic():
        for n, asset in enumerate(assets):
            product = product_create(data=ProductData(sku=f"F-{offset + n}", name=asset.stem, category=category,
                                                      price=Decimal("1.00")))
            image, _ = product_image_add(product=product, data=asset.read_bytes(), enqueue=False)
            pending += list(image.embeddings.values_list("id", flat=True))
            hashes.append(image.content_hash)
        poisoned = hashes[len(hashes) // 2 : len(hashes) // 2 + poison]
        if poisoned:  # named before the commit sends the work out
            with open(os.environ["FAULTKIT_POISON_FILE"], "a") as handle:
                handle.write("\n".join(poisoned) + "\n")
        embeddings_enqueue(pending)
    print(json.dumps({"images": len(assets), "embeddings": len(pending), "poison": poisoned}))


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT_DIR))
    if sys.argv[1] == "worker":
        _worker()
    elif sys.argv[1] == "webhook-endpoint":
        _webhook_endpoint(sys.argv[2])
    elif sys.argv[1] == "products":
        _products(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1] == "ingest":
        _ingest(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
