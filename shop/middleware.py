"""A friendly 503 when the database (or Redis, which holds sessions and the cache) is unreachable.

Without it a page that queries PostgreSQL while it restarts is a 500 with Django's bare error page. The API has
the same mapping in its exception handler (``shop.api.errors``); this covers the storefront and the admin.
Connections recover by themselves: Django drops a broken connection at the end of the request
(CONN_HEALTH_CHECKS), so the first request after the database is back succeeds, with no web restart.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from recommendations.services import FlushIncomplete
from shop.dbrouter import PIN_COOKIE, replica_aliases, request_routing
from visualsearch.errors import ErrorCode

logger = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "The shop is unavailable for a moment. Please try again in a few seconds."
RETRY_AFTER_SECONDS = 5
# Connection-level failures only: a ProgrammingError or IntegrityError is a bug and stays a 500.
# FlushIncomplete: forget-me and unlinking could not write the log's waiting rows first (Redis or PostgreSQL away):
# nothing was deleted, and the shopper is asked to come back rather than told a half-truth.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError, FlushIncomplete)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"code": ErrorCode.SEARCH_UNAVAILABLE.value, "message": UNAVAILABLE_MESSAGE, "details": {}}, status=503
        )
    else:
        # A plain template with no context processors: they would query the database that is down.
        response = HttpResponse(render_to_string("503.html", {"message": UNAVAILABLE_MESSAGE}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class ServiceUnavailableMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, UNAVAILABLE_ERRORS):
            logger.warning("503 for %s: %s: %s", request.path, type(exception).__name__, exception)
            return unavailable_response(request)
        return None


class ReplicaReadsMiddleware:
    """Routes each request's reads (``shop.dbrouter``): GET and HEAD may read a replica, unless the client wrote in
    the last ``DATABASE_REPLICA_PIN_SECONDS`` (the pin cookie); a request that writes catalogue or search rows sets
    that cookie, so the page it redirects to shows the write. A no-op without replicas."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_aliases():
            return self.get_response(request)
        with request_routing(
            allowed=request.method in ("GET", "HEAD"), pinned=PIN_COOKIE in request.COOKIES
        ) as routing:
            response = self.get_response(request)
        if routing.wrote:
            # Not signed: a forged cookie only sends its own sender's reads to the primary.
            response.set_cookie(
                PIN_COOKIE, "1", max_age=settings.DATABASE_REPLICA_PIN_SECONDS, httponly=True, samesite="Lax",
                secure=request.is_secure(),
            )
        return response
