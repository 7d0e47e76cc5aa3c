"""`roleferry-console enrich`: run the waterfall for one company."""

from __future__ import annotations

import argparse

from console.access import PermissionDenied, cli_user
from console.cli.common import EXIT_OK, UsageError, print_json, runtime_for_command
from console.enrichment import InvalidEnrichmentInput, enrich, validate_input


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("enrich", help="find contacts at a company (Apollo, then Clay)")
    parser.add_argument("--domain", required=True, help="company domain, e.g. acme.com")
    parser.add_argument("--title", action="append", default=[], dest="titles",
                        help="job title to look for; repeat for several")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        validate_input(args.domain, args.titles)
    except InvalidEnrichmentInput as exc:
        raise UsageError(str(exc)) from None
    with runtime_for_command() as runtime:
        try:
            result = enrich(runtime, args.domain, args.titles, actor=cli_user())
        except PermissionDenied as exc:
            raise UsageError(str(exc)) from None
    if args.json:
        print_json(result.as_dict())
        return EXIT_OK
    if result.domain_note:
        print(f"note: {result.domain_note}")
    for skip in result.skipped:
        print(f"skipped {skip.provider}: {skip.reason}")
    if not result.contacts:
        print(f"no contacts found at {result.domain}; add them by hand on the Enrich page")
        return EXIT_OK
    print(f"{len(result.contacts)} contacts at {result.domain} from {result.provider} "
          f"({result.credits:g} credits, ${result.cost_usd:.2f}):")
    for contact in result.contacts:
        print(f"  {contact.name:<24} {contact.title:<28} {contact.email}")
    return EXIT_OK
