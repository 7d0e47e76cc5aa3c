"""Month-to-date spend per vendor, from the daily rollups (one row per day, vendor, operation, outcome).

Conventions, shared by the Spend page, `roleferry-console spend` and the tests:

- A plan's fixed fee is billed in full on the first day of the month.
- An allowance plan's money is the fixed fee plus overage on the month's credits
  (see console.spend.pricing). A pay-as-you-go plan's money is the fixed fee plus
  the sum of the calls' metered `cost_usd`.
- Daily figures are differences of the cumulative figure rounded to the cent, so
  the days of a month add up to its month-to-date figure exactly.
- The burn is the month's usage divided by the days elapsed, with today counted
  as a whole day. The projection adds that burn for each remaining day.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from clients.recording import SUCCESS
from clients.registry import REGISTRY
from console.spend.plans import VendorPlan
from console.spend.pricing import allowance_cost_usd
from console.store import Store
from console.store.models import DailyRollup
from console.store.spend_models import VendorUsageSnapshot
from console.store.times import as_utc, utcnow

# Vendors whose credits are contacts enriched (one credit per e-mail returned),
# the denominator of the cost per successful enrichment.
ENRICHMENT_VENDORS = ("apollo", "clay")
MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")


class InvalidMonth(ValueError):
    pass


def parse_month(text: str) -> date:
    """Parse YYYY-MM into the month's first day, raising InvalidMonth with the expected form."""
    match = MONTH_PATTERN.match(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise InvalidMonth(f"invalid month {text!r}; write it as YYYY-MM, e.g. 2026-12")
    return date(int(match.group(1)), int(match.group(2)), 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def days_in(month: date) -> int:
    return (next_month(month) - month).days


def month_label(month: date) -> str:
    return f"{month:%Y-%m}"


def _cents(value: float) -> int:
    return round(value * 100)


@dataclass
class DailySpend:
    """One vendor's day: usage, the day's money, and the running month totals."""

    day: date
    vendor: str
    calls: int
    credits: float
    fixed_usd: float
    metered_usd: float
    total_usd: float
    cumulative_usd: float
    cumulative_credits: float
    credits_left: float | None


@dataclass
class VendorSpend:
    vendor: str
    display_name: str
    plan_name: str
    credit_unit: str
    fixed_usd: float
    metered_usd: float
    total_usd: float
    budget_usd: float
    projected_usd: float
    credits_used: float
    credits_included: int | None
    credits_left: float | None
    projected_credits: float
    burn_credits_per_day: float
    burn_usd_per_day: float
    exhausted_on: date | None
    enrichments: float
    vendor_reported_usd: float | None = None
    vendor_reported_credits: float | None = None
    metered_usd_at_report: float | None = None
    metered_credits_at_report: float | None = None
    reported_at: datetime | None = None
    report_source: str = ""

    @property
    def budget_used(self) -> float | None:
        """Fraction of the budget spent; None when no budget is set."""
        return self.total_usd / self.budget_usd if self.budget_usd else None

    @property
    def over_budget(self) -> bool:
        return bool(self.budget_usd) and self.total_usd > self.budget_usd

    @property
    def projected_over_budget(self) -> bool:
        return bool(self.budget_usd) and self.projected_usd > self.budget_usd

    @property
    def cost_per_enrichment_usd(self) -> float | None:
        return round(self.total_usd / self.enrichments, 4) if self.enrichments else None

    @property
    def drift_usd(self) -> float | None:
        """Vendor's figure minus ours at the moment of the report; positive means we under-count."""
        if self.vendor_reported_usd is None or self.metered_usd_at_report is None:
            return None
        return round(self.vendor_reported_usd - self.metered_usd_at_report, 2)

    @property
    def drift_credits(self) -> float | None:
        if self.vendor_reported_credits is None or self.metered_credits_at_report is None:
            return None
        return self.vendor_reported_credits - self.metered_credits_at_report

    def as_json(self) -> dict[str, object]:
        return {
            "vendor": self.vendor,
            "fixed_usd": self.fixed_usd,
            "metered_usd": self.metered_usd,
            "total_usd": self.total_usd,
            "budget_usd": self.budget_usd,
            "projected_usd": self.projected_usd,
            "credits_used": self.credits_used,
            "credits_left": self.credits_left,
            "exhausted_on": self.exhausted_on,
            "vendor_reported_usd": self.vendor_reported_usd,
            "vendor_reported_credits": self.vendor_reported_credits,
            "drift_usd": self.drift_usd,
            "drift_credits": self.drift_credits,
        }


MONEY_FIELDS = ("fixed_usd", "metered_usd", "total_usd", "budget_usd", "projected_usd")


@dataclass
class SpendReport:
    month: date
    as_of: datetime
    days_in_month: int
    days_elapsed: int
    vendors: list[VendorSpend]
    daily: list[DailySpend] = field(default_factory=list)

    @property
    def total(self) -> dict[str, float]:
        """The money fields summed over vendors, from the rounded vendor figures."""
        return {name: round(sum(getattr(v, name) for v in self.vendors), 2) for name in MONEY_FIELDS}

    @property
    def enrichments(self) -> float:
        return sum(v.enrichments for v in self.vendors)

    @property
    def cost_per_enrichment_usd(self) -> float | None:
        """Money of the enrichment vendors over the contacts they enriched."""
        spend = sum(v.total_usd for v in self.vendors if v.vendor in ENRICHMENT_VENDORS)
        return round(spend / self.enrichments, 4) if self.enrichments else None

    def as_json(self) -> dict[str, object]:
        return {
            "month": month_label(self.month),
            "as_of": self.as_of,
            "vendors": [vendor.as_json() for vendor in self.vendors],
            "total": self.total,
            "cost_per_enrichment_usd": self.cost_per_enrichment_usd,
        }

    def daily_rows(self) -> list[dict[str, object]]:
        return [asdict(row) for row in self.daily]


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def daily_usage(store: Store, month: date) -> dict[str, dict[date, tuple[int, float, float, float]]]:
    """Return calls, credits, metered cost and enriched credits per vendor and day of `month`.

    Reads the daily rollups, about 30 rows per vendor, operation and outcome for a
    month. The recorder cuts their days in UTC, the same as the month bounds here.
    """
    succeeded = DailyRollup.outcome == SUCCESS
    with store.session() as session:
        rows = session.execute(
            select(DailyRollup.day, DailyRollup.vendor, func.sum(DailyRollup.calls),
                   func.sum(DailyRollup.credits), func.sum(DailyRollup.cost_usd),
                   func.sum(DailyRollup.credits).filter(succeeded))
            .where(DailyRollup.day >= month, DailyRollup.day < next_month(month))
            .group_by(DailyRollup.day, DailyRollup.vendor)
        ).all()
    usage: dict[str, dict[date, tuple[int, float, float, float]]] = {}
    for day_value, vendor, calls, credits, cost, enriched in rows:
        usage.setdefault(vendor, {})[_as_date(day_value)] = (
            int(calls or 0), float(credits or 0.0), float(cost or 0.0), float(enriched or 0.0))
    return usage


def latest_snapshots(store: Store, month: date) -> dict[str, VendorUsageSnapshot]:
    with store.session() as session:
        rows = session.scalars(
            select(VendorUsageSnapshot).where(VendorUsageSnapshot.month == month_label(month))
            .order_by(VendorUsageSnapshot.fetched_at, VendorUsageSnapshot.id)
        ).all()
    return {row.vendor: row for row in rows}


def month_options(store: Store, now: datetime | None = None, recent: int = 12) -> list[date]:
    """Months to pick from, newest first: the last `recent` months and any older month with rollups."""
    current = (now or utcnow()).date().replace(day=1)
    with store.session() as session:
        oldest = session.scalar(select(func.min(DailyRollup.day)))
    first = current
    for _ in range(recent - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    if oldest is not None:
        first = min(first, _as_date(oldest).replace(day=1))
    months = []
    month = first
    while month <= current:
        months.append(month)
        month = next_month(month)
    return months[::-1]


def _month_money(plan: VendorPlan, credits: float, metered_cost: float) -> float:
    if plan.has_allowance:
        return allowance_cost_usd(plan.plan, credits)
    return plan.plan.monthly_fee_usd + metered_cost


def _exhaustion_date(plan: VendorPlan, days: list[DailySpend], credits_used: float, burn: float,
                     last_day: date, month_end: date) -> date | None:
    """Return the day the allowance runs out this month at `burn` credits a day, or None."""
    included = plan.plan.included_credits
    if included is None:
        return None
    if credits_used >= included and credits_used > 0:
        return next(row.day for row in days if row.cumulative_credits >= included)
    if burn <= 0:
        return None
    # Today is already counted in credits_used, so the allowance lasts whole days after it.
    runs_out = last_day + timedelta(days=math.ceil((included - credits_used) / burn))
    return runs_out if runs_out <= month_end else None


def vendor_spend(plan: VendorPlan, usage: dict[date, tuple[int, float, float, float]], month: date,
                 days_elapsed: int) -> tuple[VendorSpend, list[DailySpend]]:
    """Figures of one vendor for the first `days_elapsed` days of `month`."""
    spec = REGISTRY.get(plan.vendor)
    included = plan.plan.included_credits
    month_days = days_in(month)
    fee_cents = _cents(plan.plan.monthly_fee_usd)

    days: list[DailySpend] = []
    credits = cost = enriched = 0.0
    previous_cents = 0
    for offset in range(days_elapsed):
        day = month + timedelta(days=offset)
        calls, day_credits, day_cost, day_enriched = usage.get(day, (0, 0.0, 0.0, 0.0))
        credits += day_credits
        cost += day_cost
        enriched += day_enriched
        cumulative_cents = _cents(_month_money(plan, credits, cost))
        fixed_cents = fee_cents if offset == 0 else 0
        total_cents = cumulative_cents - previous_cents
        previous_cents = cumulative_cents
        days.append(DailySpend(
            day=day, vendor=plan.vendor, calls=calls, credits=day_credits,
            fixed_usd=fixed_cents / 100, metered_usd=(total_cents - fixed_cents) / 100,
            total_usd=total_cents / 100, cumulative_usd=cumulative_cents / 100, cumulative_credits=credits,
            credits_left=max(included - credits, 0.0) if included is not None else None,
        ))

    total_cents = previous_cents if days else fee_cents
    burn_credits = credits / days_elapsed if days_elapsed else 0.0
    burn_cost = cost / days_elapsed if days_elapsed else 0.0
    remaining_days = month_days - days_elapsed
    projected_credits = credits + burn_credits * remaining_days
    projected = _month_money(plan, projected_credits, cost + burn_cost * remaining_days)
    last_day = month + timedelta(days=max(days_elapsed - 1, 0))
    month_end = month + timedelta(days=month_days - 1)
    fixed = fee_cents / 100
    total = total_cents / 100
    figures = VendorSpend(
        vendor=plan.vendor,
        display_name=spec.display_name if spec else plan.vendor.title(),
        plan_name=plan.plan.name,
        credit_unit=plan.plan.credit_unit,
        fixed_usd=fixed,
        metered_usd=round(total - fixed, 2),
        total_usd=total,
        budget_usd=round(plan.plan.monthly_budget_usd, 2),
        projected_usd=round(projected, 2),
        credits_used=credits,
        credits_included=included,
        credits_left=max(included - credits, 0.0) if included is not None else None,
        projected_credits=projected_credits,
        burn_credits_per_day=burn_credits,
        burn_usd_per_day=round((projected - total) / remaining_days, 2) if remaining_days else 0.0,
        exhausted_on=_exhaustion_date(plan, days, credits, burn_credits, last_day, month_end),
        enrichments=enriched if plan.vendor in ENRICHMENT_VENDORS else 0.0,
    )
    return figures, days


def spend_report(store: Store, plans: dict[str, VendorPlan], month: date | None = None,
                 now: datetime | None = None) -> SpendReport:
    """Month-to-date figures of every vendor in `plans`, as of `now`.

    Raises InvalidMonth for a month that has not started. A past month is
    complete, so its projection equals its total.
    """
    now = as_utc(now or utcnow())
    today = now.date()
    month = month or today.replace(day=1)
    if month > today:
        raise InvalidMonth(f"month {month_label(month)} has not started; pick {today:%Y-%m} or earlier")
    month_days = days_in(month)
    days_elapsed = today.day if month == today.replace(day=1) else month_days

    usage = daily_usage(store, month)
    snapshots = latest_snapshots(store, month)
    vendors: list[VendorSpend] = []
    daily: list[DailySpend] = []
    for name, plan in plans.items():
        figures, days = vendor_spend(plan, usage.get(name, {}), month, days_elapsed)
        snapshot = snapshots.get(name)
        if snapshot is not None:
            _attach_snapshot(figures, plan, snapshot)
        vendors.append(figures)
        daily.extend(days)
    return SpendReport(month, now, month_days, days_elapsed, vendors, daily)


def _attach_snapshot(figures: VendorSpend, plan: VendorPlan, snapshot: VendorUsageSnapshot) -> None:
    reported_usd = snapshot.vendor_usd
    # A vendor that reports only credits is priced by our plan, the same way as our metering.
    if reported_usd is None and snapshot.vendor_credits is not None and plan.has_allowance:
        reported_usd = allowance_cost_usd(plan.plan, snapshot.vendor_credits)
    figures.vendor_reported_usd = round(reported_usd, 2) if reported_usd is not None else None
    figures.vendor_reported_credits = snapshot.vendor_credits
    figures.metered_usd_at_report = round(snapshot.metered_usd, 2)
    figures.metered_credits_at_report = snapshot.metered_credits
    figures.reported_at = as_utc(snapshot.fetched_at)
    figures.report_source = snapshot.source
