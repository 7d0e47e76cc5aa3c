"""`roleferry-console probe`: run each vendor's free probe."""

from __future__ import annotations

import argparse

from clients.registry import REGISTRY
from console.cli.common import EXIT_FAILURE, EXIT_OK, UsageError, print_json, runtime_for_command
from console.probes import run_probe


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("probe", help="run a vendor's free test call, or every vendor's")
    parser.add_argument("vendor", help=f"one of: {', '.join(REGISTRY)}, or all")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per probe")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    vendors = list(REGISTRY) if args.vendor == "all" else [args.vendor]
    unknown = [vendor for vendor in vendors if vendor not in REGISTRY]
    if unknown:
        raise UsageError(f"unknown vendor {unknown[0]!r}; choose one of: {', '.join(REGISTRY)}, all")
    with runtime_for_command() as runtime:
        results = [run_probe(runtime, vendor) for vendor in vendors]
    if args.json:
        print_json([result.as_json() for result in results])
    else:
        for result in results:
            detail = f" ({result.message})" if result.message else ""
            print(f"{result.vendor:<10} {result.operation:<16} {result.outcome:<18} "
                  f"{result.latency_ms:>7.1f} ms  attempts {result.attempts}{detail}")
    return EXIT_OK if all(result.ok for result in results) else EXIT_FAILURE
