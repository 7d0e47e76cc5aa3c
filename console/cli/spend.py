"""`roleferry-console spend`: month-to-date spend per vendor against budget."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from console.cli.common import EXIT_OK, UsageError, print_json, runtime_for_command
from console.config import ConfigError, Settings
from console.spend.figures import InvalidMonth, SpendReport, parse_month, spend_report
from console.spend.plans import PLANS_FILE_ENV, PlanError, VendorPlan, load_plans
from console.spend.reconcile import reconcile
from console.store import Store


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("spend", help="show month-to-date spend per vendor against budget")
    parser.add_argument("--month", help="billing month as YYYY-MM (default: the current month, UTC)")
    parser.add_argument("--reconcile", action="store_true",
                        help="first fetch each vendor's own usage report (Apollo, Clay, SendGrid, "
                        "Stripe, Anthropic, Datadog) and store it")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=handle)


@contextmanager
def _store() -> Iterator[Store]:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    store = Store(settings.database_url)
    try:
        store.migrate()
        yield store
    finally:
        store.dispose()


def _plans() -> dict[str, VendorPlan]:
    try:
        return load_plans()
    except PlanError as exc:
        raise UsageError(f"{exc} (plans file from {PLANS_FILE_ENV} or console/plans.toml)") from None


def handle(args: argparse.Namespace) -> int:
    try:
        month = parse_month(args.month) if args.month else None
    except InvalidMonth as exc:
        raise UsageError(str(exc)) from None
    plans = _plans()

    if args.reconcile:
        with runtime_for_command() as runtime:
            results = reconcile(runtime, plans)
        for result in results:
            if result.error is not None:
                print(f"warning: {result.vendor} usage report not fetched: {result.error}",
                      file=sys.stderr)

    with _store() as store:
        try:
            report = spend_report(store, plans, month)
        except InvalidMonth as exc:
            raise UsageError(str(exc)) from None

    if args.json:
        print_json(report.as_json())
    else:
        print_table(report)
    return EXIT_OK


def _money(value: float | None) -> str:
    return f"${value:,.2f}" if value is not None else "-"


def print_table(report: SpendReport) -> None:
    print(f"spend for {report.month:%Y-%m}, day {report.days_elapsed} of {report.days_in_month} (UTC)")
    print(f"{'vendor':<10} {'fixed':>10} {'metered':>10} {'total':>10} {'budget':>10} {'used':>6} "
          f"{'projected':>10} {'credits left':>13} {'runs out':>10} {'vendor says':>12}")
    for vendor in report.vendors:
        used = f"{vendor.budget_used:.0%}" if vendor.budget_used is not None else "-"
        left = f"{vendor.credits_left:,.0f}" if vendor.credits_left is not None else "-"
        runs_out = vendor.exhausted_on.isoformat() if vendor.exhausted_on else "-"
        flag = "  OVER BUDGET" if vendor.over_budget else ""
        print(f"{vendor.vendor:<10} {_money(vendor.fixed_usd):>10} {_money(vendor.metered_usd):>10} "
              f"{_money(vendor.total_usd):>10} {_money(vendor.budget_usd):>10} {used:>6} "
              f"{_money(vendor.projected_usd):>10} {left:>13} {runs_out:>10} "
              f"{_money(vendor.vendor_reported_usd):>12}{flag}")
    total = report.total
    print(f"{'total':<10} {_money(total['fixed_usd']):>10} {_money(total['metered_usd']):>10} "
          f"{_money(total['total_usd']):>10} {_money(total['budget_usd']):>10} {'':>6} "
          f"{_money(total['projected_usd']):>10}")
    if not any(day.calls for day in report.daily):
        print(f"no calls recorded in {report.month:%Y-%m}: the figures are the plans' fixed fees only",
              file=sys.stderr)
