"""Vendor health from the last 10 minutes of rollups, plus breaker and flags.

Status, first match wins: `down` (breaker open), `misconfigured` (no key, or
auth failures), `exhausted` (out of credits), `degraded` (error rate above 10%,
the integrations guide's monitor threshold, or rate limited), `idle` (no
calls), else `healthy`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from clients.errors import CircuitOpen, NotConfigured, RateLimited
from clients.recording import SUCCESS
from clients.registry import REGISTRY
from clients.registry.spec import Plan
from console.runtime import Runtime
from console.spend.plans import PlanError, load_plans
from console.store.models import (
    BUCKET_COLUMNS,
    LATENCY_BUCKETS_MS,
    CallRecordRow,
    DailyRollup,
    Rollup,
    VendorFlag,
)
from console.store.times import as_utc, utcnow

log = logging.getLogger(__name__)

WINDOW = timedelta(minutes=10)
NO_REQUEST_OUTCOMES = frozenset({CircuitOpen.__name__, NotConfigured.__name__})
LAST_SUCCESS_RECENT = timedelta(hours=1)
DEGRADED_ERROR_RATE = 0.10


@dataclass
class VendorHealth:
    vendor: str
    display_name: str
    status: str
    breaker: str
    calls: int
    errors: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    rate_limited: int
    last_success: datetime | None
    credits_used: float
    credits_left: float | None
    credit_unit: str
    key: str
    reason: str

    def as_json(self) -> dict[str, object]:
        return {
            "vendor": self.vendor,
            "status": self.status,
            "breaker": self.breaker,
            "calls": self.calls,
            "error_rate": round(self.error_rate, 4),
            "p95_ms": self.p95_ms,
            "credits_left": self.credits_left,
        }

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def percentile_from_buckets(counts: list[int], fraction: float) -> float | None:
    """Upper bound (ms) of the histogram bucket holding the `fraction` quantile.

    Calls slower than the last bound report that bound doubled, marked as an
    estimate by its round value.
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for bound, count in zip((*LATENCY_BUCKETS_MS, LATENCY_BUCKETS_MS[-1] * 2), counts, strict=True):
        seen += count
        if seen >= rank:
            return float(bound)
    return float(LATENCY_BUCKETS_MS[-1] * 2)


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def current_plans() -> dict[str, Plan]:
    """Return each vendor's plan as Spend reads it: shipped defaults, then ROLEFERRY_PLANS_FILE.

    An unusable plans file falls back to the registry plans and logs the error,
    because Health must still show vendor status. The Spend page shows the error.
    """
    try:
        return {name: vendor_plan.plan for name, vendor_plan in load_plans().items()}
    except PlanError as exc:
        log.error("plans file not used for credits left, falling back to the registry plans: %s", exc)
        return {name: spec.plan for name, spec in REGISTRY.items()}


def vendor_health(runtime: Runtime, now: datetime | None = None) -> list[VendorHealth]:
    now = now or utcnow()
    plans = current_plans()
    since = now - WINDOW
    columns = [getattr(Rollup, name) for name in BUCKET_COLUMNS]
    with runtime.store.session() as session:
        window_rows = session.execute(
            select(Rollup.vendor, Rollup.outcome, func.sum(Rollup.calls), func.sum(Rollup.breaker_failures),
                   *[func.sum(column) for column in columns])
            .where(Rollup.minute >= since.replace(second=0, microsecond=0))
            .group_by(Rollup.vendor, Rollup.outcome)
        ).all()
        month_credits = dict(session.execute(
            select(DailyRollup.vendor, func.sum(DailyRollup.credits))
            .where(DailyRollup.day >= month_start(now).date()).group_by(DailyRollup.vendor)
        ).all())
        # One grouped query over the last hour covers every vendor in use. An idle
        # vendor gets one indexed lookup, newest first, instead of a longer scan.
        last_success: dict[str, object] = dict(session.execute(
            select(Rollup.vendor, func.max(Rollup.minute))
            .where(Rollup.outcome == SUCCESS, Rollup.minute >= now - LAST_SUCCESS_RECENT)
            .group_by(Rollup.vendor)
        ).all())
        for name in REGISTRY:
            if name not in last_success:
                last_success[name] = session.scalar(
                    select(Rollup.minute).where(Rollup.vendor == name, Rollup.outcome == SUCCESS)
                    .order_by(Rollup.minute.desc()).limit(1))
        flags = {(flag.vendor, flag.flag): flag for flag in session.scalars(select(VendorFlag))}

    health = []
    for name, spec in REGISTRY.items():
        # A call the breaker or a missing key stopped never reached the vendor, so
        # it shows nothing about the vendor's error rate or latency.
        rows = [row for row in window_rows if row[0] == name and row[1] not in NO_REQUEST_OUTCOMES]
        calls = sum(int(row[2] or 0) for row in rows)
        errors = sum(int(row[3] or 0) for row in rows)
        rate_limited = sum(int(row[2] or 0) for row in rows if row[1] == RateLimited.__name__)
        buckets = [sum(int(row[4 + i] or 0) for row in rows) for i in range(len(BUCKET_COLUMNS))]
        breaker = runtime.breaker(name).state
        key = runtime.secrets.status(spec.secret_names[0])
        used = float(month_credits.get(name) or 0.0)
        plan = plans[name]
        included = plan.included_credits
        credits_left = max(included - used, 0.0) if included is not None else None
        error_rate = errors / calls if calls else 0.0

        if breaker == "open":
            status, reason = "down", "breaker open"
        elif not key.is_set:
            status, reason = "misconfigured", f"{spec.secret_names[0]} is not set"
        elif (name, "misconfigured") in flags:
            status, reason = "misconfigured", flags[(name, "misconfigured")].reason
        elif (name, "exhausted") in flags:
            status, reason = "exhausted", flags[(name, "exhausted")].reason
        elif calls and (error_rate > DEGRADED_ERROR_RATE or rate_limited):
            status = "degraded"
            reason = f"error rate {error_rate:.0%}" if error_rate > DEGRADED_ERROR_RATE \
                else f"{rate_limited} calls rate limited"
        elif not calls:
            status, reason = "idle", "no calls in the last 10 minutes"
        else:
            status, reason = "healthy", ""

        success_at = last_success.get(name)
        health.append(VendorHealth(
            vendor=name, display_name=spec.display_name, status=status, breaker=breaker,
            calls=calls, errors=errors, error_rate=error_rate,
            p50_ms=percentile_from_buckets(buckets, 0.50), p95_ms=percentile_from_buckets(buckets, 0.95),
            rate_limited=rate_limited,
            last_success=as_utc(success_at) if success_at is not None else None,
            credits_used=used, credits_left=credits_left, credit_unit=plan.credit_unit,
            key=key.masked, reason=reason,
        ))
    return health


def calls_per_minute(runtime: Runtime, minutes: int = 60, now: datetime | None = None) -> list[dict[str, object]]:
    """Calls and breaker-counted errors per minute and vendor, for the Health chart."""
    now = now or utcnow()
    since = (now - timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    with runtime.store.session() as session:
        rows = session.execute(
            select(Rollup.minute, Rollup.vendor, func.sum(Rollup.calls),
                   func.sum(Rollup.calls).filter(Rollup.outcome != SUCCESS))
            .where(Rollup.minute >= since).group_by(Rollup.minute, Rollup.vendor).order_by(Rollup.minute)
        ).all()
    return [{"minute": as_utc(minute), "vendor": vendor, "calls": int(calls or 0), "errors": int(errors or 0)}
            for minute, vendor, calls, errors in rows]


def recent_failures(runtime: Runtime, limit: int = 20) -> list[dict[str, object]]:
    with runtime.store.session() as session:
        rows = session.scalars(
            select(CallRecordRow).where(CallRecordRow.outcome != SUCCESS)
            .order_by(CallRecordRow.started_at.desc()).limit(limit)
        ).all()
    return [{"at": as_utc(row.started_at), "vendor": row.vendor, "operation": row.operation,
             "outcome": row.outcome, "status": row.status_code, "attempts": row.attempts,
             "message": row.error_message, "request_id": row.request_id} for row in rows]
