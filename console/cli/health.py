"""`roleferry-console health`: per-vendor status over the last 10 minutes."""

from __future__ import annotations

import argparse

from console.cli.common import EXIT_OK, print_json, runtime_for_command
from console.health import vendor_health


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("health", help="show each vendor's status, breaker and error rate")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per vendor")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    with runtime_for_command() as runtime:
        rows = vendor_health(runtime)
    if args.json:
        print_json([row.as_json() for row in rows])
        return EXIT_OK
    print(f"{'vendor':<10} {'status':<14} {'breaker':<10} {'calls':>6} {'errors':>7} {'p95 ms':>7} "
          f"{'credits left':>13}")
    for row in rows:
        p95 = f"{row.p95_ms:.0f}" if row.p95_ms is not None else "-"
        credits = f"{row.credits_left:g}" if row.credits_left is not None else "-"
        print(f"{row.vendor:<10} {row.status:<14} {row.breaker:<10} {row.calls:>6} "
              f"{row.error_rate:>7.1%} {p95:>7} {credits:>13}")
    return EXIT_OK
