"""ops tables: monitors, alert states and events, breaker overrides, audit log

Revision ID: 0004_ops
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_ops'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('monitors',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('vendor', sa.String(length=32), nullable=False),
    sa.Column('comparison', sa.String(length=8), nullable=False),
    sa.Column('critical', sa.Float(), nullable=False),
    sa.Column('warning', sa.Float(), nullable=True),
    sa.Column('window_minutes', sa.Integer(), nullable=False),
    sa.Column('min_calls', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_index(op.f('ix_monitors_vendor'), 'monitors', ['vendor'], unique=False)
    op.create_table('monitor_states',
    sa.Column('monitor', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('monitor')
    )
    op.create_table('alert_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('monitor', sa.String(length=200), nullable=False),
    sa.Column('vendor', sa.String(length=32), nullable=False),
    sa.Column('old_state', sa.String(length=16), nullable=False),
    sa.Column('new_state', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('notification', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_alert_events_at'), 'alert_events', ['at'], unique=False)
    op.create_index(op.f('ix_alert_events_monitor'), 'alert_events', ['monitor'], unique=False)
    op.create_table('breaker_overrides',
    sa.Column('vendor', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('set_by', sa.String(length=320), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('vendor')
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('vendor', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_audit_log_action'), 'audit_log', ['action'], unique=False)
    op.create_index(op.f('ix_audit_log_at'), 'audit_log', ['at'], unique=False)
    op.create_index(op.f('ix_audit_log_user'), 'audit_log', ['user'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_audit_log_user'), table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_at'), table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_action'), table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('breaker_overrides')
    op.drop_index(op.f('ix_alert_events_monitor'), table_name='alert_events')
    op.drop_index(op.f('ix_alert_events_at'), table_name='alert_events')
    op.drop_table('alert_events')
    op.drop_table('monitor_states')
    op.drop_index(op.f('ix_monitors_vendor'), table_name='monitors')
    op.drop_table('monitors')
