"""The read-replica router's rules (shop/dbrouter.py) and DATABASE_REPLICA_URLS; a real standby, and one that
stops, are in test_replicas.py."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection, router, transaction
from django.http import HttpResponse
from django.test import RequestFactory

from catalog.models import Category, Product, ProductImage
from conftest import PROJECT_DIR
from recommendations.models import Shown
from shop import dbrouter
from shop.dbrouter import PIN_COOKIE, ReplicaRouter, replica_reads
from shop.middleware import ReplicaReadsMiddleware
from shop.tests.standby import database_alias_add, database_alias_remove
from visualsearch.models import ImageEmbedding

# Outside any transaction (a test's own atomic() would keep every read on the primary), with the replicas' aliases.
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica_0", "replica_1"])

@pytest.fixture(scope="module", autouse=True)
def _replica_databases(django_db_setup):
    """Two replicas that are the test database itself (as a TEST MIRROR is): these tests are about where a read
    goes; test_replicas.py has a real standby. Defined before each test's database set-up, which checks the
    aliases a test names."""
    for alias in ("replica_0", "replica_1"):
        database_alias_add(alias, {**connection.settings_dict, "TEST": {"MIRROR": "default"}})
    yield
    for alias in ("replica_0", "replica_1"):
        database_alias_remove(alias)


@pytest.fixture
def replicas(settings):
    settings.DATABASE_REPLICA_ALIASES = ["replica_0", "replica_1"]
    settings.DATABASE_REPLICA_CHECK_SECONDS = 60.0
    dbrouter.replica_health_forget()
    yield settings.DATABASE_REPLICA_ALIASES
    dbrouter.replica_health_forget()


def test_without_replicas_the_router_leaves_every_choice_to_django(settings):
    settings.DATABASE_REPLICA_ALIASES = []
    with replica_reads():
        assert ReplicaRouter().db_for_read(Product) is None
        assert ReplicaRouter().db_for_write(Product) is None
        assert ReplicaRouter().allow_migrate("default", "catalog") is None
    assert router.db_for_read(Product) == "default"


def test_outside_a_request_or_a_replica_reads_block_reads_go_to_the_primary(replicas):
    # what a Celery task or a management command reads: rows it is about to write, just committed elsewhere
    assert router.db_for_read(Product) == "default"
    assert router.db_for_read(ImageEmbedding) == "default"


def test_catalogue_and_search_reads_go_to_one_replica_for_the_whole_unit_of_work(replicas):
    chosen = set()
    for _ in range(20):
        with replica_reads():
            aliases = {router.db_for_read(model) for model in (Product, ProductImage, Category, ImageEmbedding)}
            assert len(aliases) == 1  # one page reads one standby's state
            chosen |= aliases
    assert chosen == {"replica_0", "replica_1"}  # spread over both (2 ** -19 odds of one alone)


def test_reads_of_sessions_accounts_and_the_interaction_log_stay_on_the_primary(replicas):
    with replica_reads():
        assert router.db_for_read(Session) == "default"
        assert router.db_for_read(get_user_model()) == "default"
        assert router.db_for_read(Shown) == "default"
        assert router.db_for_read(Product) in replicas


def test_once_a_unit_of_work_writes_a_catalogue_row_its_reads_go_to_the_primary(replicas):
    with replica_reads():
        assert router.db_for_read(Product) in replicas
        router.db_for_write(Shown)  # the interaction log: no replica reads it, nothing to pin
        assert router.db_for_read(Product) in replicas
        assert router.db_for_write(Product) == "default"
        assert router.db_for_read(Product) == "default"
        assert router.db_for_read(ImageEmbedding) == "default"
    with replica_reads():  # the next unit starts afresh
        assert router.db_for_read(Product) in replicas


def test_a_pinned_client_reads_the_primary_even_in_a_view_that_only_reads(replicas):
    with dbrouter.request_routing(allowed=True, pinned=True):
        assert router.db_for_read(Product) == "default"
        with replica_reads():
            assert router.db_for_read(Product) == "default"


def test_reads_inside_a_transaction_on_the_primary_stay_there(replicas):
    with replica_reads():
        with transaction.atomic():  # as checkout and the admin's forms do
            assert router.db_for_read(Product) == "default"
        assert router.db_for_read(Product) in replicas


def test_a_replica_that_is_down_is_skipped_and_with_all_down_the_primary_serves(replicas):
    dbrouter.replica_mark_down("replica_0", reason="test")
    for _ in range(10):
        with replica_reads():
            assert router.db_for_read(Product) == "replica_1"
    dbrouter.replica_mark_down("replica_1", reason="test")
    with replica_reads():
        assert router.db_for_read(Product) == "default"


def test_a_replica_that_goes_down_logs_one_warning_per_outage_and_one_line_when_it_is_back(replicas, caplog, settings):
    caplog.set_level(logging.INFO, logger="shop.dbrouter")
    dbrouter.replica_mark_down("replica_0", reason="connection refused")
    dbrouter.replica_mark_down("replica_0", reason="connection refused")
    assert not dbrouter.replica_is_up("replica_0")  # not tried again within DATABASE_REPLICA_CHECK_SECONDS
    settings.DATABASE_REPLICA_CHECK_SECONDS = 0.0
    assert dbrouter.replica_is_up("replica_0")  # tried again: it answers
    assert dbrouter.replica_is_up("replica_0")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "read replica replica_0 is unavailable (connection refused); its reads go to another replica or "
                    "the primary"),
        ("INFO", "read replica replica_0 answers again; reads go to it"),
    ]


def test_a_read_that_failed_on_a_replica_that_still_answers_runs_again_on_the_primary_and_keeps_the_replica(
    replicas, caplog
):
    # e.g. "canceling statement due to conflict with recovery": the standby is fine, that one query was not
    with replica_reads():
        alias = router.db_for_read(ImageEmbedding)
        assert alias in replicas
        assert router.db_for_read(ImageEmbedding, unavailable=alias) == "default"
        assert router.db_for_read(ImageEmbedding) == alias
    assert caplog.records == []


def test_writes_go_to_the_primary_for_every_model_and_replicas_get_no_migrations(replicas):
    models = apps.get_models(include_auto_created=True)
    assert len(models) > 30
    with replica_reads():
        assert {router.db_for_write(model) for model in models} == {"default"}
    assert {router.db_for_write(model) for model in models} == {"default"}
    for alias in replicas:
        assert not any(router.allow_migrate(alias, config.label) for config in apps.get_app_configs())
    assert all(router.allow_migrate("default", config.label) for config in apps.get_app_configs())
    assert router.allow_relation(Product(), Category())


# --- the middleware: which requests read replicas, and the pin after a write --------------------------------------


def _routed(request, *, write: bool = False) -> tuple[str, HttpResponse]:
    seen = []

    def view(request):
        if write:
            router.db_for_write(Product)
        seen.append(router.db_for_read(Product))
        return HttpResponse("ok")

    response = ReplicaReadsMiddleware(view)(request)
    return seen[0], response


def test_get_and_head_read_a_replica_and_post_reads_the_primary(replicas):
    factory = RequestFactory()
    assert _routed(factory.get("/p/mug/"))[0] in replicas
    assert _routed(factory.head("/p/mug/"))[0] in replicas
    assert _routed(factory.post("/cart/add"))[0] == "default"


def test_a_view_that_only_reads_may_read_a_replica_on_post(replicas):
    @replica_reads()
    def search(request):
        return HttpResponse(router.db_for_read(ImageEmbedding))

    response = ReplicaReadsMiddleware(search)(RequestFactory().post("/api/v1/search/image"))
    assert response.content.decode() in replicas
    assert PIN_COOKIE not in response.cookies


def test_a_request_that_writes_pins_the_client_to_the_primary_for_a_few_seconds(replicas, settings):
    settings.DATABASE_REPLICA_PIN_SECONDS = 5
    factory = RequestFactory()
    _, response = _routed(factory.post("/admin/catalog/product/1/change/"), write=True)
    cookie = response.cookies[PIN_COOKIE]
    assert (cookie.value, cookie["max-age"], cookie["httponly"], cookie["samesite"]) == ("1", 5, True, "Lax")

    # the page it redirects to, and the next ones while the cookie lasts, read the primary
    pinned = factory.get("/admin/catalog/product/")
    pinned.COOKIES[PIN_COOKIE] = "1"
    assert _routed(pinned)[0] == "default"
    # a read-only request sets no cookie
    assert PIN_COOKIE not in _routed(factory.get("/p/mug/"))[1].cookies


def test_without_replicas_the_middleware_sets_no_cookie(settings):
    settings.DATABASE_REPLICA_ALIASES = []
    alias, response = _routed(RequestFactory().post("/admin/catalog/product/1/change/"), write=True)
    assert alias == "default" and PIN_COOKIE not in response.cookies


# --- settings ----------------------------------------------------------------------------------------------------

_SETTINGS_SCRIPT = """
import json
import django
django.setup()
from django.conf import settings
KEYS = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS")
print(json.dumps({
    "aliases": settings.DATABASE_REPLICA_ALIASES, "routers": settings.DATABASE_ROUTERS,
    "replicas": {a: {**{k: settings.DATABASES[a][k] for k in KEYS}, "MIRROR": settings.DATABASES[a]["TEST"]["MIRROR"]}
                 for a in settings.DATABASE_REPLICA_ALIASES},
}))
"""


def test_database_replica_urls_become_replica_aliases_with_a_short_connect_timeout():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shop.settings.test",
           "DATABASE_REPLICA_URLS": "postgres://shop:s3cret@10.0.0.7:5433/shop,"
                                    "postgres://shop@replica-b/shop?sslmode=require"}
    result = subprocess.run([sys.executable, "-c", _SETTINGS_SCRIPT], cwd=PROJECT_DIR, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["aliases"] == ["replica_0", "replica_1"]
    assert out["routers"] == ["shop.dbrouter.ReplicaRouter"]
    common = {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "USER": "shop", "CONN_MAX_AGE": 60,
              "CONN_HEALTH_CHECKS": True, "MIRROR": "default"}
    assert out["replicas"] == {
        "replica_0": {**common, "PASSWORD": "s3cret", "HOST": "10.0.0.7", "PORT": 5433,
                      "OPTIONS": {"connect_timeout": 2}},
        "replica_1": {**common, "PASSWORD": "", "HOST": "replica-b", "PORT": "",
                      "OPTIONS": {"connect_timeout": 2, "sslmode": "require"}},
    }
