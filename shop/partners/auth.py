"""API keys in a header, scopes, and who may touch which object.

Keys travel as ``Authorization: Api-Key <key>`` or ``X-Api-Key: <key>``. A request without a key is anonymous:
it may read the public catalogue and search, nothing else. Keys are made and revoked by staff in admin.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from shop.api.errors import ApiError, ErrorCode

from .models import ApiKey, ApiScope

KEYWORD = "Api-Key"
HEADER = "HTTP_X_API_KEY"
# Writing last_used_at on every call would turn each read into a write; once a minute tells staff enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _unauthorized(code: ErrorCode, message: str) -> ApiError:
    return ApiError(code, message, http_status=401)


def api_key_from_request(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    keyword, _, value = header.partition(" ")
    if keyword.lower() == KEYWORD.lower() and value.strip():
        return value.strip()
    value = request.META.get(HEADER, "").strip()
    return value or None


def api_key_verify(raw_key: str) -> ApiKey:
    """The usable key for ``raw_key``, or ApiError 401 saying why not (unknown, revoked, expired)."""
    prefix, dot, _ = raw_key.partition(".")
    key = ApiKey.objects.select_related("owner").filter(prefix=prefix).first() if dot else None
    if key is None or not key.is_valid(raw_key) or not key.owner.is_active:
        raise _unauthorized(ErrorCode.API_KEY_INVALID, "The API key is not valid.")
    if key.revoked:
        raise _unauthorized(ErrorCode.API_KEY_REVOKED, "The API key has been revoked.")
    if key.has_expired:
        raise _unauthorized(ErrorCode.API_KEY_EXPIRED, "The API key has expired.")
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


class ApiKeyAuthentication(BaseAuthentication):
    """``request.user`` is the key's owner and ``request.auth`` the ApiKey; no key leaves both None."""

    def authenticate(self, request):
        raw_key = api_key_from_request(request)
        if raw_key is None:
            return None
        key = api_key_verify(raw_key)
        return key.owner, key

    def authenticate_header(self, request) -> str:
        return f'{KEYWORD} realm="api"'


def _require_scope(request, scope: ApiScope) -> bool:
    key: ApiKey | None = request.auth
    if key is None:
        raise _unauthorized(ErrorCode.NOT_AUTHENTICATED, "This operation needs an API key.")
    if not key.has_scope(scope):
        raise ApiError(
            ErrorCode.INSUFFICIENT_SCOPE,
            f"This API key lacks the {scope.value!r} scope.",
            http_status=403,
            details={"required_scope": scope.value},
        )
    return True


class PublicRead(BasePermission):
    """Anyone may call; a key, when sent, must hold the read scope."""

    def has_permission(self, request, view) -> bool:
        return request.auth is None or _require_scope(request, ApiScope.READ)


class KeyRead(BasePermission):
    def has_permission(self, request, view) -> bool:
        return _require_scope(request, ApiScope.READ)


class KeyWrite(BasePermission):
    def has_permission(self, request, view) -> bool:
        return _require_scope(request, ApiScope.WRITE)


def owner_check(*, user, owner_id: int | None) -> None:
    """Staff keys may change anything; a partner only what it owns (``owner_id`` None: the shop's own)."""
    if user.is_staff or (owner_id is not None and owner_id == user.id):
        return
    raise ApiError(ErrorCode.NOT_OWNER, "This object belongs to someone else.", http_status=403)
