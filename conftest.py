"""Fixtures shared by every app's tests: real PostgreSQL + pgvector, real Redis, a real Celery worker."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

PROJECT_DIR = Path(__file__).resolve().parent
pytest_plugins = ["visualsearch.tests.fixtures"]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Each test stores uploads in its own folder, so a test can list exactly what was written."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    yield settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from visualsearch.selectors import active_model_key_forget
    from visualsearch.statistics import query_statistics_discard

    cache.clear()
    active_model_key_forget()  # a key remembered by an earlier test's (rolled back) database
    query_statistics_discard()  # query means gathered, and means read, by an earlier test
    yield


def media_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def photo_bytes(
    *, size=(320, 240), colour=(200, 40, 40), fmt="JPEG", shape: str = "circle", **save_kwargs
) -> bytes:
    """A small synthetic product photo: a coloured shape on a light background."""
    from PIL import ImageDraw

    image = Image.new("RGB", size, (245, 245, 240))
    draw = ImageDraw.Draw(image)
    w, h = size
    box = (w // 5, h // 5, 4 * w // 5, 4 * h // 5)
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    else:
        draw.rectangle(box, fill=colour)
    out = io.BytesIO()
    image.save(out, fmt, **save_kwargs)
    return out.getvalue()


def demo_asset_bytes(name: str) -> bytes:
    """A real product picture from the demo catalogue package (fetched by `make demo-assets`)."""
    path = settings.DEMO_ASSETS_DIR / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make demo-assets` (make test does it)")
    return path.read_bytes()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker in its own process, on the test database, the test queue and a shared media folder."""
    from django.db import connection

    from shop.celery import app

    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    media_root = tmp_path_factory.mktemp("worker-media")
    app.control.purge()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop.settings.test",
        "SHOP_DB_NAME": db_name,
        "MEDIA_ROOT": str(media_root),
        "SHOP_WEBHOOK_ALLOW_PRIVATE_URLS": "1",  # the tests' webhook receivers listen on loopback
        "OUTBOX_SEND_ON_COMMIT": "1",  # the worker's own events (embedding outcomes) are dispatched at once
    }
    log = open(settings.VAR_DIR / "test-worker.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "shop", "worker", "--loglevel", "INFO", "--concurrency", "1",
         "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--hostname", f"test-{os.getpid()}@%h", "--without-mingle",
         "--without-gossip"],
        cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the Celery worker did not start; see var/test-worker.log")
    process.media_root = media_root
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture
def celery_worker(celery_worker_process, settings, transactional_db):
    """Use in end-to-end tests: committed data, and uploads stored where the worker reads them."""
    settings.MEDIA_ROOT = celery_worker_process.media_root
    settings.OUTBOX_SEND_ON_COMMIT = True  # this test's writes wake the worker, as in production
    yield celery_worker_process
    # Before transactional_db's flush: its TRUNCATE deadlocked with the worker still dispatching the test's
    # outbox events (product.created, image.embedding_ready) once their embeddings were ready.
    _worker_idle_wait(settings.CELERY_TASK_DEFAULT_QUEUE)


def _worker_idle_wait(queue: str, *, timeout: float = 60.0) -> None:
    """Until the test worker has nothing queued, reserved or running, twice in a row (or no worker answers)."""
    from amqp.exceptions import ChannelError

    from shop.celery import app

    def idle() -> bool:
        with app.connection_for_read() as conn:
            try:
                if conn.default_channel.queue_declare(queue=queue, passive=True).message_count:
                    return False
            except ChannelError:  # Redis keeps no empty queue: nothing is waiting
                pass
        inspect = app.control.inspect(timeout=1.0)
        busy = [*((inspect.active() or {}).values()), *((inspect.reserved() or {}).values())]
        return not any(busy)

    wait_for(lambda: idle() and idle(), timeout=timeout, what="the test worker to finish its tasks")


def wait_for(predicate, *, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def outbox_drain() -> int:
    """Dispatch every pending outbox event in this process, as the worker would after commit (for tests that
    run inside one transaction, where on-commit hooks do not fire). Returns how many were dispatched."""
    from shop.outbox.models import Event, EventStatus
    from shop.outbox.services import events_dispatch

    ids = list(Event.objects.filter(status=EventStatus.PENDING).values_list("id", flat=True))
    return events_dispatch(event_ids=ids).dispatched


def production_env(**extra: str) -> dict[str, str]:
    """The environment of a process under shop.settings.production: a real secret key, loopback hosts."""
    import secrets

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,shop.example.com",
        **extra,
    }


@pytest.fixture(scope="session")
def production_static(tmp_path_factory) -> Path:
    """`collectstatic` under the production settings, once per session: hashed names, gzip copies, a manifest."""
    static_root = tmp_path_factory.mktemp("staticfiles")
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=PROJECT_DIR,
        env=production_env(STATIC_ROOT=str(static_root)), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert (static_root / "staticfiles.json").exists()
    return static_root
