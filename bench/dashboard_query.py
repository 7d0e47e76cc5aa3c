"""Health and Spend figures from rollups, against the same figures from raw call records.

Fills a fresh store with N call records (default 1,000,000) spread over the 30
days of November 2026 for the six vendors, writing raw records and rollups as
the recorder does. Then, as of 30 November 23:55 UTC, times (median of
--repeat runs) the Health figures (`vendor_health`) and the month's Spend
(`spend_report`) read from rollups, and the equivalent aggregates computed over
the raw records, and prints the ratio raw/rollups last.

Targets: Health under 50 ms, and at least 20 times faster than the raw query.

Run: .venv/bin/python bench/dashboard_query.py [--records N] [--backends sqlite,postgresql]
PostgreSQL is started on loopback by the script (it needs initdb and postgres).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Integer, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clients.recording import CallRecord  # noqa: E402
from clients.registry import REGISTRY  # noqa: E402
from console.config import Settings  # noqa: E402
from console.health import vendor_health  # noqa: E402
from console.recorder import rollup_rows, upsert_rollups  # noqa: E402
from console.runtime import open_runtime  # noqa: E402
from console.spend.figures import spend_report  # noqa: E402
from console.spend.plans import load_plans  # noqa: E402
from console.store import Store  # noqa: E402
from console.store.models import CallRecordRow  # noqa: E402
from tests.servers import PostgresServer  # noqa: E402

NOW = datetime(2026, 11, 30, 23, 55, tzinfo=UTC)
START = NOW - timedelta(days=30)
CHUNK = 20_000
OUTCOMES = ("success",) * 92 + ("VendorUnavailable",) * 4 + ("RateLimited",) * 2 + ("VendorTimeout",) * 2


def fill(store: Store, records: int, seed: int = 11) -> None:
    """Write `records` call records and their rollups, in chunks, deterministically."""
    rng = random.Random(seed)
    vendors = [(name, spec.probes[0].operation if spec.probes else "call") for name, spec in REGISTRY.items()]
    span = (NOW - START).total_seconds()
    written = 0
    while written < records:
        batch = []
        for _ in range(min(CHUNK, records - written)):
            vendor, operation = vendors[rng.randrange(len(vendors))]
            outcome = OUTCOMES[rng.randrange(len(OUTCOMES))]
            at = START + timedelta(seconds=rng.random() * span)
            batch.append(CallRecord(vendor=vendor, operation=operation, outcome=outcome, mode="batch",
                                    started_at=at, latency_ms=rng.lognormvariate(5.0, 0.6), attempts=1,
                                    credits=1.0 if outcome == "success" else 0.0,
                                    cost_usd=0.05 if outcome == "success" else 0.0,
                                    breaker_failure=outcome in ("VendorUnavailable", "VendorTimeout")))
        with store.engine.begin() as connection:
            connection.execute(CallRecordRow.__table__.insert(), [
                {"started_at": r.started_at, "vendor": r.vendor, "operation": r.operation, "outcome": r.outcome,
                 "mode": r.mode, "latency_ms": r.latency_ms, "attempts": r.attempts, "credits": r.credits,
                 "cost_usd": r.cost_usd, "breaker_failure": r.breaker_failure}
                for r in batch
            ])
        with store.session() as session:
            upsert_rollups(session, rollup_rows(batch))
        written += len(batch)
        print(f"  wrote {written:,} of {records:,} records", end="\r", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def health_from_raw(store: Store) -> list[tuple[object, ...]]:
    """Compute the Health figures straight from call records, as a page would without rollups."""
    since = NOW - timedelta(minutes=10)
    month = NOW.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with store.session() as session:
        window = session.execute(
            select(CallRecordRow.vendor, func.count(), func.sum(CallRecordRow.breaker_failure.cast(Integer)))
            .where(CallRecordRow.started_at >= since).group_by(CallRecordRow.vendor)).all()
        latencies = session.execute(select(CallRecordRow.vendor, CallRecordRow.latency_ms)
                                    .where(CallRecordRow.started_at >= since)).all()
        credits = session.execute(select(CallRecordRow.vendor, func.sum(CallRecordRow.credits))
                                  .where(CallRecordRow.started_at >= month).group_by(CallRecordRow.vendor)).all()
        last = session.execute(select(CallRecordRow.vendor, func.max(CallRecordRow.started_at))
                               .where(CallRecordRow.outcome == "success").group_by(CallRecordRow.vendor)).all()
    by_vendor: dict[str, list[float]] = {}
    for vendor, latency in latencies:
        by_vendor.setdefault(vendor, []).append(latency)
    p95 = {vendor: statistics.quantiles(values, n=20)[-1] for vendor, values in by_vendor.items() if len(values) > 1}
    return [*window, *credits, *last, *p95.items()]


def spend_from_raw(store: Store) -> list[tuple[object, ...]]:
    month = NOW.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    day = func.date(CallRecordRow.started_at)
    with store.session() as session:
        return list(session.execute(
            select(CallRecordRow.vendor, day, func.count(), func.sum(CallRecordRow.credits),
                   func.sum(CallRecordRow.cost_usd))
            .where(CallRecordRow.started_at >= month).group_by(CallRecordRow.vendor, day)).all())


def median_ms(action: Callable[[], object], repeat: int) -> float:
    action()  # warm caches and connections once
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run_backend(name: str, url: str, records: int, repeat: int, root: Path) -> dict[str, float]:
    store = Store(url)
    store.migrate()
    started = time.perf_counter()
    fill(store, records)
    print(f"  {name}: filled in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    settings = Settings(root=root, database_url=url, sandbox_url="http://127.0.0.1:9", statsd_port=9)
    runtime = open_runtime(settings)
    plans = load_plans()
    try:
        results = {
            "health_rollups": median_ms(lambda: vendor_health(runtime, now=NOW), repeat),
            "health_raw": median_ms(lambda: health_from_raw(store), repeat),
            "spend_rollups": median_ms(lambda: spend_report(store, plans, NOW.date().replace(day=1), now=NOW),
                                       repeat),
            "spend_raw": median_ms(lambda: spend_from_raw(store), repeat),
        }
    finally:
        runtime.close()
        store.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="call records to generate (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per figure (default 9)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    args = parser.parse_args()

    rows = []
    for backend in [part.strip() for part in args.backends.split(",") if part.strip()]:
        root = Path(tempfile.mkdtemp(prefix="roleferry-bench-"))
        server = None
        try:
            if backend == "sqlite":
                url = f"sqlite:///{root / 'console.db'}"
            elif backend == "postgresql":
                # Its own temporary directory: PostgreSQL runs as the postgres
                # user when this runs as root and cannot enter `root`.
                server = PostgresServer(Path(tempfile.mkdtemp(prefix="roleferry-bench-pg-"))).start()
                url = server.new_database()
            else:
                parser.error(f"unknown backend {backend!r}; choose sqlite or postgresql")
            print(f"{backend}: {args.records:,} records", file=sys.stderr)
            result = run_backend(backend, url, args.records, args.repeat, root)
            rows.append((backend, result))
            print(f"  {backend}: " + ", ".join(f"{name} {value:.1f} ms" for name, value in result.items()),
                  file=sys.stderr, flush=True)
        finally:
            if server is not None:
                server.stop()
                shutil.rmtree(server.base, ignore_errors=True)
            shutil.rmtree(root, ignore_errors=True)

    print(f"records: {args.records:,} over 30 days, six vendors; median of {args.repeat} runs")
    print(f"{'backend':<11} {'health ms':>10} {'raw ms':>9} {'spend ms':>9} {'raw ms':>9} "
          f"{'health x':>9} {'spend x':>8}")
    for backend, result in rows:
        print(f"{backend:<11} {result['health_rollups']:>10.1f} {result['health_raw']:>9.1f} "
              f"{result['spend_rollups']:>9.1f} {result['spend_raw']:>9.1f} "
              f"{result['health_raw'] / result['health_rollups']:>9.1f} "
              f"{result['spend_raw'] / result['spend_rollups']:>8.1f}")
    for backend, result in rows:
        print(f"ratio raw/rollups ({backend}): health {result['health_raw'] / result['health_rollups']:.1f}, "
              f"spend {result['spend_raw'] / result['spend_rollups']:.1f} (target >= 20; health < 50 ms)")


if __name__ == "__main__":
    main()
