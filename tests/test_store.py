"""Rollups under concurrent writers, recording on exit, and retention."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from clients.recording import CallRecord
from console.recorder import write_records
from console.retention import purge_call_records
from console.store import Store
from console.store.models import CallRecordRow, Rollup

pytestmark = pytest.mark.all_backends

WRITERS = 3
PER_WRITER = 400


def record(at: datetime, outcome: str = "success", latency_ms: float = 40.0) -> CallRecord:
    return CallRecord(vendor="apollo", operation="people_enrich", outcome=outcome, mode="batch",
                      started_at=at, latency_ms=latency_ms, attempts=1, credits=1.0, cost_usd=0.2)


@pytest.fixture
def store(settings) -> Store:
    store = Store(settings.database_url)
    store.migrate()
    return store


def test_concurrent_writers_lose_no_update(store, settings):
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    writers = [subprocess.Popen([sys.executable, "-m", "tests.store_writer", str(PER_WRITER)], env=env,
                                stderr=subprocess.PIPE, text=True) for _ in range(WRITERS)]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    with store.session() as session:
        calls, credits = session.execute(select(func.sum(Rollup.calls), func.sum(Rollup.credits))).one()
        raw = session.scalar(select(func.count()).select_from(CallRecordRow))
    # Every record of every process is there, written at interpreter exit
    # without an explicit flush, and the rollup sums them all.
    assert raw == WRITERS * PER_WRITER
    assert calls == WRITERS * PER_WRITER
    assert credits == pytest.approx(WRITERS * PER_WRITER * 1.0)


def test_rollup_histogram_and_outcomes(store):
    minute = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    write_records(store, [record(minute, latency_ms=30.0), record(minute, latency_ms=700.0),
                          record(minute, outcome="VendorUnavailable", latency_ms=20000.0)])
    with store.session() as session:
        rows = {row.outcome: row for row in session.scalars(select(Rollup))}
    assert rows["success"].calls == 2
    assert rows["success"].le_50 == 1
    assert rows["success"].le_1000 == 1
    assert rows["VendorUnavailable"].le_inf == 1


def test_retention_deletes_old_in_batches(store):
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    old = [record(now - timedelta(days=31, minutes=i)) for i in range(23)]
    recent = [record(now - timedelta(days=29, minutes=i)) for i in range(5)]
    write_records(store, old + recent)
    assert purge_call_records(store, now=now, batch_size=7) == 23
    with store.session() as session:
        left = session.scalars(select(CallRecordRow.started_at)).all()
        rollup_calls = session.scalar(select(func.sum(Rollup.calls)))
    assert len(left) == 5
    # Rollups stay: only raw records expire.
    assert rollup_calls == 28
