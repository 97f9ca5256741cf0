"""Adopting a database made by the layout before December 2026, when orders and the partner tables belonged to
one ``shop`` app (tables ``shop_order``, ``shop_apikey``, ...).

The new apps' first migrations create their tables with ``CreateModelOrAdopt``: on a fresh database it is a
plain ``CreateModel``; where the old table exists (a ``var/`` database from before) it renames that table, with
its rows, and brings it to the new schema instead. So ``manage.py migrate`` (which ``make run`` runs) moves an
old shop forward with nothing lost and nothing to type.
"""

from __future__ import annotations

from django.db import migrations


class CreateModelOrAdopt(migrations.CreateModel):
    def __init__(self, *args, legacy_table: str, adopt_sql: tuple[str, ...] = (), **kwargs):
        self.legacy_table = legacy_table
        self.adopt_sql = adopt_sql
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, args, kwargs = super().deconstruct()
        kwargs.update(legacy_table=self.legacy_table, adopt_sql=self.adopt_sql)
        return name, args, kwargs

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.name)
        if self.legacy_table not in schema_editor.connection.introspection.table_names():
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        schema_editor.alter_db_table(model, self.legacy_table, model._meta.db_table)
        for statement in self.adopt_sql:
            schema_editor.execute(statement)

    def describe(self):
        return f"Create model {self.name} (or adopt the table {self.legacy_table} of the old layout)"
