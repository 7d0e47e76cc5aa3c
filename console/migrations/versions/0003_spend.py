"""vendor usage snapshots for spend reconciliation

Revision ID: 0003_spend
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0003_spend'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('vendor_usage_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vendor', sa.String(length=32), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('vendor_credits', sa.Float(), nullable=True),
    sa.Column('vendor_usd', sa.Float(), nullable=True),
    sa.Column('metered_credits', sa.Float(), nullable=False),
    sa.Column('metered_usd', sa.Float(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_vendor_usage_snapshots_vendor_month', 'vendor_usage_snapshots',
                    ['vendor', 'month', 'fetched_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_vendor_usage_snapshots_vendor_month', table_name='vendor_usage_snapshots')
    op.drop_table('vendor_usage_snapshots')
