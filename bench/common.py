"""Shared by the bench scripts: Django on a dedicated database, child processes, percentiles.

Every script works on its own database (created, migrated and dropped again, like a test database), its own
Redis database numbers and its own Celery queue, inside the embedded servers of ``SHOP_VAR_DIR`` (or the external
ones of DATABASE_URL / REDIS_URL). So a benchmark can run beside ``make run`` or a test run without touching
their data; what it started, it stops.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))


@dataclass(frozen=True)
class BenchEnv:
    var_dir: Path
    database: str
    queue: str
    redis_db: int
    embedded_was_running: bool

    def child_env(self, *, media_root: Path, **extra: str) -> dict[str, str]:
        """Environment for a worker or web process that must see the bench's database, queue and files."""
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
            "SHOP_VAR_DIR": str(self.var_dir),
            "SHOP_DB_NAME": self.database,
            "CELERY_QUEUE": self.queue,
            "SHOP_REDIS_DB": str(self.redis_db),
            "MEDIA_ROOT": str(media_root),
            **extra,
        }


def django_setup(*, database: str, queue: str, redis_db: int) -> BenchEnv:
    """Configure Django for a bench on its own Celery queue and Redis databases (before django.setup())."""
    var_dir = Path(os.environ.get("SHOP_VAR_DIR", PROJECT_DIR / "var"))
    os.environ["SHOP_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.dev")
    os.environ["CELERY_QUEUE"] = queue
    os.environ["SHOP_REDIS_DB"] = str(redis_db)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    was_running = (var_dir / "pgdata" / "postmaster.pid").exists()
    import django

    django.setup()  # settings start (or attach to) the embedded PostgreSQL and Redis
    return BenchEnv(
        var_dir=var_dir, database=database, queue=queue, redis_db=redis_db, embedded_was_running=was_running
    )


@contextlib.contextmanager
def bench_database(env: BenchEnv) -> Iterator[None]:
    """A fresh, migrated database named ``env.database`` for the duration; dropped afterwards."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    connection.settings_dict.setdefault("TEST", {})["NAME"] = env.database
    old = setup_databases(verbosity=0, interactive=False)
    try:
        yield  # on its own queue (django_setup), so a bench's outbox events reach only its own worker
    finally:
        from django.db import connections

        connections.close_all()
        teardown_databases(old, verbosity=0)


@contextlib.contextmanager
def media_dir() -> Iterator[Path]:
    """Uploads of the bench go to a temporary folder, removed afterwards."""
    from django.conf import settings

    with tempfile.TemporaryDirectory(prefix="shop-bench-media-") as folder:
        previous, settings.MEDIA_ROOT = settings.MEDIA_ROOT, Path(folder)
        try:
            yield Path(folder)
        finally:
            settings.MEDIA_ROOT = previous


def queue_purge() -> int:
    from shop.celery import app

    return app.control.purge() or 0


def embedded_stop_if_started(env: BenchEnv) -> None:
    """Stop the embedded servers when this bench started them (a fresh machine); leave them up otherwise."""
    if env.embedded_was_running or os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL"):
        return
    from django.db import connections

    from shop import embedded

    connections.close_all()
    embedded.redis_stop(env.var_dir)
    embedded.postgres_stop(env.var_dir)


@contextlib.contextmanager
def child_process(args: Sequence[str], *, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A child process (worker, web server) that is always ended, by its own pid, when the block leaves."""
    with open(log, "w") as handle:
        process = subprocess.Popen(list(args), cwd=PROJECT_DIR, env=env, stdout=handle, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def celery_worker(env: BenchEnv, *, media_root: Path, log: Path, concurrency: int = 1):
    return child_process(
        [sys.executable, "-m", "celery", "-A", "shop", "worker", "--loglevel", "WARNING",
         "--concurrency", str(concurrency), "-Q", env.queue, "--hostname", f"bench-{os.getpid()}@%h",
         "--without-mingle", "--without-gossip"],
        env=env.child_env(media_root=media_root),
        log=log,
    )


def celery_wait_ready(process: subprocess.Popen, *, timeout: float = 90.0) -> None:
    from shop.celery import app

    deadline = time.monotonic() + timeout
    while not app.control.ping(timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the Celery worker did not start (see its log)")


def wait_for(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def ms(values: Sequence[float]) -> str:
    """'p50 12.3 ms, p95 45.6 ms' of durations in seconds."""
    if not len(values):
        return "no samples"
    p50, p95 = np.percentile(np.asarray(values) * 1000.0, [50, 95])
    return f"p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  (n={len(values)})"


def machine_line() -> str:
    import torch

    load = os.getloadavg()
    return (
        f"{platform.node()}: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"load average {load[0]:.2f} at start"
    )


def shopper_photo(asset: Path, *, size: tuple[int, int], seed: int) -> bytes:
    """A shopper's photo of a catalogue product: the picture scaled up, off-centre, on a tinted backdrop, as a JPEG.

    Shoppers send camera photos, not 256 px catalogue files; decoding and re-encoding a large JPEG is part
    of what a search costs.
    """
    import io

    from PIL import Image

    rng = np.random.default_rng(seed)
    picture = Image.open(asset).convert("RGBA")
    width, height = size
    backdrop = Image.new("RGB", size, tuple(int(v) for v in rng.integers(180, 250, size=3)))
    side = int(min(width, height) * rng.uniform(0.55, 0.8))
    picture = picture.resize((side, side), Image.Resampling.BICUBIC).rotate(float(rng.uniform(-12, 12)), expand=True)
    left = int(rng.integers(0, max(1, width - picture.width)))
    top = int(rng.integers(0, max(1, height - picture.height)))
    backdrop.paste(picture, (left, top), picture)
    out = io.BytesIO()
    backdrop.save(out, "JPEG", quality=88)
    return out.getvalue()
