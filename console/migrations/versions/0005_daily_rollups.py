"""daily rollups

Revision ID: 0005_daily_rollups
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_daily_rollups"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_rollups",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("vendor", sa.String(length=32), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("breaker_failures", sa.Integer(), nullable=False),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        sa.Column("credits", sa.Float(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "vendor", "operation", "outcome"),
    )
    # Fill from the minute rollups a store already has, by UTC day. SQLite keeps
    # the minute as text, where CAST(... AS DATE) yields only the year; PostgreSQL
    # would cut days in the session's time zone without the conversion.
    if op.get_bind().dialect.name == "postgresql":
        day = "CAST(timezone('UTC', minute) AS DATE)"
    else:
        day = "date(minute)"
    op.execute(
        "INSERT INTO daily_rollups (day, vendor, operation, outcome, calls, breaker_failures, "
        "latency_ms_sum, credits, cost_usd) "
        f"SELECT {day}, vendor, operation, outcome, SUM(calls), SUM(breaker_failures), "
        "SUM(latency_ms_sum), SUM(credits), SUM(cost_usd) FROM rollups "
        f"GROUP BY {day}, vendor, operation, outcome"
    )


def downgrade() -> None:
    op.drop_table("daily_rollups")
