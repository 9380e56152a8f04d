"""The one SQLAlchemy ``MetaData`` every table of the state database is defined on.

The state store's tables are in :mod:`koppel.state.schema`, the service's own tables in
:mod:`koppel.service.tables`; both register here, so the Alembic environment (which imports both)
sees the whole database.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData

__all__ = ["BigId", "metadata"]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""An id column type: BigInteger ids autoincrement on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the rowid."""
