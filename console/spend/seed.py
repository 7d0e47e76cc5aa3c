"""Made-up but realistic call history, so a new sandbox store shows a meaningful Spend and Health page.

The history ends at `now` and is deterministic for a given `now`: each vendor's
day draws from its own random generator seeded by the date. It has weekday peaks
in US working hours and quiet weekends. One outage day has Apollo down, so
enrichment falls through to Clay. One backfill spike has four times the
enrichment, in batch mode, with rate limiting. A burst of rate-limited calls
comes two hours before `now`. Rollups are written for every day; raw call records only for the last
RAW_RECORD_DAYS days, as a live store keeps them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from clients.errors import CircuitOpen, RateLimited, VendorTimeout, VendorUnavailable
from clients.recording import SUCCESS, CallRecord
from clients.registry import REGISTRY
from clients.registry.spec import VendorSpec
from console.recorder import BATCH_SIZE, rollup_rows, upsert_rollups, write_records
from console.spend.plans import ChargeFee, TokenPrice, shipped_plans
from console.spend.pricing import charge_fee_usd, token_cost_usd
from console.store import Store
from console.store.models import Rollup
from console.store.times import as_utc, utcnow

RAW_RECORD_DAYS = 2
OUTAGE_DAYS_AGO = 9
SPIKE_DAYS_AGO = 4
SPIKE_FACTOR = 4
WEEKEND_FACTOR = 0.15
# Working hours of the US teams, in UTC: 13:00 to 23:59.
WORK_START_HOUR = 13
WORK_MINUTES = 11 * 60
FAILURE_RATE = 0.02
INCIDENT_CALLS = 3


# Monthly prices of the sandbox Stripe subscriptions, in USD, and how often each is sold.
SUBSCRIPTION_PRICES_USD = (49.0, 199.0)
SUBSCRIPTION_WEIGHTS = (7, 3)
# Claude models the drafting feature uses, and each one's share of the messages.
CLAUDE_MODELS = ("claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5")
CLAUDE_WEIGHTS = (5, 4, 1)
# Tokens of one drafting message: the prompt carries a candidate profile and a job
# description, the reply is a short e-mail.
PROMPT_TOKENS = (12_000, 3_000)
REPLY_TOKENS = (1_000, 300)

# Draws the credits and the metered cost in USD of one successful call.
Meter = Callable[[random.Random], tuple[float, float]]


class SeedRefused(Exception):
    """The store already contains call history in the window, which seeding would double."""


@dataclass(frozen=True)
class Operation:
    name: str
    weekday_calls: int
    # Credits charged by one successful call, drawn uniformly from this range.
    credits: tuple[int, int]
    # Share of successful calls that find nothing and charge no credit.
    empty_share: float
    latency_ms: float
    enrichment: bool = False
    # Replaces `credits` for calls metered in money rather than credits at the
    # overage price (Stripe's fee on a charge, Anthropic's tokens by model).
    meter: Meter | None = None


def stripe_charge_meter(fee: ChargeFee) -> Meter:
    """Meter a new subscription: one successful charge of its first month, and Stripe's fee on it."""

    def meter(rng: random.Random) -> tuple[float, float]:
        amount = rng.choices(SUBSCRIPTION_PRICES_USD, SUBSCRIPTION_WEIGHTS)[0]
        return 1.0, charge_fee_usd(fee, amount)

    return meter


def claude_message_meter(prices: dict[str, TokenPrice]) -> Meter:
    """Meter one drafting message: its tokens as credits, priced by the model drawn for it."""

    def meter(rng: random.Random) -> tuple[float, float]:
        model = rng.choices(CLAUDE_MODELS, CLAUDE_WEIGHTS)[0]
        input_tokens = max(int(rng.gauss(*PROMPT_TOKENS)), 100)
        output_tokens = max(int(rng.gauss(*REPLY_TOKENS)), 20)
        return float(input_tokens + output_tokens), token_cost_usd(prices, model, input_tokens, output_tokens)

    return meter


# The shipped plans price the seeded Stripe and Anthropic calls, so a
# deployment's plans file does not change the history a seed writes.
_SHIPPED = shipped_plans()
_STRIPE_FEE = _SHIPPED["stripe"].charge_fee or ChargeFee(2.9, 0.30)


# Apollo's monthly allowance is 1,000 credits, so about 48 a weekday plus the
# backfill spike runs it out shortly before month end.
PROFILES: dict[str, tuple[Operation, ...]] = {
    "apollo": (
        Operation("people_search", 60, (0, 0), 0.0, 280.0),
        Operation("people_enrich", 55, (1, 1), 0.12, 420.0, enrichment=True),
        Operation("health", 24, (0, 0), 0.0, 90.0),
    ),
    "clay": (
        Operation("people_search", 18, (0, 0), 0.0, 650.0),
        Operation("email_lookup", 14, (1, 3), 0.2, 1800.0, enrichment=True),
        Operation("me", 24, (0, 0), 0.0, 120.0),
    ),
    # About 1,000 e-mails a weekday (a send reaches 1 to 4 recipients), so a month
    # stays well inside the 50,000 e-mails of the Essentials plan.
    "sendgrid": (
        Operation("send", 400, (1, 4), 0.0, 180.0),
        Operation("credits", 24, (0, 0), 0.0, 110.0),
        Operation("stats", 4, (0, 0), 0.0, 240.0),
    ),
    # Six new subscriptions a weekday. Each first invoice is one card charge.
    "stripe": (
        Operation("balance", 24, (0, 0), 0.0, 150.0),
        Operation("create_customer", 6, (0, 0), 0.0, 320.0),
        Operation("create_subscription", 6, (1, 1), 0.0, 650.0, meter=stripe_charge_meter(_STRIPE_FEE)),
        Operation("balance_transactions", 2, (0, 0), 0.0, 400.0),
    ),
    # Drafting messages, roughly $10 a weekday at the shipped token prices.
    "anthropic": (
        Operation("list_models", 24, (0, 0), 0.0, 140.0),
        Operation("message", 300, (0, 0), 0.0, 4200.0,
                  meter=claude_message_meter(_SHIPPED["anthropic"].token_prices)),
        Operation("count_tokens", 40, (0, 0), 0.0, 160.0),
    ),
    # Nothing metered: the Pro plan's fixed fee is the whole bill.
    "datadog": (
        Operation("validate", 24, (0, 0), 0.0, 90.0),
        Operation("list_monitors", 6, (0, 0), 0.0, 210.0),
        Operation("estimated_cost", 1, (0, 0), 0.0, 520.0),
    ),
}


@dataclass
class SeedSummary:
    first_day: date
    last_day: date
    calls: int
    raw_records: int
    outage_day: date | None
    spike_day: date | None


def generic_profile(spec: VendorSpec) -> tuple[Operation, ...]:
    """Build a profile from the registry entry, for a vendor without a hand-written one."""
    operations = dict(spec.credits_per_call) or {probe.operation: 0 for probe in spec.probes}
    return tuple(
        Operation(name, 30 if credits else 20, (credits, credits), 0.0, 300.0, enrichment=bool(credits))
        for name, credits in operations.items()
    )


def _minutes(rng: random.Random, day: date, count: int, now: datetime) -> Iterator[datetime]:
    start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=WORK_START_HOUR)
    for _ in range(count):
        # A triangular draw peaks mid-afternoon in the US, as real traffic does.
        offset = rng.triangular(0, WORK_MINUTES, WORK_MINUTES * 0.4)
        at = start + timedelta(minutes=offset, seconds=rng.random())
        if at <= now:
            yield at


def _failure(rng: random.Random, outage: bool, spike: bool) -> type[Exception] | None:
    if outage:
        return rng.choices((VendorUnavailable, VendorTimeout, CircuitOpen, None), (30, 10, 50, 10))[0]
    if spike and rng.random() < 0.05:
        return RateLimited
    if rng.random() < FAILURE_RATE:
        return rng.choice((VendorUnavailable, VendorTimeout))
    return None


def day_records(spec: VendorSpec, day: date, now: datetime, outage_day: date | None,
                spike_day: date | None) -> list[CallRecord]:
    """Generate the calls of one vendor on one day, deterministic for the vendor and the date."""
    rng = random.Random(f"roleferry-seed-{spec.name}-{day.isoformat()}")
    profile = PROFILES.get(spec.name) or generic_profile(spec)
    weekend = day.weekday() >= 5
    outage = day == outage_day and spec.name == "apollo"
    # During Apollo's outage, enrichment falls through to Clay, which takes its load.
    fallback = day == outage_day and spec.name == "clay"
    spike = day == spike_day
    records: list[CallRecord] = []
    for operation in profile:
        volume = operation.weekday_calls * (WEEKEND_FACTOR if weekend else 1.0)
        if operation.enrichment and spike:
            volume *= SPIKE_FACTOR
        if operation.enrichment and fallback:
            volume *= 3
        count = max(int(rng.gauss(volume, math.sqrt(volume) + 1)), 0)
        mode = "batch" if spike and operation.enrichment else "interactive"
        for started_at in _minutes(rng, day, count, now):
            latency = rng.lognormvariate(math.log(operation.latency_ms), 0.45)
            error = _failure(rng, outage, spike)
            record = CallRecord(vendor=spec.name, operation=operation.name, outcome=SUCCESS, mode=mode,
                                started_at=started_at, latency_ms=latency, attempts=1, status_code=200,
                                request_id=f"seed-{rng.getrandbits(48):012x}")
            if error is None and operation.meter is not None:
                record.credits, record.cost_usd = operation.meter(rng)
            elif error is None:
                found = rng.random() >= operation.empty_share
                record.credits = float(rng.randint(*operation.credits)) if found else 0.0
                record.cost_usd = record.credits * spec.usd_per_credit
            else:
                _mark_failed(record, error, rng)
            records.append(record)
    records.sort(key=lambda record: record.started_at)
    return records


def _mark_failed(record: CallRecord, error: type[Exception], rng: random.Random) -> None:
    record.outcome = error.__name__
    record.attempts = 1 if error is CircuitOpen else 3
    if error is VendorUnavailable:
        record.status_code = 503
        record.error_message = f"{record.vendor} returned 503 service unavailable"
        record.breaker_failure = True
    elif error is VendorTimeout:
        record.status_code = None
        record.latency_ms = 10_000.0 + rng.random() * 500
        record.error_message = f"{record.vendor} sent no response within the 10 s read timeout"
        record.breaker_failure = True
    elif error is CircuitOpen:
        record.status_code = None
        record.latency_ms = rng.random()
        record.error_message = f"{record.vendor} breaker open; no request sent"
    elif error is RateLimited:
        record.status_code = 429
        record.error_message = f"{record.vendor} returned 429 on all 3 attempts"


def incident_records(spec: VendorSpec, now: datetime) -> list[CallRecord]:
    """Generate a short burst of rate-limited calls two hours before `now`.

    The last day may be a quiet Sunday, and Health's recent failures should show
    something on a fresh store whatever the weekday.
    """
    rng = random.Random(f"roleferry-incident-{spec.name}-{now.date().isoformat()}")
    operation = (PROFILES.get(spec.name) or generic_profile(spec))[0].name
    records = []
    for index in range(INCIDENT_CALLS):
        record = CallRecord(vendor=spec.name, operation=operation, outcome=SUCCESS, mode="batch",
                            started_at=now - timedelta(hours=2, minutes=-index), latency_ms=0.0, attempts=1,
                            request_id=f"seed-{rng.getrandbits(48):012x}")
        _mark_failed(record, RateLimited, rng)
        record.latency_ms = 2_000.0 + rng.random() * 500
        records.append(record)
    return records


def seed_history(store: Store, days: int, now: datetime | None = None) -> SeedSummary:
    """Write `days` days of call history ending at `now` for every registry vendor.

    Raises SeedRefused when the store already has rollups in that window, and
    ValueError when `days` is below 1.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    now = as_utc(now or utcnow())
    last_day = now.date()
    first_day = last_day - timedelta(days=days - 1)
    window_start = datetime.combine(first_day, datetime.min.time(), UTC)
    with store.session() as session:
        existing = session.scalar(select(func.count()).select_from(Rollup).where(Rollup.minute >= window_start))
    if existing:
        raise SeedRefused(f"the store already has {existing} rollup rows since {first_day}; "
                          "seed-history fills an empty store only, so point DATABASE_URL at a new one")

    outage_day = last_day - timedelta(days=OUTAGE_DAYS_AGO) if days > OUTAGE_DAYS_AGO else None
    spike_day = last_day - timedelta(days=SPIKE_DAYS_AGO) if days > SPIKE_DAYS_AGO else None
    raw_from = last_day - timedelta(days=RAW_RECORD_DAYS - 1)
    calls = raw = 0
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        records = [record for spec in REGISTRY.values()
                   for record in day_records(spec, day, now, outage_day, spike_day)]
        if day == last_day:
            records += [record for spec in REGISTRY.values() for record in incident_records(spec, now)]
            records.sort(key=lambda record: record.started_at)
        calls += len(records)
        if day >= raw_from:
            for start in range(0, len(records), BATCH_SIZE):
                write_records(store, records[start:start + BATCH_SIZE])
            raw += len(records)
        else:
            with store.session() as session:
                upsert_rollups(session, rollup_rows(records))
    return SeedSummary(first_day, last_day, calls, raw, outage_day, spike_day)
