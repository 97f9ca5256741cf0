"""The shop's session store: PostgreSQL, its own saves committed without waiting for the WAL flush."""

import pytest
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from shop.sessions import SessionStore


@pytest.mark.django_db(transaction=True)
def test_a_session_save_commits_without_waiting_and_is_stored():
    store = SessionStore()
    store["cart"] = {"7": 2}

    with CaptureQueriesContext(connection) as queries:
        store.save()

    statements = [q["sql"] for q in queries.captured_queries]
    assert "SET LOCAL synchronous_commit TO OFF" in statements
    assert SessionStore(session_key=store.session_key).load() == {"cart": {"7": 2}}
    # and the setting ended with the session's transaction
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)


@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_the_save_leaves_its_commit_alone():
    store = SessionStore()
    store["cart"] = {"7": 1}

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        store.save()

    assert not any("synchronous_commit" in q["sql"] for q in queries.captured_queries)
    assert Session.objects.filter(session_key=store.session_key).exists()


@pytest.mark.django_db(transaction=True)
def test_a_session_marked_durable_commits_normally():
    store = SessionStore()
    store["orders"] = ["R-1"]
    store.commit_durably = True

    with CaptureQueriesContext(connection) as queries:
        store.save()

    assert not any("synchronous_commit" in q["sql"] for q in queries.captured_queries)
    assert SessionStore(session_key=store.session_key).load() == {"orders": ["R-1"]}
