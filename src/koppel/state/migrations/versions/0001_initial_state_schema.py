"""initial state schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 23:33:45.750016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('locks',
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('target', sa.String(length=100), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=200), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=100), nullable=True),
    sa.Column('acquired_at', sa.String(length=32), nullable=False),
    sa.Column('heartbeat_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'target', name=op.f('pk_locks'))
    )
    op.create_table('plans',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('target', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('lineage', sa.String(length=36), nullable=False),
    sa.Column('serial', sa.BigInteger(), nullable=False),
    sa.Column('held', sa.Boolean(), nullable=False),
    sa.Column('holds', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('approved_by', sa.String(length=200), nullable=True),
    sa.Column('approved_at', sa.String(length=32), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.String(length=32), nullable=True),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans'))
    )
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.create_index('ix_plans_tenant_target', ['tenant', 'target', 'status'], unique=False)

    op.create_table('runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('target', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.String(length=32), nullable=False),
    sa.Column('finished_at', sa.String(length=32), nullable=True),
    sa.Column('plan_id', sa.String(length=32), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('approved_by', sa.String(length=200), nullable=True),
    sa.Column('host', sa.String(length=200), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index('ix_runs_tenant_target', ['tenant', 'target', 'started_at'], unique=False)

    op.create_table('source_reads',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('school_year', sa.String(length=9), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('counts', sa.Text(), nullable=True),
    sa.Column('sources', sa.Text(), nullable=True),
    sa.Column('report', sa.LargeBinary(), nullable=True),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('warnings', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_reads'))
    )
    with op.batch_alter_table('source_reads', schema=None) as batch_op:
        batch_op.create_index('ix_source_reads_tenant', ['tenant', 'at'], unique=False)

    op.create_table('targets_state',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('target', sa.String(length=100), nullable=False),
    sa.Column('lineage', sa.String(length=36), nullable=False),
    sa.Column('serial', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('updated_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_targets_state')),
    sa.UniqueConstraint('tenant', 'target', name=op.f('uq_targets_state_tenant_target'))
    )
    op.create_table('journal',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('state_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.BigInteger(), nullable=False),
    sa.Column('plan_id', sa.String(length=32), nullable=True),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('school', sa.String(length=16), nullable=True),
    sa.Column('label', sa.String(length=300), nullable=True),
    sa.Column('person_key', sa.String(length=512), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.Column('code', sa.String(length=100), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['state_id'], ['targets_state.id'], name=op.f('fk_journal_state_id_targets_state'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal'))
    )
    with op.batch_alter_table('journal', schema=None) as batch_op:
        batch_op.create_index('ix_journal_key', ['state_id', 'key'], unique=False)
        batch_op.create_index('ix_journal_person', ['state_id', 'person_key'], unique=False)
        batch_op.create_index('ix_journal_run', ['run_id'], unique=False)

    op.create_table('objects',
    sa.Column('state_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('school', sa.String(length=16), nullable=True),
    sa.Column('label', sa.String(length=300), nullable=True),
    sa.Column('fingerprint', sa.String(length=32), nullable=False),
    sa.Column('attrs', sa.Text(), nullable=False),
    sa.Column('meta', sa.Text(), nullable=True),
    sa.Column('target_id', sa.String(length=300), nullable=True),
    sa.Column('person_key', sa.String(length=512), nullable=True),
    sa.Column('search', sa.Text(), nullable=True),
    sa.Column('absent_since', sa.String(length=10), nullable=True),
    sa.Column('delete_after', sa.String(length=10), nullable=True),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('updated_at', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['state_id'], ['targets_state.id'], name=op.f('fk_objects_state_id_targets_state'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('state_id', 'key', name=op.f('pk_objects'))
    )
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.create_index('ix_objects_kind_status', ['state_id', 'kind', 'status'], unique=False)
        batch_op.create_index('ix_objects_person', ['state_id', 'person_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.drop_index('ix_objects_person')
        batch_op.drop_index('ix_objects_kind_status')

    op.drop_table('objects')
    with op.batch_alter_table('journal', schema=None) as batch_op:
        batch_op.drop_index('ix_journal_run')
        batch_op.drop_index('ix_journal_person')
        batch_op.drop_index('ix_journal_key')

    op.drop_table('journal')
    op.drop_table('targets_state')
    with op.batch_alter_table('source_reads', schema=None) as batch_op:
        batch_op.drop_index('ix_source_reads_tenant')

    op.drop_table('source_reads')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('ix_runs_tenant_target')

    op.drop_table('runs')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_index('ix_plans_tenant_target')

    op.drop_table('plans')
    op.drop_table('locks')
