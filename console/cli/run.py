"""`roleferry-console run`: the console, its sandbox when no key is set, and a worker."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from clients.registry import REGISTRY
from clients.secrets import default_chain
from console.cli.common import EXIT_OK, UsageError
from console.config import ConfigError, Settings
from console.runtime import live_keys_present
from console.sandbox.faults import FaultSpecError, parse_fault_list
from console.sandbox.server import Sandbox, SandboxServer

APP = Path(__file__).resolve().parent.parent / "app.py"
# Extra processes started beside Streamlit, each as argv after the python executable.
COMPANIONS: list[list[str]] = [["-m", "console.cli.main", "worker"]]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="start the console on http://localhost:8501")
    parser.add_argument("--port", type=int, default=8501, help="port of the web console (default 8501)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
        faults = parse_fault_list(settings.sandbox_faults, list(REGISTRY))
    except (ConfigError, FaultSpecError) as exc:
        raise UsageError(str(exc)) from None
    env = dict(os.environ)
    server = None
    if settings.sandbox_url is None and not live_keys_present(default_chain(settings.root)):
        server = SandboxServer(Sandbox(settings.rate_limits, faults)).start()
        env["SANDBOX_URL"] = server.url
        if server.statsd is not None and "DD_DOGSTATSD_PORT" not in env:
            # Metrics go to the sandbox's listener, so the console shows them and
            # no client warns about a missing agent.
            env["DD_AGENT_HOST"] = server.statsd.host
            env["DD_DOGSTATSD_PORT"] = str(server.statsd.port)
        print(f"no vendor key set: sandbox vendors at {server.url}", flush=True)
    children = [subprocess.Popen([sys.executable, *argv], env=env) for argv in COMPANIONS]
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(args.port)]
    print(f"console at http://localhost:{args.port} (Ctrl-C to stop)", flush=True)
    try:
        return subprocess.call(command, env=env, cwd=settings.root)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=10)
        if server is not None:
            server.stop()
