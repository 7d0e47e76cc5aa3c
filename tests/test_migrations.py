"""Migrations upgrade a store that already contains data."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select

from clients.recording import CallRecord
from console.recorder import rollup_rows
from console.store import Store
from console.store.db import MIGRATIONS
from console.store.models import DailyRollup, Rollup

pytestmark = pytest.mark.all_backends


def alembic_config(store: Store) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", store.url.replace("%", "%%"))
    return config


def test_daily_rollups_filled_from_minutes(settings):
    store = Store(settings.database_url)
    config = alembic_config(store)
    command.upgrade(config, "0001")
    late = datetime(2026, 11, 3, 23, 59, tzinfo=UTC)
    records = [CallRecord("apollo", "people_enrich", "success", "batch", late, 40.0, 1, credits=1.0),
               CallRecord("apollo", "people_enrich", "success", "batch", late.replace(hour=0, minute=1), 40.0, 1,
                          credits=1.0),
               CallRecord("apollo", "people_enrich", "success", "batch", datetime(2026, 11, 4, 0, 0, tzinfo=UTC),
                          40.0, 1, credits=1.0)]
    with store.engine.begin() as connection:
        connection.execute(Rollup.__table__.insert(), rollup_rows(records))

    store.migrate()
    with store.session() as session:
        days = {(row.day, row.calls) for row in session.scalars(select(DailyRollup))}
    assert days == {(date(2026, 11, 3), 2), (date(2026, 11, 4), 1)}
    store.dispose()
