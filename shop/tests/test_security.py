"""Production settings, how uploaded media is served, the 503 page, and the shopper's photo leaving no trace."""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.test import Client

from conftest import PROJECT_DIR, media_files, photo_bytes

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "shop.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "shop.example.com",
}


def _production(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, env={**os.environ, **PRODUCTION_ENV, **env},
        capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_DIR, env={**os.environ, **PRODUCTION_ENV}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("secret", [None, "", "short-key"])
def test_production_refuses_to_start_without_a_real_secret_key(secret):
    env = {**os.environ, **PRODUCTION_ENV}
    env.pop("SECRET_KEY")
    if secret is not None:
        env["SECRET_KEY"] = secret
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=PROJECT_DIR, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SECRET_KEY" in result.stderr


_HEADERS_SCRIPT = """
import json, django
django.setup()
from django.test import Client
from django.conf import settings
client = Client()
plain = client.get("/search/photo/", HTTP_HOST="shop.example.com")
page = client.get("/search/photo/", HTTP_HOST="shop.example.com", secure=True)
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location")],
    "status": page.status_code,
    "headers": dict(page.headers),
    "cookies": {name: {"secure": bool(c["secure"]), "httponly": bool(c["httponly"]), "samesite": c["samesite"]}
                for name, c in page.cookies.items()},
    "debug": settings.DEBUG,
}))
"""


@pytest.mark.django_db
def test_production_pages_carry_hsts_csp_and_secure_cookies(production_static):
    # given the production settings on the (migrated, empty) test database, with collected static files
    result = _production(
        _HEADERS_SCRIPT, SHOP_DB_NAME=connection.settings_dict["NAME"], STATIC_ROOT=str(production_static)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])

    # then plain HTTP is sent to HTTPS, and the HTTPS page carries every header
    assert out["plain"] == [301, "https://shop.example.com/search/photo/"]
    assert out["status"] == 200 and out["debug"] is False
    headers = out["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    csp = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"  # no inline script, no eval, no third party
    assert csp["object-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
    assert out["cookies"]["csrftoken"]["secure"] is True


# --- media ---------------------------------------------------------------------------------------------------


@pytest.fixture
def media(_media_root) -> Path:
    (_media_root / "products" / "ab").mkdir(parents=True)
    return _media_root


def test_media_is_served_as_an_image_with_nosniff_and_a_sandbox(client, media):
    # given a stored file whose bytes are HTML (as if intake had been bypassed)
    (media / "products/ab/evil.jpg").write_bytes(b"<html><script>alert(document.cookie)</script></html>")
    (media / "products/ab/photo.jpg").write_bytes(photo_bytes())

    evil = client.get("/media/products/ab/evil.jpg")
    photo = client.get("/media/products/ab/photo.jpg")

    # then the type comes from the extension, browsers may not sniff it, and a rendered document is sandboxed
    for response in (evil, photo):
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"].endswith("; sandbox")
        assert "default-src 'none'" in response["Content-Security-Policy"]
    assert b"".join(photo.streaming_content) == photo_bytes()


def test_media_other_than_images_and_paths_outside_media_are_not_served(client, media, tmp_path):
    (media / "products/ab/page.html").write_text("<script>alert(1)</script>")
    (media / "products/ab/.hidden.jpg").write_bytes(photo_bytes())
    (tmp_path / "secret.jpg").write_bytes(photo_bytes())
    (media / "products/ab/link.jpg").symlink_to(tmp_path / "secret.jpg")

    for path in ["/media/products/ab/page.html", "/media/products/ab/.hidden.jpg", "/media/products/ab/link.jpg",
                 "/media/../secret.jpg", "/media/products/ab/%2e%2e/%2e%2e/../secret.jpg", "/media/",
                 "/media/products/ab/missing.jpg", "/media/products/ab/photo.jpg%00.html"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_media_answers_conditional_requests_and_refuses_writes(client, media):
    (media / "products/ab/photo.jpg").write_bytes(photo_bytes())
    first = client.get("/media/products/ab/photo.jpg")

    again = client.get("/media/products/ab/photo.jpg", HTTP_IF_NONE_MATCH=first["ETag"])
    post = client.post("/media/products/ab/photo.jpg", {"x": "1"})

    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    assert post.status_code == 405


# --- 503 when the database is unreachable --------------------------------------------------------------------


@pytest.mark.django_db
def test_page_gets_a_friendly_503_when_the_database_is_unreachable(monkeypatch):
    from shop.storefront import views

    def down(*args, **kwargs):
        raise OperationalError("connection to server on socket failed: No such file or directory")

    monkeypatch.setattr(views, "product_body", down)  # the product page's catalogue read
    response = Client(raise_request_exception=False).get("/p/anything/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "The shop is unavailable for a moment" in response.content.decode()


@pytest.mark.django_db
def test_photo_search_gets_a_friendly_503_when_redis_is_unreachable(monkeypatch, fake_photo_query):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from shop.storefront import views

    def down(**kwargs):
        raise RedisConnectionError("Error 2 connecting to unix socket: No such file or directory.")

    monkeypatch.setattr(views, "query_vector_remember", down)  # the query vector goes to the Redis cache
    response = Client(raise_request_exception=False).post(
        "/search/photo/", {"image": SimpleUploadedFile("q.jpg", photo_bytes(), content_type="image/jpeg")}
    )

    assert response.status_code == 503
    assert "The shop is unavailable for a moment" in response.content.decode()


@pytest.fixture
def fake_photo_query(monkeypatch):
    """The model is not what these tests are about: a fixed vector for any accepted photo."""
    import numpy as np

    from shop.storefront import views
    from visualsearch.selectors import PhotoQuery

    monkeypatch.setattr(
        views, "photo_query",
        lambda data, **kwargs: PhotoQuery(model_key="effnet-lite1-avg-240", vector=np.ones(1280, "float32"), box=None),
    )


@pytest.mark.django_db
def test_a_programming_error_is_still_a_500(monkeypatch):
    from django.db import ProgrammingError

    from shop.storefront import views

    def bug(*args, **kwargs):
        raise ProgrammingError("column does not exist")

    monkeypatch.setattr(views, "product_body", bug)
    assert Client(raise_request_exception=False).get("/p/anything/").status_code == 500


# --- the shopper's photo leaves no trace ---------------------------------------------------------------------


def _files_under(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def _table_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
    return counts


@pytest.mark.django_db
def test_query_photo_leaves_no_trace_on_disk_in_logs_or_in_the_database(_media_root, caplog, settings, monkeypatch):
    # given a 3 MB photo (over Django's default 2.5 MB in-memory threshold) with a recognisable name and marker
    from django.core.cache import cache

    marker = b"PRIVATE-HOLIDAY-" + secrets.token_hex(8).encode()
    photo = photo_bytes(size=(1600, 1200), quality=100, comment=marker)
    photo += b"\x00" * (3_000_000 - len(photo))  # padding after the picture: decoders ignore it
    name = "my-private-holiday-photo.jpg"
    temp_dir = Path(tempfile.gettempdir())
    temp_before = {p.name for p in temp_dir.iterdir()}
    var_before = _files_under(settings.VAR_DIR)  # this engineer's own PostgreSQL, Redis, logs
    counts_before = _table_counts()
    caplog.set_level(logging.DEBUG)
    # A temp upload file is deleted when the request ends, so listing folders afterwards would miss it: spy on
    # its creation too.
    from django.core.files import uploadedfile

    temp_uploads = []
    real_init = uploadedfile.TemporaryUploadedFile.__init__
    monkeypatch.setattr(uploadedfile.TemporaryUploadedFile, "__init__",
                        lambda self, *a, **k: temp_uploads.append(a) or real_init(self, *a, **k))

    # when a shopper searches with it on the page and through the API
    page = Client().post("/search/photo/", {"image": SimpleUploadedFile(name, photo, content_type="image/jpeg")})
    api = Client().post("/api/v1/search/image", {"image": SimpleUploadedFile(name, photo, content_type="image/jpeg")})

    # then it worked
    assert page.status_code == 302 and api.status_code == 200
    # and no upload temp file was made (Django would write tmpXXXX.upload.jpg into the temp folder)
    new_temp = [n for n in {p.name for p in temp_dir.iterdir()} - temp_before if ".upload" in n]
    assert new_temp == [] and temp_uploads == []
    # and no file in the var folder (database, Redis append-only file, logs) or media holds its bytes or name
    var_after = _files_under(settings.VAR_DIR)
    touched = [p for p, mtime in var_after.items() if var_before.get(p) != mtime] + media_files(_media_root)
    assert media_files(_media_root) == []
    leaks = [str(p) for p in touched if p.exists() and (marker in p.read_bytes() or name.encode() in p.read_bytes())]
    assert leaks == []
    # and no log line names the file or holds its bytes
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert name not in logged and marker.decode() not in logged
    # and no table gained a row but the interaction log's list of what the API search showed (product ids and the
    # query vector: the database files were scanned for the photo's bytes and name above), once its buffer is
    # flushed
    from recommendations.services import log_flush

    log_flush()
    assert _table_counts() == {**counts_before, "recommendations_shown": counts_before["recommendations_shown"] + 1}
    # and the cache holds the query vector (float16) only, never the photo
    redis = cache._cache.get_client()
    values = [redis.get(key) for key in redis.keys("*") if redis.type(key) == b"string"]
    values += [item for key in redis.keys("*") if redis.type(key) == b"list" for item in redis.lrange(key, 0, -1)]
    assert not any(marker in value or photo[:2048] in value for value in values)
