"""`roleferry-console alerts`: evaluate every monitor now and list the states."""

from __future__ import annotations

import argparse

from console.alerts import alert_history, evaluate
from console.cli.common import EXIT_OK, UsageError, print_json, runtime_for_command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "alerts", help="evaluate the monitors and list each one's state (OK, warning, alert, no data)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of objects with monitor, vendor, state, value, since")
    parser.add_argument("--history", type=int, default=0, metavar="DAYS",
                        help="also list the state changes of the last DAYS days (text output only)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.history < 0:
        raise UsageError(f"--history {args.history} is negative; give a number of days, e.g. 7")
    with runtime_for_command() as runtime:
        # Evaluating here stores states and notifies changes exactly as the console
        # does, so a cron job running this command is enough to page without a browser.
        statuses = evaluate(runtime)
        history = alert_history(runtime, days=args.history) if args.history else []
    if args.json:
        print_json([status.as_json() for status in statuses])
        return EXIT_OK
    print(f"{'state':<9} {'vendor':<8} {'monitor':<30} {'since (UTC)':<17} detail")
    for status in sorted(statuses, key=lambda s: (s.state not in ("alert", "warning"), s.vendor, s.monitor)):
        print(f"{status.state:<9} {status.vendor:<8} {status.monitor:<30} {status.since:%Y-%m-%d %H:%M}  "
              f"{status.detail}")
    if history:
        print(f"\nstate changes in the last {args.history} days:")
        for event in history:
            print(f"  {event['at']:%Y-%m-%d %H:%M} {event['monitor']:<30} {event['from']} -> {event['to']} "
                  f"(notification: {event['notification']})")
    return EXIT_OK
