"""One JSON error shape for the whole API: ``{"code", "message", "details"}``, codes from ``ErrorCode``.

``details`` maps field names to lists of messages (validation), or carries small facts about the refusal
(``wait_seconds`` when throttled). The docs page lists every code (see ``error_codes_markdown``).
"""

from __future__ import annotations

import enum
import logging
import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, IntegrityError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from visualsearch.errors import ErrorCode as ImageErrorCode
from visualsearch.errors import ImageRejected

logger = logging.getLogger(__name__)


class ErrorCode(str, enum.Enum):
    # request shape
    INVALID = "invalid"
    MALFORMED_REQUEST = "malformed_request"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    PRICE_INVALID = "price_invalid"
    CATEGORY_NOT_FOUND = "category_not_found"
    # who is calling
    NOT_AUTHENTICATED = "not_authenticated"
    API_KEY_INVALID = "api_key_invalid"
    API_KEY_REVOKED = "api_key_revoked"
    API_KEY_EXPIRED = "api_key_expired"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    PERMISSION_DENIED = "permission_denied"
    NOT_OWNER = "not_owner"
    THROTTLED = "throttled"
    # what is asked for
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    EMBEDDING_NOT_READY = "embedding_not_ready"
    # photos (the same codes as the search page, from visualsearch.errors)
    IMAGE_MISSING = ImageErrorCode.IMAGE_MISSING.value
    IMAGE_EMPTY = ImageErrorCode.IMAGE_EMPTY.value
    IMAGE_TOO_LARGE = ImageErrorCode.IMAGE_TOO_LARGE.value
    IMAGE_TOO_MANY_PIXELS = ImageErrorCode.IMAGE_TOO_MANY_PIXELS.value
    IMAGE_TOO_SMALL = ImageErrorCode.IMAGE_TOO_SMALL.value
    IMAGE_UNREADABLE = ImageErrorCode.IMAGE_UNREADABLE.value
    IMAGE_FORMAT_REFUSED = ImageErrorCode.IMAGE_FORMAT_REFUSED.value
    IMAGE_TRUNCATED = ImageErrorCode.IMAGE_TRUNCATED.value
    SERVICE_UNAVAILABLE = ImageErrorCode.SEARCH_UNAVAILABLE.value


DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.INVALID: "400 - a field is missing or wrong; `details` maps each field to its messages",
    ErrorCode.MALFORMED_REQUEST: "400 - the body could not be parsed (bad JSON or multipart)",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "415 - send JSON, or multipart/form-data for uploads",
    ErrorCode.METHOD_NOT_ALLOWED: "405 - this path does not support that method",
    ErrorCode.NOT_ACCEPTABLE: "406 - the API answers application/json",
    ErrorCode.PRICE_INVALID: "400 - a price (e.g. `min_price=abc`) is not a number of at least 0 with at most two decimals; `details` names the field",
    ErrorCode.CATEGORY_NOT_FOUND: "400 - no category has this slug (slugs match whatever their letter case; `GET /categories` lists them)",
    ErrorCode.NOT_AUTHENTICATED: "401 - this operation needs an API key",
    ErrorCode.API_KEY_INVALID: "401 - the API key is unknown or malformed",
    ErrorCode.API_KEY_REVOKED: "401 - the API key was revoked by the shop",
    ErrorCode.API_KEY_EXPIRED: "401 - the API key has expired",
    ErrorCode.INSUFFICIENT_SCOPE: "403 - the key lacks the scope this operation needs (`details.required_scope`)",
    ErrorCode.PERMISSION_DENIED: "403 - not allowed",
    ErrorCode.NOT_OWNER: "403 - the object belongs to another partner",
    ErrorCode.THROTTLED: "429 - too many requests; wait `Retry-After` seconds (`details.wait_seconds`)",
    ErrorCode.NOT_FOUND: "404 - no such object, or not visible to this caller",
    ErrorCode.CONFLICT: "409 - the request clashes with existing data (e.g. a SKU already in use)",
    ErrorCode.EMBEDDING_NOT_READY: "409 - the image has no vector yet; retry once its embedding is ready",
    ErrorCode.IMAGE_MISSING: "400 - no photo was sent",
    ErrorCode.IMAGE_EMPTY: "400 - the file is empty",
    ErrorCode.IMAGE_TOO_LARGE: "400 - the file is larger than the upload limit",
    ErrorCode.IMAGE_TOO_MANY_PIXELS: "400 - the picture has more pixels than allowed",
    ErrorCode.IMAGE_TOO_SMALL: "400 - the picture is too small",
    ErrorCode.IMAGE_UNREADABLE: "400 - not a picture (JPEG, PNG and WebP are read)",
    ErrorCode.IMAGE_FORMAT_REFUSED: "400 - a picture in a format that is refused (e.g. GIF)",
    ErrorCode.IMAGE_TRUNCATED: "400 - the picture is damaged or incomplete",
    ErrorCode.SERVICE_UNAVAILABLE: "503 - the database or search is briefly unavailable; retry after `Retry-After`",
}


def error_codes_markdown() -> str:
    return "\n".join(f"- `{code.value}`: {DESCRIPTIONS[code]}" for code in ErrorCode)


class ErrorOutputSerializer(serializers.Serializer):
    """The body of every error response."""

    code = serializers.ChoiceField(choices=[code.value for code in ErrorCode])
    message = serializers.CharField()
    details = serializers.DictField(help_text="field name -> list of messages, or facts about the refusal")


# Every operation may answer these: refused input, no or bad key, wrong scope or owner, unknown object, an Accept
# header the API cannot satisfy, a body in another media type, and the rate limits. Documented once, for all views.
ERROR_RESPONSES = {code: ErrorOutputSerializer for code in (400, 401, 403, 404, 406, 415, 429)}


class ApiError(exceptions.APIException):
    def __init__(
        self, code: ErrorCode | str, message: str, *, http_status: int = 400, details: dict | None = None
    ) -> None:
        self.status_code = http_status
        self.code = ErrorCode(code).value
        self.message = message
        self.details = details or {}
        super().__init__(message, self.code)


_DRF_CODES: dict[type, ErrorCode] = {
    exceptions.ValidationError: ErrorCode.INVALID,
    exceptions.ParseError: ErrorCode.MALFORMED_REQUEST,
    exceptions.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: ErrorCode.API_KEY_INVALID,
    exceptions.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    exceptions.NotFound: ErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    exceptions.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.Throttled: ErrorCode.THROTTLED,
}


# Field errors that have a code of their own: a caller can tell "that category does not exist" from a typo in
# another field without reading the messages. The fields raise them with these codes (see the serializers).
FIELD_ERROR_CODES = {ErrorCode.PRICE_INVALID.value, ErrorCode.CATEGORY_NOT_FOUND.value}


def _leaf_codes(codes) -> list[str]:
    if isinstance(codes, dict):
        return [leaf for value in codes.values() for leaf in _leaf_codes(value)]
    if isinstance(codes, (list, tuple)):
        return [leaf for value in codes for leaf in _leaf_codes(value)]
    return [str(codes)]


def _leaf_messages(detail) -> list[str]:
    if isinstance(detail, dict):
        return [leaf for value in detail.values() for leaf in _leaf_messages(value)]
    if isinstance(detail, (list, tuple)):
        return [leaf for value in detail for leaf in _leaf_messages(value)]
    return [str(detail)]


def _validation_code(exc: exceptions.ValidationError) -> tuple[ErrorCode, str]:
    """The specific code when every refused field says the same specific thing, else ``invalid``."""
    codes = set(_leaf_codes(exc.get_codes()))
    if len(codes) == 1 and codes <= FIELD_ERROR_CODES:
        return ErrorCode(codes.pop()), _leaf_messages(exc.detail)[0]
    return ErrorCode.INVALID, "The request has invalid fields."


def _body(code: ErrorCode | str, message: str, details: object = None) -> dict:
    return {"code": ErrorCode(code).value, "message": message, "details": details or {}}


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, ImageRejected):
        return Response(_body(exc.code.value, exc.message), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ApiError):
        response = Response(_body(exc.code, exc.message, exc.details), status=exc.status_code)
        if exc.status_code == status.HTTP_401_UNAUTHORIZED:
            response["WWW-Authenticate"] = 'Api-Key realm="api"'
        return response
    if isinstance(exc, IntegrityError):
        # Two requests raced for the same unique value (a SKU): the loser is told, nothing was written.
        return Response(
            _body(ErrorCode.CONFLICT, "The request clashes with existing data; nothing was written."),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error in the API")
        return Response(
            _body(ErrorCode.SERVICE_UNAVAILABLE, "The service is unavailable for a moment. Please try again shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    from rest_framework.views import exception_handler as drf_exception_handler  # DRF imports this module early

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        code, message = _validation_code(exc)
        response.data = _body(code, message, details)
    elif isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(exc.wait or 1))
        response.data = _body(ErrorCode.THROTTLED, f"Too many requests. Try again in {wait} seconds.", {"wait_seconds": wait})
        response["Retry-After"] = str(wait)
    else:
        response.data = _body(_DRF_CODES.get(type(exc), ErrorCode.INVALID), str(exc.detail))
    return response
