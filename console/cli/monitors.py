"""`roleferry-console monitors export|push`: the console's monitors as Datadog monitors."""

from __future__ import annotations

import argparse
import os

from clients.datadog import DatadogClient
from console.access import PermissionDenied, cli_user
from console.cli.common import EXIT_FAILURE, EXIT_OK, UsageError, fail, print_json, runtime_for_command
from console.config import ConfigError
from console.datadog_monitors import (
    DEFAULT_API_URL,
    ClientMonitorAPI,
    DatadogAPIError,
    export_definitions,
    push_monitors,
)
from console.monitors import list_monitors


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("monitors", help="export the monitors as Datadog JSON, or push them")
    actions = parser.add_subparsers(dest="monitors_action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="print a JSON list of Datadog monitor definitions")
    push = actions.add_parser("push", help="create or update the monitors in Datadog, matched by name")
    for sub in (export, push):
        sub.add_argument("--notify", default="", metavar="HANDLE",
                         help="Datadog notification handle added to each message, e.g. @slack-engineering")
    push.add_argument("--api-url", default=None,
                      help=f"Datadog API base URL (default: DATADOG_API_URL, else https://api.$DD_SITE, "
                      f"else the sandbox in sandbox mode, else {DEFAULT_API_URL})")
    push.add_argument("--json", action="store_true", help="print a JSON list of name, action, id")
    parser.set_defaults(handler=handle)


def api_url(given: str | None) -> str | None:
    """Return the Datadog base URL from --api-url or the environment, or None to use the runtime's."""
    if given:
        return given
    if os.environ.get("DATADOG_API_URL"):
        return os.environ["DATADOG_API_URL"]
    site = os.environ.get("DD_SITE")
    return f"https://api.{site}" if site else None


def handle(args: argparse.Namespace) -> int:
    with runtime_for_command() as runtime:
        definitions = export_definitions(list_monitors(runtime.store), args.notify)
        if args.monitors_action == "export":
            print_json(definitions)
            return EXIT_OK

        api_key = runtime.secrets.get("DATADOG_API_KEY")
        app_key = runtime.secrets.get("DATADOG_APP_KEY")
        if not api_key or not app_key:
            missing = "DATADOG_API_KEY" if not api_key else "DATADOG_APP_KEY"
            raise UsageError(f"{missing} is not set; add it to the environment, .env or secrets.toml")
        try:
            user = cli_user()
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        # The runtime's client talks to the sandbox or to Datadog's default site. A
        # URL given here gets a client of its own, on the same pipeline.
        url = api_url(args.api_url)
        client = DatadogClient(runtime.pipeline, url) if url else runtime.client("datadog")
        assert isinstance(client, DatadogClient)
        try:
            results = push_monitors(ClientMonitorAPI(client), definitions, store=runtime.store, user=user)
        except PermissionDenied as exc:
            raise UsageError(str(exc)) from None
        except DatadogAPIError as exc:
            return fail(str(exc), EXIT_FAILURE)
        finally:
            if url:
                client.close()
    if args.json:
        print_json([result.as_json() for result in results])
    else:
        for result in results:
            print(f"{result.action:<9} {result.monitor_id or '-':>12}  {result.name}")
    return EXIT_OK
