"""Fault modes a sandbox vendor can be switched into at run time."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass

MODES = (
    "normal",
    "slow",            # responds after `delay` seconds
    "flaky",           # fails with 503 at `rate`, else normal
    "down",            # 503 on every request
    "rate_limited",    # 429 with Retry-After: `retry_after` seconds
    "out_of_credits",  # 402
    "overloaded",      # 529, Anthropic's overloaded_error
    "malformed",       # 200 with a body that is not the vendor's JSON
    "auth_failure",    # 401
    "drop",            # handles the request, then closes the connection unanswered
)


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    mode: str = "normal"
    delay: float = 2.0
    rate: float = 0.3
    retry_after: float = 2.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def parse_fault(text: str) -> Fault:
    """Parse `mode` or `mode:number`, the number being the mode's one parameter.

    `slow:1.5` sets the delay, `flaky:0.3` the failure rate, `rate_limited:2`
    the Retry-After seconds.
    """
    mode, _, parameter = text.strip().partition(":")
    mode = mode.strip().lower().replace("-", "_")
    if mode not in MODES:
        raise FaultSpecError(f"unknown fault mode {mode!r}; choose one of: {', '.join(MODES)}")
    fault = Fault(mode=mode)
    if parameter:
        try:
            number = float(parameter)
        except ValueError:
            raise FaultSpecError(f"fault parameter {parameter!r} of {mode} is not a number") from None
        if mode == "slow":
            fault.delay = number
        elif mode == "flaky":
            if not 0.0 <= number <= 1.0:
                raise FaultSpecError(f"flaky rate {number} is not between 0 and 1")
            fault.rate = number
        elif mode == "rate_limited":
            fault.retry_after = number
        else:
            raise FaultSpecError(f"fault mode {mode} takes no parameter")
    return fault


def parse_fault_list(text: str, vendors: list[str]) -> dict[str, Fault]:
    """Parse ROLEFERRY_SANDBOX_FAULTS, e.g. `apollo=down,clay=slow:1.5`."""
    faults: dict[str, Fault] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        vendor, sep, spec = item.partition("=")
        vendor = vendor.strip().lower()
        if not sep:
            raise FaultSpecError(f"{item!r} is not vendor=mode, e.g. apollo=down")
        if vendor not in vendors:
            raise FaultSpecError(f"unknown sandbox vendor {vendor!r}; choose one of: {', '.join(vendors)}")
        faults[vendor] = parse_fault(spec)
    return faults


class FaultBoard:
    """Current fault per vendor, switched by the admin endpoint from any thread."""

    def __init__(self, vendors: list[str], seed: int = 7) -> None:
        self._faults = {vendor: Fault() for vendor in vendors}
        self._lock = threading.Lock()
        # Seeded so that a flaky run fails on the same requests each time.
        self._random = random.Random(seed)

    def get(self, vendor: str) -> Fault:
        with self._lock:
            return self._faults[vendor]

    def set(self, vendor: str, fault: Fault) -> None:
        if vendor not in self._faults:
            raise FaultSpecError(f"unknown sandbox vendor {vendor!r}")
        with self._lock:
            self._faults[vendor] = fault

    def all(self) -> dict[str, dict[str, object]]:
        with self._lock:
            return {vendor: fault.as_dict() for vendor, fault in self._faults.items()}

    def roll(self, rate: float) -> bool:
        with self._lock:
            return self._random.random() < rate
