"""Month-to-date figures over rollups: hand-worked months, an empty month, seeded history."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from clients.recording import SUCCESS, CallRecord
from console.recorder import write_records
from console.spend.figures import InvalidMonth, days_in, parse_month, spend_report
from console.spend.plans import load_plans, shipped_plans
from console.spend.pricing import allowance_cost_usd
from console.spend.seed import SeedRefused, seed_history
from console.store import Store
from console.store.models import CallRecordRow, DailyRollup, Rollup

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(settings):
    # Tests marked all_backends get a PostgreSQL store too, where days are cut differently.
    store = Store(settings.database_url)
    store.migrate()
    yield store
    store.dispose()


def call(vendor, day, credits=0.0, cost=0.0, outcome=SUCCESS, operation="people_enrich"):
    return CallRecord(vendor=vendor, operation=operation, outcome=outcome, mode="interactive",
                      started_at=datetime(2026, 12, day, 15, 30, tzinfo=UTC), latency_ms=200.0,
                      attempts=1, credits=credits, cost_usd=cost)


@pytest.fixture
def december(store):
    write_records(store, [
        call("apollo", 1, credits=300), call("apollo", 5, credits=500), call("apollo", 10, credits=300),
        call("apollo", 10, outcome="VendorUnavailable"),
        call("clay", 3, credits=2000, operation="email_lookup"),
        call("stripe", 2, cost=4.92, operation="charge"), call("stripe", 8, cost=3.20, operation="charge"),
    ])
    return store


def plans_with_stripe():
    plans = load_plans(environ={})
    plans["stripe"] = shipped_plans()["stripe"]
    return plans


@pytest.mark.all_backends
def test_apollo_overage_and_projection(december):
    apollo = spend_report(december, plans_with_stripe(), now=NOW).vendors[0]
    assert apollo.credits_used == 1100
    assert apollo.fixed_usd == 99.00
    assert apollo.metered_usd == 20.00                  # 100 credits over x $0.20
    assert apollo.total_usd == 119.00
    assert apollo.credits_left == 0
    assert apollo.exhausted_on == date(2026, 12, 10)    # the day the total passed 1,000


def test_projection_follows_burn(december):
    report = spend_report(december, plans_with_stripe(), now=NOW)
    apollo = report.vendors[0]
    assert report.days_elapsed == 10
    assert apollo.burn_credits_per_day == pytest.approx(110.0)
    # 1,100 credits + 110 a day x 21 days = 3,410; 99 + 2,410 x 0.20 = 581.00
    assert apollo.projected_credits == pytest.approx(1100 + 110 * 21)
    assert apollo.projected_usd == 581.00
    assert apollo.projected_over_budget
    assert not apollo.over_budget


def test_allowance_runs_out_before_month_end(december):
    clay = spend_report(december, plans_with_stripe(), now=NOW).vendors[1]
    # 2,000 of 6,000 used in 10 days: 200 a day, 4,000 left lasts 20 days after 10 Dec.
    assert clay.burn_credits_per_day == pytest.approx(200.0)
    assert clay.exhausted_on == date(2026, 12, 30)
    # 2,000 + 200 x 21 = 6,200; 349 + 200 x 0.08 = 365.00
    assert clay.projected_usd == 365.00
    assert clay.total_usd == 349.00


@pytest.mark.all_backends
def test_month_to_date_is_sum_of_days(december):
    report = spend_report(december, plans_with_stripe(), now=NOW)
    for vendor in report.vendors:
        days = [row for row in report.daily if row.vendor == vendor.vendor]
        assert len(days) == 10
        assert round(sum(row.total_usd for row in days), 2) == vendor.total_usd
        assert sum(row.credits for row in days) == vendor.credits_used
    first_day = {row.vendor: row for row in report.daily if row.day == date(2026, 12, 1)}
    assert first_day["apollo"].fixed_usd == 99.00
    tenth = next(row for row in report.daily if row.vendor == "apollo" and row.day == date(2026, 12, 10))
    assert tenth.metered_usd == 20.00


def test_totals_sum_vendors(december):
    report = spend_report(december, plans_with_stripe(), now=NOW)
    # Apollo 99 + 20, Clay 349, SendGrid 20, Stripe 8.12 in fees, Anthropic 0, Datadog 310.
    assert report.total["total_usd"] == round(99 + 20 + 349 + 20 + 8.12 + 0 + 310, 2)
    assert report.total["fixed_usd"] == 99 + 349 + 20 + 0 + 0 + 310
    assert report.total["metered_usd"] == round(20 + 8.12, 2)
    assert report.total["budget_usd"] == 499 + 600 + 200 + 500 + 2000 + 310


def test_figures_read_daily_rollups(december):
    # Minute rollups are a finer copy of the same calls; Spend must not need them.
    with december.session() as session:
        session.execute(delete(Rollup))
    report = spend_report(december, plans_with_stripe(), now=NOW)
    vendors = {vendor.vendor: vendor for vendor in report.vendors}
    assert vendors["apollo"].total_usd == 119.00
    assert vendors["apollo"].credits_used == 1100
    assert vendors["stripe"].metered_usd == 8.12


def test_cents_add_up_with_fractions(store):
    write_records(store, [call("stripe", day, cost=0.333, operation="charge") for day in range(1, 11)])
    plans = {"stripe": shipped_plans()["stripe"]}
    stripe = spend_report(store, plans, now=NOW).vendors[0]
    days = [row.total_usd for row in spend_report(store, plans, now=NOW).daily]
    assert stripe.total_usd == 3.33
    assert round(sum(days), 2) == 3.33


@pytest.mark.all_backends
def test_empty_month_shows_fixed_fees(december):
    report = spend_report(december, load_plans(environ={}), month=date(2026, 6, 1), now=NOW)
    assert report.days_elapsed == 30
    assert [v.vendor for v in report.vendors] == ["apollo", "clay", "sendgrid", "stripe", "anthropic", "datadog"]
    fees = [99.00, 349.00, 20.00, 0.00, 0.00, 310.00]
    assert [v.total_usd for v in report.vendors] == fees
    assert [v.metered_usd for v in report.vendors] == [0.00] * 6
    assert [v.projected_usd for v in report.vendors] == fees
    assert [v.exhausted_on for v in report.vendors] == [None] * 6
    # Pay-as-you-go vendors have no allowance, so nothing is left or used up.
    assert [v.credits_left for v in report.vendors] == [1000, 6000, 50000, None, None, None]
    assert report.cost_per_enrichment_usd is None


def test_past_month_projection_is_total(december):
    report = spend_report(december, load_plans(environ={}), month=date(2026, 12, 1),
                          now=datetime(2027, 1, 3, tzinfo=UTC))
    apollo = report.vendors[0]
    assert report.days_elapsed == 31
    assert apollo.projected_usd == apollo.total_usd == 119.00


def test_future_month_rejected(store):
    with pytest.raises(InvalidMonth, match="has not started"):
        spend_report(store, load_plans(environ={}), month=date(2027, 1, 1), now=NOW)


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "december", "2026/12", ""])
def test_parse_month_rejects(text):
    with pytest.raises(InvalidMonth, match="YYYY-MM"):
        parse_month(text)


def test_cost_per_enrichment(december):
    report = spend_report(december, load_plans(environ={}), now=NOW)
    # Apollo 119.00 + Clay 349.00 over 1,100 + 2,000 contacts.
    assert report.cost_per_enrichment_usd == round(468.0 / 3100, 4)


@pytest.mark.all_backends
def test_seeded_history_figures(store):
    now = datetime(2026, 12, 20, 18, 0, tzinfo=UTC)
    summary = seed_history(store, 45, now=now)
    assert summary.first_day == date(2026, 11, 6)
    assert summary.outage_day == date(2026, 12, 11)
    assert summary.spike_day == date(2026, 12, 16)

    plans = load_plans(environ={})
    report = spend_report(store, plans, now=now)
    remaining = days_in(report.month) - report.days_elapsed
    metered = month_cost_from_minute_rollups(store, date(2026, 12, 1), date(2026, 12, 21))
    for vendor in report.vendors:
        plan = plans[vendor.vendor]
        days = [row for row in report.daily if row.vendor == vendor.vendor]
        assert round(sum(row.total_usd for row in days), 2) == vendor.total_usd
        burn = vendor.credits_used / report.days_elapsed
        assert vendor.burn_credits_per_day == pytest.approx(burn)
        if plan.has_allowance:
            assert vendor.total_usd == round(allowance_cost_usd(plan.plan, vendor.credits_used), 2)
            projected = allowance_cost_usd(plan.plan, vendor.credits_used + burn * remaining)
        else:
            cost = metered.get(vendor.vendor, 0.0)
            assert vendor.total_usd == round(plan.plan.monthly_fee_usd + cost, 2)
            projected = plan.plan.monthly_fee_usd + cost + cost / report.days_elapsed * remaining
        assert vendor.projected_usd == round(projected, 2)
        if vendor.exhausted_on is not None and vendor.credits_left:
            assert vendor.exhausted_on == date(2026, 12, 20) + timedelta(
                days=math.ceil(vendor.credits_left / burn))
    assert report.vendors[0].credits_used > 0


def month_cost_from_minute_rollups(store, first_day, end_day):
    """Sum metered cost per vendor from the minute rollups, apart from the daily rollups Spend reads."""
    start = datetime.combine(first_day, datetime.min.time(), UTC)
    end = datetime.combine(end_day, datetime.min.time(), UTC)
    with store.session() as session:
        rows = session.execute(select(Rollup.vendor, func.sum(Rollup.cost_usd))
                               .where(Rollup.minute >= start, Rollup.minute < end)
                               .group_by(Rollup.vendor)).all()
    return {vendor: float(cost) for vendor, cost in rows}


def test_seeded_history_new_vendors(store):
    now = datetime(2026, 12, 20, 18, 0, tzinfo=UTC)
    seed_history(store, 45, now=now)
    vendors = {v.vendor: v for v in spend_report(store, load_plans(environ={}), now=now).vendors}
    # About 1,000 e-mails a weekday: well inside the 50,000 of the plan after 20 days.
    assert 10_000 < vendors["sendgrid"].credits_used < 50_000
    assert vendors["sendgrid"].total_usd == 20.00
    # Six subscriptions a weekday at $49 or $199: each fee is $1.72 or $6.07.
    stripe = vendors["stripe"]
    assert 1.72 * stripe.credits_used <= stripe.metered_usd <= 6.07 * stripe.credits_used
    assert stripe.credits_used > 50
    # Drafting messages cost cents each, with thousands of tokens per message.
    anthropic = vendors["anthropic"]
    assert anthropic.metered_usd > 50
    assert anthropic.credits_used > 1_000_000
    assert anthropic.metered_usd < anthropic.budget_usd
    datadog = vendors["datadog"]
    assert datadog.metered_usd == 0.00
    assert datadog.total_usd == datadog.projected_usd == 310.00


def test_seeded_history_shape(store):
    now = datetime(2026, 12, 20, 18, 0, tzinfo=UTC)
    seed_history(store, 45, now=now)
    report = spend_report(store, load_plans(environ={}), now=now)
    apollo_calls = {row.day: row.calls for row in report.daily if row.vendor == "apollo"}
    # Wednesday 9 Dec against Sunday 13 Dec: weekday peaks.
    assert apollo_calls[date(2026, 12, 9)] > 3 * apollo_calls[date(2026, 12, 13)]
    # The backfill spike on Wednesday 16 Dec against the Wednesday before.
    apollo_credits = {row.day: row.credits for row in report.daily if row.vendor == "apollo"}
    assert apollo_credits[date(2026, 12, 16)] > 2 * apollo_credits[date(2026, 12, 9)]
    with store.session() as session:
        outage_failures = session.scalar(
            select(func.sum(Rollup.calls)).where(Rollup.vendor == "apollo", Rollup.outcome != SUCCESS,
                                                 Rollup.minute >= datetime(2026, 12, 11, tzinfo=UTC),
                                                 Rollup.minute < datetime(2026, 12, 12, tzinfo=UTC)))
        raw_oldest = session.scalar(select(func.min(CallRecordRow.started_at)))
        raw_failures = session.scalar(select(func.count()).select_from(CallRecordRow)
                                      .where(CallRecordRow.outcome != SUCCESS))
        latest = session.scalar(select(func.max(Rollup.minute)))
    assert outage_failures > 50
    assert raw_oldest.date() >= date(2026, 12, 19)
    assert raw_failures > 0
    assert latest.replace(tzinfo=UTC) <= now


@pytest.mark.all_backends
def test_seed_fills_daily_rollups(store):
    now = datetime(2026, 12, 20, 18, 0, tzinfo=UTC)
    seed_history(store, 45, now=now)
    with store.session() as session:
        minute = session.execute(select(Rollup.vendor, func.sum(Rollup.calls), func.sum(Rollup.credits),
                                        func.sum(Rollup.cost_usd)).group_by(Rollup.vendor)).all()
        daily = session.execute(select(DailyRollup.vendor, func.sum(DailyRollup.calls),
                                       func.sum(DailyRollup.credits), func.sum(DailyRollup.cost_usd))
                                .group_by(DailyRollup.vendor)).all()
        days = session.scalar(select(func.count(func.distinct(DailyRollup.day))))
    assert days == 45
    minute_totals = {vendor: (calls, credits, cost) for vendor, calls, credits, cost in minute}
    daily_totals = {vendor: (calls, credits, cost) for vendor, calls, credits, cost in daily}
    assert set(daily_totals) == set(minute_totals) == set(load_plans(environ={}))
    for vendor, (calls, credits, cost) in minute_totals.items():
        assert daily_totals[vendor][0] == calls, vendor
        assert daily_totals[vendor][1] == pytest.approx(credits), vendor
        assert daily_totals[vendor][2] == pytest.approx(cost), vendor


def test_seed_is_deterministic(tmp_path):
    now = datetime(2026, 12, 20, 18, 0, tzinfo=UTC)
    figures = []
    for name in ("a", "b"):
        store = Store(f"sqlite:///{tmp_path / name}.db")
        store.migrate()
        seed_history(store, 45, now=now)
        figures.append([(row.vendor, row.day, row.calls, row.credits)
                        for row in spend_report(store, load_plans(environ={}), now=now).daily])
        store.dispose()
    assert figures[0] == figures[1]


def test_seed_refuses_store_with_history(store):
    now = datetime(2026, 12, 20, 18, 0, tzinfo=UTC)
    seed_history(store, 3, now=now)
    with pytest.raises(SeedRefused, match="empty store"):
        seed_history(store, 3, now=now)
