"""Rate limits per API key and per client IP, counted in Redis, so every web process shares the same counters.
Rates come from ``SHOP_API_RATES`` and are read on each request.

One throttle class checks every limit that applies to a request (anonymous per IP, per key, and per IP for
everyone) with fixed-window counters: one ``INCR`` + ``EXPIRE`` per limit, all in one Redis round trip.
DRF's own ``SimpleRateThrottle`` keeps a list of timestamps per limit, read and written back whole on each
request: two round trips per limit, and a list as long as the rate. bench/profile_requests.py measured that as
a fifth of a cached similar-items request. A fixed window lets a client send up to twice its rate across a
window's edge; that is the usual trade (GitHub's API counts this way) for one round trip.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from rest_framework.throttling import BaseThrottle

DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_client: redis.Redis | None = None
_client_lock = threading.Lock()


def _redis() -> redis.Redis:
    """The cache's Redis database (``CACHE_REDIS_URL``), one connection pool per process."""
    global _client
    with _client_lock:
        if _client is None:
            _client = redis.Redis.from_url(settings.CACHE_REDIS_URL)
        return _client


@dataclass(frozen=True)
class Limit:
    scope: str
    ident: str
    count: int
    seconds: int

    @classmethod
    def parse(cls, scope: str, ident: str, rate: str) -> Limit:
        """``rate`` is N/second|minute|hour|day (only the first letter of the period counts, like DRF)."""
        count, period = rate.split("/")
        return cls(scope=scope, ident=ident, count=int(count), seconds=DURATIONS[period[0]])

    def counter_key(self, now: float) -> str:
        return f"shop:throttle:{self.scope}:{self.ident}:{int(now // self.seconds)}"

    def seconds_left(self, now: float) -> int:
        return max(1, math.ceil((int(now // self.seconds) + 1) * self.seconds - now))


class ShopRateThrottle(BaseThrottle):
    """Anonymous callers per IP (``anon``, the lower rate), each key whatever IPs it is used from (``key``),
    and every request per IP, keys included (``ip``): one client cannot multiply its rate with many keys."""

    def limits(self, request) -> list[Limit]:
        rates = settings.SHOP_API_RATES
        ip = self.get_ident(request)
        wanted = [("ip", ip), ("anon", ip) if request.auth is None else ("key", request.auth.prefix)]
        return [Limit.parse(scope, ident, rates[scope]) for scope, ident in wanted if rates.get(scope)]

    def allow_request(self, request, view) -> bool:
        limits = self.limits(request)
        if not limits:
            return True
        now = time.time()
        pipe = _redis().pipeline(transaction=False)
        for limit in limits:
            key = limit.counter_key(now)
            pipe.incr(key)
            pipe.expire(key, limit.seconds + 1)
        counts = pipe.execute()[::2]
        over = [limit for limit, count in zip(limits, counts, strict=True) if count > limit.count]
        self._wait = max((limit.seconds_left(now) for limit in over), default=None)
        return not over

    def wait(self) -> int | None:
        return self._wait
