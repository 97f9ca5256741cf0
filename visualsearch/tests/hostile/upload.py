"""Helpers to send hostile files the way a hostile client would, and to judge what the shop did with them."""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

from PIL import Image

from visualsearch.errors import MESSAGES, ErrorCode

from .corpus import SECRET


def multipart(*, fields: dict[str, str], file_field: str, file_name: str, data: bytes,
              content_type: str) -> tuple[bytes, str]:
    """A multipart body with the file name written raw (quotes, newlines, NUL and all).

    Django's test client would clean the name first (``os.path.basename``); browsers and scripts do not.
    """
    boundary = uuid.uuid4().hex
    parts = []
    for key, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="'.encode()
        + file_name.encode("utf-8", "surrogateescape")
        + f'"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _pattern(template: str) -> re.Pattern[str]:
    # the templates' named placeholders, ``%(limit_mb)s``, stand for any filled-in value
    return re.compile("^" + re.sub(r"%\\\(\w+\\\)s", ".+", re.escape(template)) + "$")


_PATTERNS = {code: _pattern(template) for code, template in MESSAGES.items()}


MALFORMED = "malformed_request"
"""What a request Django cannot parse gets (a part header over Django's 1 KB ceiling): the 400 page or DRF's
ParseError. Not an ErrorCode: the request never reached our code."""
MALFORMED_PAGE_TEXT = "We could not read this request."  # templates/400.html

# Clear messages the frameworks give before our intake runs, and the code they stand for.
_FRAMEWORK_MESSAGES = {
    "The submitted file is empty.": ErrorCode.IMAGE_EMPTY,  # Django forms and DRF, for a 0-byte file
}


def code_of_message(message: str) -> ErrorCode | str | None:
    """The error code whose (filled-in) message this is, or None for a message that is not a clear one."""
    message = message.strip()
    for code, pattern in _PATTERNS.items():
        if pattern.match(message):
            return code
    if message in _FRAMEWORK_MESSAGES:
        return _FRAMEWORK_MESSAGES[message]
    if message.startswith(MALFORMED_PAGE_TEXT) or message.startswith("Multipart form parse error"):
        return MALFORMED
    return None


# Markers of metadata containers in a JPEG file: APP1 (EXIF, XMP), APP2 (ICC), APP13 (IPTC), COM.
_FORBIDDEN_MARKERS = {0xE1: "APP1 (EXIF/XMP)", 0xE2: "APP2 (ICC)", 0xED: "APP13 (IPTC)", 0xFE: "COM (comment)"}


def jpeg_segments(data: bytes) -> list[int]:
    """The marker bytes of a JPEG's header segments, up to the first scan."""
    markers, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return markers


def stored_file_problems(path: Path) -> list[str]:
    """What is wrong with a file the shop stored: it must be a plain re-encoded JPEG with no metadata."""
    data = path.read_bytes()
    problems = []
    image = Image.open(io.BytesIO(data))
    image.load()
    if image.format != "JPEG" or image.mode != "RGB":
        problems.append(f"{path.name}: stored as {image.format} {image.mode}")
    if dict(image.getexif()):
        problems.append(f"{path.name}: EXIF left: {dict(image.getexif())}")
    for key in ("exif", "xmp", "comment", "icc_profile", "photoshop"):
        if key in image.info:
            problems.append(f"{path.name}: {key} left in the file")
    for marker in jpeg_segments(data):
        if marker in _FORBIDDEN_MARKERS:
            problems.append(f"{path.name}: has a {_FORBIDDEN_MARKERS[marker]} segment")
    for needle in (SECRET, b"Exif\x00\x00", b"http://ns.adobe.com/xap", b"<script", b"<html"):
        if needle in data:
            problems.append(f"{path.name}: contains {needle!r}")
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        problems.append(f"{path.name}: bytes after the end of the picture")
    return problems
