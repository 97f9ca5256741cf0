"""Schemathesis against the live schema: every operation, a bounded number of generated requests each, sent
with a partner's read+write key. No answer may be a 5xx, and every answer must match the schema (status
code, content type, headers, body).

The requests go through Django's WSGI handler in this process, inside the test's transaction, so whatever the
fuzzer creates is rolled back. ``SCHEMATHESIS_EXAMPLES`` raises the bound for a longer local run.
"""

import os
from collections import Counter

import pytest
import schemathesis
from schemathesis import GenerationMode
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from visualsearch.services import product_image_add
from catalog.tests.factories import CategoryFactory, ProductFactory
from conftest import photo_bytes
from shop.partners.models import PartnerProduct
from shop.partners.tests.api.fixtures import UserFactory, key_for

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "30"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
CASES: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_cases():
    yield
    print(f"\nschemathesis: {sum(CASES.values())} cases over {len(CASES)} operations ({EXAMPLES} examples max each)")


@pytest.fixture
def _wsgi_app():
    """Django's WSGI handler, without the per-request connection close that would end the test's transaction
    (Django's own test client disconnects the same signal handlers)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db, settings, _wsgi_app):
    settings.SHOP_WEBHOOK_ALLOW_PRIVATE_URLS = True  # no DNS look-ups of made-up host names
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", _wsgi_app)


@pytest.fixture
def partner_headers(db) -> dict[str, str]:
    """A partner with a category, a product and an image, so some generated ids and slugs exist."""
    partner = UserFactory()
    category = CategoryFactory(slug="a")
    product = ProductFactory(id=1, category=category)
    PartnerProduct.objects.create(product=product, owner=partner)
    product_image_add(product=product, data=photo_bytes(), enqueue=False)
    return {"X-Api-Key": key_for(partner, "read", "write")}


def _fuzz(operation, mode: GenerationMode, headers: dict[str, str]) -> list[str]:
    """Up to EXAMPLES generated requests to one operation; the failures, each described once."""
    failures: list[str] = []

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,  # nothing written to .hypothesis/ in the work tree
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is reported as it is
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        CASES[f"{operation.method.upper()} {operation.path}"] += 1
        # The key always goes with the request: negative generation may otherwise send a mangled one.
        case.headers = {**(case.headers or {}), **headers}
        try:
            case.call_and_validate(checks=CHECKS)
        except (Exception, FailureGroup) as failure:  # a FailureGroup holds every failed check of one response
            failures.append(f"{mode.value} {operation.method.upper()} {operation.path}: {str(failure)[:1500]}")
            raise

    try:
        run()
    except (Exception, FailureGroup):  # recorded above; the other operations still run
        pass
    return failures[:1]


def test_no_server_errors_and_every_answer_matches_the_schema(api_schema, partner_headers):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 28

    failures = [
        failure
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for failure in _fuzz(operation, mode, partner_headers)
    ]

    assert failures == []
