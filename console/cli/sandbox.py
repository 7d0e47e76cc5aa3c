"""`roleferry-console sandbox`: serve the sandbox vendors, or seed a store with call history.

    roleferry-console sandbox [--port 8900]          serve in the foreground
    roleferry-console sandbox seed-history --days 45  write made-up call history
"""

from __future__ import annotations

import argparse

from clients.registry import REGISTRY
from clients.secrets import default_chain
from console.cli.common import EXIT_OK, UsageError
from console.config import ConfigError, Settings
from console.runtime import live_keys_present
from console.sandbox.faults import FaultSpecError, parse_fault_list
from console.sandbox.server import Sandbox, SandboxServer
from console.spend.seed import SeedRefused, seed_history
from console.store import Store

DEFAULT_SEED_DAYS = 45
MAX_SEED_DAYS = 400


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sandbox", help="serve the sandbox vendors on loopback, or seed call history")
    parser.add_argument("--port", type=int, default=8900, help="TCP port on 127.0.0.1 (default 8900)")
    parser.set_defaults(handler=handle_serve)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    seed = actions.add_parser(
        "seed-history",
        help="fill the store with deterministic made-up call history (sandbox only)",
        description="Write rollups for every day, and raw call records for the last days, of "
        "made-up calls: weekday peaks, an outage day and a backfill spike.",
    )
    seed.add_argument("--days", type=int, default=DEFAULT_SEED_DAYS,
                      help=f"days of history ending today (default {DEFAULT_SEED_DAYS})")
    seed.set_defaults(handler=handle_seed)


def handle_serve(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
        faults = parse_fault_list(settings.sandbox_faults, list(REGISTRY))
    except (ConfigError, FaultSpecError) as exc:
        raise UsageError(str(exc)) from None
    try:
        server = SandboxServer(Sandbox(settings.rate_limits, faults), port=args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}; "
                         "pick another port with --port") from None
    statsd = f" DD_DOGSTATSD_PORT={server.statsd.port}" if server.statsd is not None else ""
    print(f"sandbox vendors at {server.url} (Ctrl-C to stop); "
          f"point the console at it with SANDBOX_URL={server.url}{statsd}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return EXIT_OK


def handle_seed(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= MAX_SEED_DAYS:
        raise UsageError(f"--days must be between 1 and {MAX_SEED_DAYS}, got {args.days}")
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    # Made-up calls in a live store would distort real spend, so seeding needs the
    # same condition under which the console uses the sandbox.
    if settings.sandbox_url is None and live_keys_present(default_chain(settings.root)):
        raise UsageError("vendor keys are set, so this store contains live data; seed-history runs only "
                         "against the sandbox: unset the keys or set SANDBOX_URL")
    store = Store(settings.database_url)
    try:
        store.migrate()
        summary = seed_history(store, args.days)
    except SeedRefused as exc:
        raise UsageError(str(exc)) from None
    finally:
        store.dispose()
    print(f"seeded {summary.calls} calls from {summary.first_day} to {summary.last_day} "
          f"({summary.raw_records} as raw call records) into {settings.database_url}")
    if summary.outage_day is not None:
        print(f"  outage day (Apollo down, Clay takes over): {summary.outage_day}")
    if summary.spike_day is not None:
        print(f"  backfill spike: {summary.spike_day}")
    return EXIT_OK
