"""Health figures from rollups: last success, status precedence, percentiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clients.recording import CallRecord
from console.health import percentile_from_buckets, vendor_health
from console.recorder import write_records

pytestmark = pytest.mark.all_backends

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def record(vendor: str, at: datetime, outcome: str = "success", latency_ms: float = 40.0) -> CallRecord:
    return CallRecord(vendor=vendor, operation="health", outcome=outcome, mode="interactive", started_at=at,
                      latency_ms=latency_ms, attempts=1,
                      breaker_failure=outcome in ("VendorUnavailable", "VendorTimeout"))


def by_vendor(runtime):
    return {row.vendor: row for row in vendor_health(runtime, now=NOW)}


def test_last_success_recent_and_old(runtime):
    write_records(runtime.store, [record("apollo", NOW - timedelta(minutes=7, seconds=20)),
                                  record("clay", NOW - timedelta(days=3, hours=2)),
                                  record("clay", NOW - timedelta(minutes=2), outcome="VendorUnavailable")])
    rows = by_vendor(runtime)
    assert rows["apollo"].last_success == datetime(2026, 12, 3, 11, 52, tzinfo=UTC)
    # Outside the last hour the vendor's own newest success is looked up.
    assert rows["clay"].last_success == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert rows["sendgrid"].last_success is None


def test_error_rate_degrades(runtime):
    calls = [record("apollo", NOW - timedelta(minutes=1)) for _ in range(8)]
    calls += [record("apollo", NOW - timedelta(minutes=1), outcome="VendorUnavailable") for _ in range(2)]
    write_records(runtime.store, calls)
    apollo = by_vendor(runtime)["apollo"]
    assert apollo.calls == 10
    assert apollo.errors == 2
    assert apollo.error_rate == pytest.approx(0.2)
    assert apollo.status == "degraded"
    assert apollo.reason == "error rate 20%"


def test_old_calls_leave_vendor_idle(runtime):
    write_records(runtime.store, [record("apollo", NOW - timedelta(minutes=11))])
    apollo = by_vendor(runtime)["apollo"]
    assert apollo.calls == 0
    assert apollo.status == "idle"


def test_percentile_buckets():
    # 100 calls: 90 within 50 ms, 10 within 1000 ms.
    counts = [90, 0, 0, 0, 10, 0, 0, 0, 0]
    assert percentile_from_buckets(counts, 0.50) == 50.0
    assert percentile_from_buckets(counts, 0.95) == 1000.0
    assert percentile_from_buckets([0] * 9, 0.95) is None


def test_breaker_stopped_calls_not_counted(runtime):
    write_records(runtime.store, [record("apollo", NOW - timedelta(minutes=1), outcome="VendorUnavailable"),
                                  record("apollo", NOW - timedelta(minutes=1), outcome="CircuitOpen"),
                                  record("apollo", NOW - timedelta(minutes=1), outcome="CircuitOpen")])
    apollo = by_vendor(runtime)["apollo"]
    assert apollo.calls == 1
    assert apollo.error_rate == 1.0
