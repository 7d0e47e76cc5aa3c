"""Backoff delays and Retry-After parsing."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime


def full_jitter(attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Return a delay in [0, min(cap, base * 2**(attempt - 1))) seconds.

    Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015)
    spreads retries of many clients over the whole window instead of bunching them.
    `attempt` counts from 1 for the first retry.
    """
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return ceiling * rand()


def parse_retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Return the server's requested wait in seconds, or None when it sent none.

    Reads `retry-after-ms` (Anthropic and OpenAI style) first, then `Retry-After`
    as delta-seconds or as an HTTP date. A date in the past yields 0.
    """
    lowered = {key.lower(): value for key, value in headers.items()}

    milliseconds = lowered.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(float(milliseconds) / 1000.0, 0.0)
        except ValueError:
            pass

    value = lowered.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now(), 0.0)
