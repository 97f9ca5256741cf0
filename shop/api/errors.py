"""API plumbing shared by every app: one JSON error shape, ``{"code", "message", "details"}``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from visualsearch.errors import ErrorCode, ImageRejected, MESSAGES


class ApiError(exceptions.APIException):
    def __init__(self, code: str, message: str, *, http_status: int = 400, details: dict | None = None) -> None:
        self.status_code = http_status
        self.code = code
        self.message = message
        self.details = details or {}
        super().__init__(message, code)


def _drf_code(exc: exceptions.APIException) -> str:
    return {
        exceptions.ValidationError: "invalid",
        exceptions.ParseError: "malformed_request",
        exceptions.NotAuthenticated: "not_authenticated",
        exceptions.AuthenticationFailed: "authentication_failed",
        exceptions.PermissionDenied: "permission_denied",
        exceptions.NotFound: "not_found",
        exceptions.MethodNotAllowed: "method_not_allowed",
        exceptions.NotAcceptable: "not_acceptable",
        exceptions.UnsupportedMediaType: "unsupported_media_type",
        exceptions.Throttled: "throttled",
    }.get(type(exc), "error")


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, ImageRejected):
        return Response(
            {"code": exc.code.value, "message": exc.message, "details": {}}, status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, ApiError):
        return Response({"code": exc.code, "message": exc.message, "details": exc.details}, status=exc.status_code)
    if isinstance(exc, DatabaseError):
        return Response(
            {"code": ErrorCode.SEARCH_UNAVAILABLE.value, "message": MESSAGES[ErrorCode.SEARCH_UNAVAILABLE], "details": {}},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = "The request has invalid fields."
        response.data = {"code": "invalid", "message": message, "details": details}
    else:
        response.data = {"code": _drf_code(exc), "message": str(exc.detail), "details": {}}
    return response
