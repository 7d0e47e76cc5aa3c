"""backfill jobs and rows

Revision ID: 0002_backfill
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002_backfill'
down_revision = '0001'
# A branch of its own beside other revisions off 0001; Store.migrate applies every head.
branch_labels = ('backfill',)
depends_on = None


def upgrade() -> None:
    op.create_table('backfill_jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('parent_job_id', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=False),
    sa.Column('budget_credits', sa.Float(), nullable=True),
    sa.Column('budget_usd', sa.Float(), nullable=True),
    sa.Column('credits_spent', sa.Float(), nullable=False),
    sa.Column('cost_usd_spent', sa.Float(), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('invalid_count', sa.Integer(), nullable=False),
    sa.Column('duplicate_count', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('backfill_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('titles', sa.JSON(), nullable=False),
    sa.Column('application_id', sa.String(length=64), nullable=True),
    sa.Column('domain_note', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('claimed_by', sa.String(length=200), nullable=True),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=True),
    sa.Column('contacts', sa.JSON(), nullable=False),
    sa.Column('contacts_saved', sa.Integer(), nullable=False),
    sa.Column('skipped_providers', sa.JSON(), nullable=False),
    sa.Column('credits', sa.Float(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('error_class', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('skip_reason', sa.Text(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['backfill_jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_backfill_rows_job_status', 'backfill_rows', ['job_id', 'status'], unique=False)
    op.create_table('backfill_charges',
    sa.Column('row_id', sa.Integer(), nullable=False),
    sa.Column('vendor', sa.String(length=32), nullable=False),
    sa.Column('vendor_id', sa.String(length=500), nullable=False),
    sa.Column('contact', sa.JSON(), nullable=True),
    sa.Column('credits', sa.Float(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['row_id'], ['backfill_rows.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('row_id', 'vendor', 'vendor_id')
    )


def downgrade() -> None:
    op.drop_table('backfill_charges')
    op.drop_index('ix_backfill_rows_job_status', table_name='backfill_rows')
    op.drop_table('backfill_rows')
    op.drop_table('backfill_jobs')
