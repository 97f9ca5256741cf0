"""Rate limits per API key and per client IP, counted in the Django cache (Redis), so every web process
shares the same counters. Rates come from ``SHOP_API_RATES`` and are read on each request."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return settings.SHOP_API_RATES.get(self.scope)


class AnonRateThrottle(_SettingsRateThrottle):
    """Callers without a key, per IP (the lower rate)."""

    scope = "anon"

    def get_cache_key(self, request, view) -> str | None:
        if request.auth is not None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ApiKeyRateThrottle(_SettingsRateThrottle):
    """Each key, whatever IPs it is used from."""

    scope = "key"

    def get_cache_key(self, request, view) -> str | None:
        if request.auth is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}


class IpRateThrottle(_SettingsRateThrottle):
    """Every request per IP, keys included: one client cannot multiply its rate by using many keys."""

    scope = "ip"

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
