"""The migrations and the table definitions describe the same database: Alembic's autogenerate, run
against a freshly migrated store on SQLite and PostgreSQL, finds nothing to add, drop or change. The
service's tables (``koppel.service.tables``) are on the same metadata and covered too."""

from __future__ import annotations

import importlib

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from koppel.state.metadata import metadata
from koppel.state.store import StateStore


def test_the_migrated_schema_matches_every_table_definition(store: StateStore):
    for module in ("koppel.state.schema", "koppel.service.tables"):  # what migrations/env.py loads
        importlib.import_module(module)
    assert {"objects", "journal", "users", "run_requests", "notifications"} <= set(metadata.tables)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []
