"""Monitors as data, and the values they watch, measured on the console's rollups.

Every vendor in the registry gets five default monitors, inserted into the
`monitors` table on first use (an edited row is never overwritten):

- error rate: breaker-counted failures over calls, last 10 minutes, above 0.1
  (warning above 0.05), the integrations guide's Datadog monitor;
- p95 latency above 2500 ms (warning above 1000 ms), read from the rollups'
  latency histogram, so the value is a bucket bound;
- breaker open (value 1 when open, 0 otherwise);
- credits left below 10% of the plan's allowance (warning below 25%), month to
  date, for vendors whose plan includes credits;
- auth failures: any AuthFailed call in the last 10 minutes.

Call-based monitors report "no data" below their `min_calls`, so one failure in
two calls pages nobody.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from clients.errors import AuthFailed
from clients.registry import REGISTRY
from console.health import month_start, percentile_from_buckets
from console.runtime import Runtime
from console.store import Store
from console.store.models import BUCKET_COLUMNS, Rollup
from console.store.ops_models import MonitorRow
from console.store.times import floor_minute

OK = "OK"
WARNING = "warning"
ALERT = "alert"
NO_DATA = "no data"
STATES = (OK, WARNING, ALERT, NO_DATA)

KINDS = ("error_rate", "p95_latency", "breaker_open", "credits_low", "auth_failures")
# Kinds whose value comes from calls in the window, and so need `min_calls` of them.
CALL_BASED = ("error_rate", "p95_latency", "auth_failures")
CONSOLE_URL_ENV = "ROLEFERRY_CONSOLE_URL"
DEFAULT_CONSOLE_URL = "http://localhost:8501"


@dataclass(frozen=True)
class Monitor:
    name: str
    kind: str
    vendor: str
    comparison: str  # "above" or "below"
    critical: float
    warning: float | None
    window_minutes: int = 10
    min_calls: int = 0
    enabled: bool = True
    description: str = ""

    @classmethod
    def from_row(cls, row: MonitorRow) -> Monitor:
        return cls(row.name, row.kind, row.vendor, row.comparison, row.critical, row.warning,
                   row.window_minutes, row.min_calls, row.enabled, row.description)

    def as_row(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "vendor": self.vendor, "comparison": self.comparison,
                "critical": self.critical, "warning": self.warning, "window_minutes": self.window_minutes,
                "min_calls": self.min_calls, "enabled": self.enabled, "description": self.description}

    def breaches(self, value: float, threshold: float) -> bool:
        return value > threshold if self.comparison == "above" else value < threshold

    def state_for(self, value: float | None) -> str:
        if value is None:
            return NO_DATA
        if self.breaches(value, self.critical):
            return ALERT
        if self.warning is not None and self.breaches(value, self.warning):
            return WARNING
        return OK


def default_monitors() -> list[Monitor]:
    monitors: list[Monitor] = []
    for name, spec in REGISTRY.items():
        title = spec.display_name
        monitors += [
            Monitor(f"{title} error rate high", "error_rate", name, "above", 0.10, 0.05, 10, 20,
                    description=f"{title} error rate (breaker-counted failures / calls) over 10% in the "
                    "last 10 minutes. Check whether the vendor is down or we hit its rate limit."),
            Monitor(f"{title} p95 latency high", "p95_latency", name, "above", 2500.0, 1000.0, 10, 20,
                    description=f"{title} p95 latency over 2.5 s in the last 10 minutes; interactive "
                    "calls give up after 8 s."),
            Monitor(f"{title} breaker open", "breaker_open", name, "above", 0.5, None, 10, 0,
                    description=f"{title}'s circuit breaker is open, so calls fail fast and enrichment "
                    "falls through to the next provider."),
            Monitor(f"{title} auth failures", "auth_failures", name, "above", 0.0, None, 10, 3,
                    description=f"{title} rejected our key (401/403) in the last 10 minutes. "
                    f"Check {spec.secret_names[0]}."),
        ]
        if spec.plan.included_credits:
            monitors.append(
                Monitor(f"{title} credits low", "credits_low", name, "below", 0.10, 0.25, 10, 0,
                        description=f"Under 10% of {title}'s {spec.plan.included_credits:,} included "
                        f"{spec.plan.credit_unit} left this month."))
    return monitors


# Store URLs whose default monitors this process has inserted, so evaluations
# every few seconds do not repeat the insert.
_ensured: set[str] = set()


def ensure_default_monitors(store: Store) -> None:
    """Insert each default monitor missing from the table; existing rows are left as edited.

    Runs once per store and process, so a default deleted while the console runs
    comes back only after a restart.
    """
    if store.url in _ensured:
        return
    rows = [monitor.as_row() for monitor in default_monitors()]
    insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
    with store.session() as session:
        session.execute(insert(MonitorRow).values(rows).on_conflict_do_nothing(index_elements=["name"]))
    _ensured.add(store.url)


def list_monitors(store: Store) -> list[Monitor]:
    ensure_default_monitors(store)
    with store.session() as session:
        rows = session.scalars(select(MonitorRow).order_by(MonitorRow.vendor, MonitorRow.name)).all()
    return [Monitor.from_row(row) for row in rows]


def runbook_path(vendor: str) -> str:
    return f"/runbooks?vendor={vendor}"


def runbook_url(vendor: str) -> str:
    """Return the absolute runbook URL, for messages read outside the console (Slack, Datadog)."""
    base = (os.environ.get(CONSOLE_URL_ENV) or DEFAULT_CONSOLE_URL).rstrip("/")
    return base + runbook_path(vendor)


@dataclass
class WindowStats:
    """One vendor's calls in a monitor window."""

    calls: int = 0
    breaker_failures: int = 0
    auth_failures: int = 0
    buckets: tuple[int, ...] = ()


def window_start(now: datetime, minutes: int) -> datetime:
    """First minute of the `minutes` whole minutes that end with the current one."""
    return floor_minute(now) - timedelta(minutes=minutes - 1)


def window_stats(runtime: Runtime, minutes: int, now: datetime) -> dict[str, WindowStats]:
    columns = [func.sum(getattr(Rollup, name)) for name in BUCKET_COLUMNS]
    with runtime.store.session() as session:
        rows = session.execute(
            select(Rollup.vendor, Rollup.outcome, func.sum(Rollup.calls), func.sum(Rollup.breaker_failures),
                   *columns)
            .where(Rollup.minute >= window_start(now, minutes), Rollup.minute <= now)
            .group_by(Rollup.vendor, Rollup.outcome)
        ).all()
    stats: dict[str, WindowStats] = {}
    for vendor, outcome, calls, failures, *buckets in rows:
        entry = stats.setdefault(vendor, WindowStats(buckets=(0,) * len(BUCKET_COLUMNS)))
        entry.calls += int(calls or 0)
        entry.breaker_failures += int(failures or 0)
        if outcome == AuthFailed.__name__:
            entry.auth_failures += int(calls or 0)
        entry.buckets = tuple(a + int(b or 0) for a, b in zip(entry.buckets, buckets, strict=True))
    return stats


def month_credits(runtime: Runtime, now: datetime) -> dict[str, float]:
    with runtime.store.session() as session:
        rows = session.execute(
            select(Rollup.vendor, func.sum(Rollup.credits))
            .where(Rollup.minute >= month_start(now), Rollup.minute <= now).group_by(Rollup.vendor)
        ).all()
    return {vendor: float(credits or 0.0) for vendor, credits in rows}


class Measurements:
    """Values of every monitor at one instant, reading each window from the store once."""

    def __init__(self, runtime: Runtime, now: datetime) -> None:
        self.runtime = runtime
        self.now = now
        self._windows: dict[int, dict[str, WindowStats]] = {}
        self._credits: dict[str, float] | None = None

    def window(self, vendor: str, minutes: int) -> WindowStats:
        if minutes not in self._windows:
            self._windows[minutes] = window_stats(self.runtime, minutes, self.now)
        return self._windows[minutes].get(vendor, WindowStats(buckets=(0,) * len(BUCKET_COLUMNS)))

    def value(self, monitor: Monitor) -> float | None:
        """Return the monitor's current value, or None when there is no data to judge."""
        if monitor.kind in CALL_BASED:
            stats = self.window(monitor.vendor, monitor.window_minutes)
            if stats.calls == 0 or stats.calls < monitor.min_calls:
                return None
            if monitor.kind == "error_rate":
                return stats.breaker_failures / stats.calls
            if monitor.kind == "p95_latency":
                return percentile_from_buckets(list(stats.buckets), 0.95)
            return float(stats.auth_failures)
        if monitor.kind == "breaker_open":
            return 1.0 if self.runtime.breaker(monitor.vendor).state == "open" else 0.0
        if monitor.kind == "credits_low":
            included = REGISTRY[monitor.vendor].plan.included_credits
            if not included:
                return None
            if self._credits is None:
                self._credits = month_credits(self.runtime, self.now)
            return max(included - self._credits.get(monitor.vendor, 0.0), 0.0) / included
        raise ValueError(f"unknown monitor kind {monitor.kind!r} on {monitor.name!r}; choose one of {KINDS}")


def describe_value(monitor: Monitor, value: float | None) -> str:
    if value is None:
        return f"fewer than {max(monitor.min_calls, 1)} calls in the last {monitor.window_minutes} minutes"
    if monitor.kind == "error_rate":
        return f"error rate {value:.1%}"
    if monitor.kind == "p95_latency":
        return f"p95 latency {value:,.0f} ms"
    if monitor.kind == "breaker_open":
        return "breaker open" if value else "breaker closed"
    if monitor.kind == "credits_low":
        return f"{value:.0%} of the month's credits left"
    return f"{value:.0f} auth failures"
