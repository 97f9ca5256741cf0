"""Rate limits per key and per IP, counted in Redis (the shared cache), answered with 429 and Retry-After."""

import pytest
import time

from shop.api.throttling import Limit, _redis
from shop.partners.tests.api.fixtures import api, key_for

pytestmark = pytest.mark.django_db

GENEROUS = "1000/minute"
# Counters are per fixed window: limits under test count per day, so no window can end in the middle of a test.


def _statuses(client, n: int) -> list[int]:
    return [client.get("/api/v1/categories").status_code for _ in range(n)]


def test_anonymous_callers_are_limited_per_ip(settings):
    settings.SHOP_API_RATES = {"anon": "3/day", "key": GENEROUS, "ip": GENEROUS}

    assert _statuses(api(), 3) == [200, 200, 200]
    refused = api().get("/api/v1/categories")

    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    now = time.time()
    assert abs(int(refused["Retry-After"]) - (86400 - now % 86400)) <= 2  # until the day's window ends
    assert refused.json()["details"] == {"wait_seconds": int(refused["Retry-After"])}
    # the counter lives in the shared Redis, not in this process; refused requests count too
    assert _redis().get(Limit.parse("anon", "127.0.0.1", "3/day").counter_key(now)) == b"4"
    assert int(_redis().ttl(Limit.parse("anon", "127.0.0.1", "3/day").counter_key(now))) > 86400 - now % 86400


def test_each_key_has_its_own_budget_and_a_key_is_not_anonymous(settings, partner, other_partner):
    settings.SHOP_API_RATES = {"anon": "1/day", "key": "2/day", "ip": GENEROUS}
    first, second = api(key_for(partner, "read")), api(key_for(other_partner, "read"))

    assert _statuses(first, 3) == [200, 200, 429]
    assert _statuses(second, 2) == [200, 200]
    assert _statuses(api(), 2) == [200, 429]


def test_one_ip_cannot_multiply_its_rate_with_many_keys(settings, partner):
    settings.SHOP_API_RATES = {"anon": GENEROUS, "key": GENEROUS, "ip": "4/day"}
    clients = [api(key_for(partner, "read")) for _ in range(5)]

    assert [client.get("/api/v1/categories").status_code for client in clients] == [200, 200, 200, 200, 429]


def test_a_made_up_forwarded_for_header_does_not_evade_the_ip_limit(settings):
    settings.SHOP_API_RATES = {"anon": "2/day", "key": GENEROUS, "ip": GENEROUS}

    statuses = [
        api().get("/api/v1/categories", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(3)
    ]

    assert statuses == [200, 200, 429]
