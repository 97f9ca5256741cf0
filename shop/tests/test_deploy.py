"""The production entry point itself: the Procfile's web command (gunicorn + shop/gunicorn.conf.py) under
shop.settings.production, DEBUG off, static files collected and served by WhiteNoise, on a loopback port."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.db import connection

from conftest import PROJECT_DIR, demo_asset_bytes, production_env, wait_for
from shop.partners.tests.api.fixtures import UserFactory, key_for
from visualsearch.tests.fixtures import query_copy


def procfile_command(process: str) -> list[str]:
    """The command line of one process type in the Procfile, as a Procfile runner would start it."""
    for line in (PROJECT_DIR / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return shlex.split(command)
    raise AssertionError(f"no {process!r} process in the Procfile")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn_server(transactional_db, production_static, _media_root, tmp_path):
    """The Procfile's web process on a free loopback port, on the test database and this test's media folder."""
    command = procfile_command("web")
    assert command[0] == "gunicorn"
    port = free_port()
    env = production_env(
        SHOP_DB_NAME=connection.settings_dict["NAME"],
        STATIC_ROOT=str(production_static),
        MEDIA_ROOT=str(_media_root),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
        # Plain HTTP on loopback: in a deployment TLS ends at the proxy in front (SHOP_BEHIND_TLS_PROXY).
        SECURE_SSL_REDIRECT="False",
    )
    env.pop("DEBUG", None)  # production decides
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), *command[1:]], cwd=PROJECT_DIR, env=env, stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            requests.get(f"{base}/robots.txt", timeout=2)
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a worker still starting
            return False
        return True

    try:
        wait_for(answering, timeout=90, interval=0.3, what="gunicorn to listen")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        print(log_path.read_text()[-4000:])  # shown by pytest when the test failed


@pytest.mark.e2e
def test_gunicorn_serves_pages_hashed_static_files_and_photo_search_under_production_settings(
    catalogue, gunicorn_server
):
    base = gunicorn_server

    # when a shopper opens the home page
    home = requests.get(f"{base}/", timeout=60)

    # then it is the shop, from the database, linking its stylesheet by a content-hashed name
    assert home.status_code == 200, home.text[:2000]
    assert "Guitar" in home.text
    stylesheet = re.search(r'href="(/static/shop/shop\.[0-9a-f]{12}\.css)"', home.text)
    assert stylesheet, re.findall(r'href="(/static/[^"]+)"', home.text)
    # and that file is served by WhiteNoise from the collected folder, cached for good, gzipped when asked
    css = requests.get(f"{base}{stylesheet.group(1)}", headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert css.headers["Cache-Control"] == "max-age=315360000, public, immutable"
    assert css.headers["Content-Encoding"] == "gzip"
    assert css.text == (PROJECT_DIR / "static/shop/shop.css").read_text()
    # and the unhashed name is not served: only what collectstatic collected
    assert requests.get(f"{base}/static/shop/does-not-exist.css", timeout=30).status_code == 404

    # and DEBUG is off: a missing page is the shop's 404, not Django's technical page
    missing = requests.get(f"{base}/p/no-such-product/", timeout=30)
    assert missing.status_code == 404
    assert "URLconf" not in missing.text and "DEBUG = True" not in missing.text

    # when a partner app searches by a shopper's copy of the guitar's photo
    photo = query_copy(demo_asset_bytes("1f3b8.webp"))
    search = requests.post(
        f"{base}/api/v1/search/image", headers={"X-Api-Key": key_for(UserFactory(), "read")},
        files={"image": ("photo.jpg", photo, "image/jpeg")}, data={"limit": "3"}, timeout=120,
    )

    # then the guitar comes first, with its picture served from the media folder
    assert search.status_code == 200, search.text[:2000]
    first = search.json()["results"][0]
    assert first["product_id"] == catalogue["Guitar"].id
    assert first["image_url"].startswith(f"{base}/media/products/")
    picture = requests.get(first["image_url"], timeout=30)
    assert picture.status_code == 200 and picture.headers["Content-Type"] == "image/jpeg"


def test_docker_compose_runs_the_procfile_commands():
    # given the compose file (docker cannot run in the suite; the web command is the one tested above)
    import yaml

    services = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())["services"]

    # then web, worker and beat run exactly the Procfile's commands, and migrate its release step
    for service, process in (("web", "web"), ("worker", "worker"), ("beat", "beat"), ("migrate", "release")):
        assert shlex.split(services[service]["command"]) == procfile_command(process), service
    # and they share the database, Redis, the queue's name and the media volume
    for service in ("web", "worker", "beat", "migrate"):
        assert services[service]["environment"]["DATABASE_URL"].endswith("@db:5432/shop")
        assert services[service]["environment"]["REDIS_URL"] == "redis://redis:6379"
        assert services[service]["environment"]["CELERY_QUEUE"] == "${CELERY_QUEUE:-shop}"
        assert "media:/app/var/media" in services[service]["volumes"]
    assert services["db"]["image"].startswith("pgvector/pgvector:")
    # and Redis keeps the interaction log's waiting rows across a restart (append-only file on a volume)
    assert services["redis"]["command"][:3] == ["redis-server", "--appendonly", "yes"]
    assert services["redis"]["volumes"] == ["redisdata:/data"]
