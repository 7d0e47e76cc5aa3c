"""`roleferry-console breaker VENDOR open|close|reset --reason TEXT`: override a breaker.

The acting user is `cli:<OS login>`. It has the admin role unless the role
map (ROLEFERRY_ROLES_FILE) has an entry for that name, which then decides.
"""

from __future__ import annotations

import argparse

from clients.registry import REGISTRY
from console.access import PermissionDenied, cli_user
from console.breaker_control import ACTIONS, InvalidBreakerAction, change_breaker
from console.cli.common import EXIT_OK, UsageError, print_json, runtime_for_command
from console.config import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "breaker", help="force a vendor's breaker open or closed, or reset it (needs the ops role)")
    parser.add_argument("vendor", help=f"one of: {', '.join(REGISTRY)}")
    parser.add_argument("action", choices=ACTIONS,
                        help="open: fail every call fast; close: let calls through even if tripped; "
                        "reset: lift the override and close the breaker")
    parser.add_argument("--reason", required=True, help="why, shown on the Health page and in the audit log")
    parser.add_argument("--json", action="store_true", help="print the override now in force as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.vendor not in REGISTRY:
        raise UsageError(f"unknown vendor {args.vendor!r}; choose one of: {', '.join(REGISTRY)}")
    try:
        user = cli_user()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    with runtime_for_command() as runtime:
        try:
            override = change_breaker(runtime, user, args.vendor, args.action, args.reason)
        except (InvalidBreakerAction, PermissionDenied) as exc:
            raise UsageError(str(exc)) from None
        state = runtime.breaker(args.vendor).state
    if args.json:
        print_json({"vendor": args.vendor, "state": state,
                    "override": override.as_dict() if override is not None else None})
    elif override is None:
        print(f"{args.vendor}: override lifted, breaker {state} (by {user.name})")
    else:
        print(f"{args.vendor}: breaker forced {override.mode} by {user.name}: {override.reason}")
    return EXIT_OK
