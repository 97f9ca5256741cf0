"""Reading a batch of photos (a folder, a zip, several uploaded files) and the lists that come with it: an outside
listings CSV (``file,title,price,url``) or a delivery's expected list (``sku,quantity``). Shared by
``manage.py match_outside`` and the batch jobs, so both read a zip and a CSV the same way. Nothing here writes.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings

from visualsearch.errors import ErrorCode as ImageErrorCode
from visualsearch.errors import ImageRejected
from visualsearch.intake import image_intake
from visualsearch.selectors import intake_limits

from .errors import ErrorCode, JobRejected
from .identify import OutsideListing

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".avif"}
"""Zip members and folder files read as photos, by name (the intake then judges the bytes); the rest of a zip
(a notes.txt, the listings CSV packed along) is left alone."""


def _photo_name(name: str) -> bool:
    parts = name.split("/")
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in parts)
    return not hidden and Path(name).suffix.lower() in PHOTO_SUFFIXES


def zip_photos(archive: zipfile.ZipFile, *, max_bytes: int) -> Iterator[tuple[str, bytes | ImageRejected]]:
    """(name, bytes) of each photo member in name order; instead of bytes, the refusal of a member that is larger
    than ``max_bytes`` (it is never unpacked: a zip bomb stays packed) or cannot be unpacked."""
    for info in sorted(archive.infolist(), key=lambda i: i.filename):
        if info.is_dir() or not _photo_name(info.filename):
            continue
        if info.file_size > max_bytes:
            yield info.filename, ImageRejected(ImageErrorCode.IMAGE_TOO_LARGE, limit_mb=max_bytes // (1024 * 1024))
            continue
        try:
            with archive.open(info) as member:
                data = member.read(max_bytes + 1)  # a header that lies about the size is caught here
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError):
            yield info.filename, ImageRejected(ImageErrorCode.IMAGE_TRUNCATED)  # damaged, encrypted, unknown method
            continue
        if len(data) > max_bytes:
            yield info.filename, ImageRejected(ImageErrorCode.IMAGE_TOO_LARGE, limit_mb=max_bytes // (1024 * 1024))
            continue
        yield info.filename, data


def folder_or_zip_photos(path: Path) -> Iterator[tuple[str, bytes | ImageRejected]]:
    """(name inside PATH, bytes) of every photo in a folder or a zip, in name order. Raises ValueError for a path
    that is neither."""
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file() and _photo_name(str(p.relative_to(path)))):
            yield str(file.relative_to(path)), file.read_bytes()
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            yield from zip_photos(archive, max_bytes=intake_limits().max_bytes)
    else:
        raise ValueError(f"{path} is neither a folder nor a zip file")


def _csv_rows(text: str, *, required: set[str], what: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = required - {(name or "").strip().lower() for name in (reader.fieldnames or [])}
    if missing:
        raise JobRejected(ErrorCode.CSV_INVALID, f"The {what} needs the columns {', '.join(sorted(required))} "
                                                 f"in its first line (missing: {', '.join(sorted(missing))}).")
    for line, row in enumerate(reader, start=2):
        yield line, {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(v, str)}


def listings_read(text: str) -> dict[str, OutsideListing]:
    """Outside listings by file name from a ``file,title,price,url`` CSV (title, price and url may be empty; a
    price that is not a number is left out). Raises JobRejected(CSV_INVALID) without a ``file`` column."""
    found = {}
    for _line, row in _csv_rows(text, required={"file"}, what="listings CSV"):
        try:
            price = Decimal(row["price"]) if row.get("price") else None
        except InvalidOperation:
            price = None
        if row["file"]:
            found[row["file"]] = OutsideListing(file=row["file"], title=row.get("title", ""), price=price,
                                                url=row.get("url", ""))
    return found


@dataclass(frozen=True)
class ExpectedLine:
    sku: str
    quantity: int


def expected_read(text: str) -> list[ExpectedLine]:
    """A delivery's expected list from a ``sku,quantity`` CSV, in its order; a SKU on two lines adds up. Raises
    JobRejected(CSV_INVALID) naming the first line that is wrong."""
    totals: dict[str, int] = {}
    for line, row in _csv_rows(text, required={"sku", "quantity"}, what="expected list"):
        if not row.get("sku") and not row.get("quantity"):
            continue
        try:
            quantity = int(row.get("quantity", ""))
        except ValueError:
            quantity = -1
        if not row.get("sku") or quantity < 1:
            raise JobRejected(ErrorCode.CSV_INVALID,
                              f"Line {line} of the expected list needs a SKU and a quantity of at least 1.")
        totals[row["sku"]] = totals.get(row["sku"], 0) + quantity
    return [ExpectedLine(sku=sku, quantity=quantity) for sku, quantity in totals.items()]


@dataclass(frozen=True)
class AcceptedPhoto:
    name: str
    jpeg: bytes
    """The intake's re-encoded JPEG: what is stored, never the upload itself."""


@dataclass(frozen=True)
class RefusedPhoto:
    name: str
    code: str
    message: str


@dataclass(frozen=True)
class JobPhotos:
    accepted: list[AcceptedPhoto]
    refused: list[RefusedPhoto]


def _zip_open(data: bytes) -> zipfile.ZipFile | None:
    """The upload as a zip, or None when it is not one that can be read (then it is a photo, or refused as one)."""
    if data[:4] != b"PK\x03\x04":
        return None
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
        return None


def job_photos_read(*, files: list[tuple[str, bytes]]) -> JobPhotos:
    """Every uploaded file through the one intake, a zip's photo members one by one.

    A refused file or member is listed with the intake's message and the rest proceeds. Raises the intake's
    ImageRejected when the only file sent is refused (the same answer as every other upload point; a zip that
    cannot be read is judged as a photo), JobRejected when nothing acceptable is left or there are more than
    STAFFTOOLS_MAX_PHOTOS.
    """
    limits = intake_limits()
    accepted: list[AcceptedPhoto] = []
    refused: list[RefusedPhoto] = []
    rejections: list[ImageRejected] = []

    def take(name: str, data: bytes | ImageRejected) -> None:
        if len(accepted) + len(refused) >= settings.STAFFTOOLS_MAX_PHOTOS:
            raise JobRejected(ErrorCode.JOB_TOO_MANY_PHOTOS,
                              f"A job takes at most {settings.STAFFTOOLS_MAX_PHOTOS} photos; split the delivery.")
        try:
            if isinstance(data, ImageRejected):
                raise data
            accepted.append(AcceptedPhoto(name=name, jpeg=image_intake(data, limits=limits).jpeg))
        except ImageRejected as error:
            rejections.append(error)
            refused.append(RefusedPhoto(name=name, code=error.code.value, message=error.message))

    for name, data in files:
        archive = _zip_open(data)
        if archive is None:
            take(name, data)  # a photo, or a file that only looks like a zip: the intake says what it is
            continue
        with archive:
            for member, content in zip_photos(archive, max_bytes=limits.max_bytes):
                take(member, content)
    if not accepted:
        if len(files) == 1 and len(rejections) == 1 and _zip_open(files[0][1]) is None:
            raise rejections[0]
        detail = "; ".join(f"{r.name}: {r.message}" for r in refused[:10])
        raise JobRejected(ErrorCode.JOB_NO_PHOTOS, "No photo to work on" + (f" ({detail})." if detail else "."))
    return JobPhotos(accepted=accepted, refused=refused)
