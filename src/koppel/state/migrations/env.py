"""Alembic environment for koppel's state store.

koppel runs migrations itself when it opens the store (``StateStore.open``), passing its own
connection in ``config.attributes["connection"]``; the ``alembic`` command line works too, with
``-x url=...``.
"""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import Connection, create_engine

from koppel.state.metadata import metadata

# Every module that defines tables of this database on the shared metadata: the state store's own and the
# service's (``koppel serve``). Loaded by name, so that the state package does not depend on the service
# (the import contracts in pyproject.toml), while autogenerate still compares the whole database.
TABLE_MODULES = ("koppel.state.schema", "koppel.service.tables")
for _module in TABLE_MODULES:
    importlib.import_module(_module)

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if url is None:
        raise SystemExit("no database to migrate: pass -x url=... (or set sqlalchemy.url)")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
