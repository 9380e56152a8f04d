"""roles per tenant: the grants of dashboard users and API tokens

A grant gives one user or token one role (viewer, operator, approver, admin) on one tenant or on
every tenant (``*``). A subject has at most one grant per tenant; its role on a tenant is the
highest of the grant for that tenant and its ``*`` grant.

Upgrade rule: every user and token that exists when this migration runs gets ``admin`` on ``*``, so
an upgrade locks nobody out and changes nothing they could do before; accounts made afterwards get
only the grants they are given (``koppel user add NAME --role ROLE [--tenant T]``).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    grants = op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_kind", sa.String(length=8), nullable=False),  # user | token
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),  # a tenant id or "*"
        sa.Column("role", sa.String(length=16), nullable=False),  # viewer | operator | approver | admin
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
        sa.UniqueConstraint("subject_kind", "subject", "tenant", name=op.f("uq_grants_subject_kind_subject_tenant")),
    )
    bind = op.get_bind()
    users = bind.execute(sa.text("SELECT name, created_at FROM users")).all()
    tokens = bind.execute(sa.text("SELECT name, created_at FROM api_tokens")).all()
    rows = ([{"subject_kind": "user", "subject": r.name, "tenant": "*", "role": "admin", "created_at": r.created_at}
             for r in users]
            + [{"subject_kind": "token", "subject": r.name, "tenant": "*", "role": "admin",
                "created_at": r.created_at} for r in tokens])
    if rows:
        op.bulk_insert(grants, rows)


def downgrade() -> None:
    op.drop_table("grants")
