"""`roleferry-console sandbox`: serve the sandbox vendors in the foreground."""

from __future__ import annotations

import argparse

from clients.registry import REGISTRY
from console.cli.common import EXIT_OK, UsageError
from console.config import ConfigError, Settings
from console.sandbox.faults import FaultSpecError, parse_fault_list
from console.sandbox.server import Sandbox, SandboxServer

# Subcommands of `sandbox` (e.g. seed-history) register here as name -> (help, register, handle).
ACTIONS: dict[str, object] = {}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sandbox", help="serve the sandbox vendors on loopback")
    parser.add_argument("--port", type=int, default=8900, help="TCP port on 127.0.0.1 (default 8900)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
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
    print(f"sandbox vendors at {server.url} (Ctrl-C to stop); "
          f"point the console at it with SANDBOX_URL={server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return EXIT_OK
