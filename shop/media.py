"""Serve uploaded media (product photos) safely, in every environment, the way WhiteNoise serves static files.

Media files came from strangers. Even though intake re-encodes every photo to a fresh JPEG, this layer does not
trust what is on disk: only image extensions are served, each with the Content-Type its extension names (never
sniffed from the bytes), ``X-Content-Type-Options: nosniff``, and a ``Content-Security-Policy`` with ``sandbox``
so that a file a browser somehow renders as a document runs no script and has no origin. Anything else under
MEDIA_URL is a 404.

A middleware (not a URL pattern) so it answers before sessions, CSRF and the database: a photo request costs a
file open. Sites that put media on a CDN or object storage set ``SHOP_SERVE_MEDIA=false`` and configure the
same headers there.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from urllib.parse import unquote

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseNotModified
from django.utils.http import http_date, quote_etag
from django.views.static import was_modified_since

# The only types uploads are stored as (intake writes JPEG) plus the two other photo types, should an operator
# copy some in. Extension -> Content-Type, never guessed from the file's bytes.
CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
    "Cross-Origin-Resource-Policy": "same-site",
    "Content-Disposition": "inline",
}
PRIVATE_DIR = "private"
"""Files under MEDIA_ROOT/private/ (outside listings' and deliveries' photos of staff jobs) are never served here:
staff see them through their own pages."""
# Stored names are content hashes and are never rewritten in place: a day of caching is safe.
CACHE_CONTROL = "public, max-age=86400"


def media_path(relative: str) -> Path | None:
    """The file under MEDIA_ROOT that ``relative`` names, or None (traversal, hidden or unknown type)."""
    cleaned = posixpath.normpath(unquote(relative)).lstrip("/")
    parts = cleaned.split("/")
    if cleaned in ("", ".") or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    if parts[0] == PRIVATE_DIR:
        return None
    if "\x00" in cleaned or posixpath.splitext(cleaned)[1].lower() not in CONTENT_TYPES:
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / cleaned).resolve()
    if root not in path.parents or not path.is_file():  # resolve() follows links: none may lead out
        return None
    return path


def media_response(request: HttpRequest, relative: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    path = media_path(relative)
    if path is None:
        raise Http404("no such file")
    stat = path.stat()
    etag = quote_etag(f"{stat.st_mtime_ns:x}-{stat.st_size:x}")
    if request.headers.get("If-None-Match") == etag or not was_modified_since(
        request.headers.get("If-Modified-Since"), stat.st_mtime
    ):
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = FileResponse(path.open("rb"), content_type=CONTENT_TYPES[path.suffix.lower()])
        response["Content-Length"] = str(stat.st_size)
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    for header, value in SECURITY_HEADERS.items():
        response[header] = value
    return response


class MediaFilesMiddleware:
    """Answers requests under MEDIA_URL from MEDIA_ROOT (see the module docstring)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.enabled = getattr(settings, "SHOP_SERVE_MEDIA", True) and settings.MEDIA_URL.startswith("/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.enabled and request.path.startswith(settings.MEDIA_URL):
            try:
                return media_response(request, request.path[len(settings.MEDIA_URL) :])
            except Http404:
                response = HttpResponse("Not found", status=404, content_type="text/plain; charset=utf-8")
                for header, value in SECURITY_HEADERS.items():
                    response[header] = value
                return response
        return self.get_response(request)

