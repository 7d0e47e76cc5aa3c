"""What every subcommand shares: exit codes, output, and the runtime it opens."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

from console.config import ConfigError
from console.runtime import Runtime, open_runtime
from console.sandbox.faults import FaultSpecError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input from the person at the terminal: exit code 2, message on stderr."""


def fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2, default=_default)
    sys.stdout.write("\n")


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    # The DogStatsD client warns on every packet when no agent listens; metrics
    # are best effort, so one missing agent must not bury the command's output.
    logging.getLogger("datadog.dogstatsd").setLevel(logging.ERROR)


@contextmanager
def runtime_for_command() -> Iterator[Runtime]:
    """Open the runtime; configuration mistakes become UsageError (exit code 2)."""
    try:
        runtime = open_runtime()
    except (ConfigError, FaultSpecError) as exc:
        raise UsageError(str(exc)) from None
    try:
        yield runtime
    finally:
        runtime.close()
