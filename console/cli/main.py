"""`roleferry-console`: the command line over the same services as the pages.

Exit codes: 0 success, 1 a vendor or system failure, 2 bad input. Data goes to
stdout, messages to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from console.cli import alerts, backfill, breaker, enrich, health, monitors, probe, run, sandbox, spend, worker
from console.cli.common import EXIT_BAD_INPUT, EXIT_OK, UsageError, configure_logging, fail

# Each module adds its subcommand with `register(subparsers)` and sets `handler`.
COMMANDS = (run, sandbox, enrich, health, probe, backfill, worker, spend, alerts, breaker, monitors)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roleferry-console",
        description="Watch and use RoleFerry's vendor integrations from a terminal.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log calls and retries to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_BAD_INPUT
    configure_logging(args.verbose)
    try:
        return int(args.handler(args))
    except UsageError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away; point stdout at nothing so the
        # interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
