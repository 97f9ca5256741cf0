import numpy as np
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from visualsearch import querysets

SETTINGS = (
    ("SET LOCAL hnsw.ef_search = %s", [123]),
    ("SET LOCAL hnsw.iterative_scan = relaxed_order", []),
)
READ = "SELECT current_setting('hnsw.ef_search'), current_setting('hnsw.iterative_scan'), %s::int"


def _current() -> tuple[str, str]:
    with connection.cursor() as cursor:
        # A vector first: pgvector's library (which defines the settings and their defaults) loads on first use.
        cursor.execute("SELECT '[1]'::vector")
        cursor.execute("SELECT current_setting('hnsw.ef_search'), current_setting('hnsw.iterative_scan')")
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)  # no test transaction around it: the shop's own autocommit reads
def test_a_read_with_its_settings_is_one_round_trip_and_the_settings_end_with_it():
    assert querysets._is_citus("default") is False  # asked once per connection, here before counting
    with CaptureQueriesContext(connection) as queries:
        rows = querysets._read_rows(READ, [7], settings_sql=SETTINGS)

    assert rows == [("123", "relaxed_order", 7)]  # the SET LOCALs held for the query
    assert len(queries.captured_queries) == 1  # no BEGIN, no COMMIT, no SET of its own
    assert _current() == ("40", "off")  # pgvector's defaults again: nothing leaked onto the connection


@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_the_settings_last_until_it_ends():
    with transaction.atomic():
        assert querysets._read_rows(READ, [1], settings_sql=SETTINGS) == [("123", "relaxed_order", 1)]
        assert _current() == ("123", "relaxed_order")  # SET LOCAL: until the caller's transaction ends
    assert _current() == ("40", "off")


@pytest.mark.django_db(transaction=True)
def test_a_failing_read_with_settings_leaves_the_connection_usable_and_unchanged():
    with pytest.raises(Exception, match="division by zero"):
        querysets._read_rows("SELECT 1 / %s", [0], settings_sql=SETTINGS)

    assert _current() == ("40", "off")


@pytest.mark.django_db
def test_a_vector_literal_gives_back_every_float32_exactly_through_postgresql():
    from visualsearch.querysets import vector_literal

    rng = np.random.default_rng(11)
    vector = (rng.standard_normal(1280) * np.logspace(-8, 1, 1280)).astype(np.float32)
    vector[:3] = [0.0, 1e-38, -3.4e38]

    literal = vector_literal(vector)
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::vector::text", [literal])
        (echoed,) = cursor.fetchone()

    assert np.array_equal(np.array(literal[1:-1].split(","), dtype=np.float32), vector)
    assert np.array_equal(np.array(echoed[1:-1].split(","), dtype=np.float32), vector)


@pytest.mark.django_db(transaction=True)
def test_whether_the_database_is_citus_is_asked_once_per_connection():
    connection.close()
    with CaptureQueriesContext(connection) as queries:
        assert querysets._is_citus("default") is False
        assert querysets._is_citus("default") is False
    assert [q["sql"] for q in queries.captured_queries] == [
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')"
    ]
    connection.close()  # a new connection asks again
    with CaptureQueriesContext(connection) as queries:
        querysets._is_citus("default")
    assert len(queries.captured_queries) == 1


@pytest.mark.django_db(transaction=True)
def test_on_citus_the_settings_and_the_read_go_apart_in_one_transaction(monkeypatch):
    """Citus forwards a SET LOCAL to the shards as the whole string it came in: there each statement goes alone."""
    monkeypatch.setattr(querysets.reads, "_is_citus", lambda alias: True)
    with CaptureQueriesContext(connection) as queries:
        rows = querysets._read_rows(READ, [7], settings_sql=SETTINGS)

    assert rows == [("123", "relaxed_order", 7)]
    assert [q["sql"] for q in queries.captured_queries] == [
        "BEGIN", "SET LOCAL hnsw.ef_search = 123", "SET LOCAL hnsw.iterative_scan = relaxed_order",
        "SELECT current_setting('hnsw.ef_search'), current_setting('hnsw.iterative_scan'), 7::int", "COMMIT",
    ]
    assert _current() == ("40", "off")  # the transaction ended, and the settings with it
