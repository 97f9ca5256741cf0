"""How the vector SQL reaches the database: the router's read connection (a replica or the primary), a replica
that fails retried elsewhere, and a query's ``SET LOCAL``s sent with it, in one round trip on PostgreSQL and
statement by statement on Citus."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections, router, transaction

from ..models import ImageEmbedding

_Statements = tuple[tuple[str, list[object]], ...]

CITUS_SETTINGS: _Statements = (("SET LOCAL citus.propagate_set_commands = 'local'", []),)
"""First among a k-NN query's SET LOCALs: on Citus it sends the ones that follow (``hnsw.*``) to the shards that
run the index scans; plain PostgreSQL keeps it as an unused custom setting for the transaction."""


def _read_rows(sql: str, params: list[object], *, settings_sql: _Statements = ()) -> list[tuple]:
    """The rows of one read, on the database the project's router picks for vector reads (a read replica when
    DATABASE_REPLICA_URLS names some, else the primary), with ``settings_sql`` (SET LOCAL ...) run first in the same
    transaction on that same connection.

    A replica that fails to answer (shut down, connection lost) is reported to the router with the hint
    ``unavailable`` and the read runs once more where the router then says: search keeps answering from another
    replica or the primary instead of failing until the replica's next health check.
    """
    alias = router.db_for_read(ImageEmbedding)
    try:
        return _rows_on(alias, sql, params, settings_sql)
    except (OperationalError, InterfaceError):
        if alias == DEFAULT_DB_ALIAS:
            raise
        retry = router.db_for_read(ImageEmbedding, unavailable=alias)
        if retry == alias:
            raise
        return _rows_on(retry, sql, params, settings_sql)


def _is_citus(alias: str) -> bool:
    """Whether the database behind ``alias`` is a Citus coordinator (asked once per connection)."""
    wrapper = connections[alias]
    wrapper.ensure_connection()
    answer = getattr(wrapper.connection, "_lumen_citus", None)
    if answer is None:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
            answer = bool(cursor.fetchone()[0])
        wrapper.connection._lumen_citus = answer
    return answer


def _rows_on(alias: str, sql: str, params: list[object], settings_sql: _Statements) -> list[tuple]:
    if settings_sql and _is_citus(alias):
        # Citus sends a SET LOCAL on to the shards as the whole query string it arrived in: sent in one string
        # with the query, the shards would run the query too (against the distributed table's name, which
        # they do not have). So on Citus each statement goes alone, in one transaction: the same statements.
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            for statement, values in settings_sql:
                cursor.execute(statement, values)
            cursor.execute(sql, params)
            return cursor.fetchall()
    with connections[alias].cursor() as cursor:
        if not settings_sql:
            cursor.execute(sql, params)
            return cursor.fetchall()
        # The SET LOCALs and the query in one string, one round trip (Django's psycopg cursors bind parameters
        # on the client, so PostgreSQL gets one simple query): outside a transaction, PostgreSQL runs a string of
        # statements as one implicit transaction, so each SET LOCAL holds for this query and ends with it; inside
        # a caller's transaction it holds until that one ends, as a SET LOCAL there always does. Before, BEGIN,
        # each SET and COMMIT were a round trip of their own (5 instead of 1).
        cursor.execute(
            "; ".join([*(statement for statement, _ in settings_sql), sql]),
            [*(value for _, values in settings_sql for value in values), *params],
        )
        while cursor.description is None and cursor.nextset():
            pass  # the SETs' results (no rows) come first
        return cursor.fetchall()
