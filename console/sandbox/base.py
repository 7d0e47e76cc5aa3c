"""Shared parts of every sandbox vendor: request and response shapes, counters, windows."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SandboxRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def first(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class SandboxResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body).encode()


class FixedWindow:
    """The vendor's own server-side limit: `limit` requests per `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._start = 0.0
        self._used = 0

    def take(self) -> tuple[bool, int, float]:
        """Return (allowed, remaining, seconds until the window resets)."""
        with self._lock:
            now = time.time()
            if now - self._start >= self.window:
                self._start = now - (now % self.window) if self.window >= 1 else now
                self._used = 0
            reset_in = max(self._start + self.window - now, 0.0)
            if self._used >= self.limit:
                return False, 0, reset_in
            self._used += 1
            return True, self.limit - self._used, reset_in


class SandboxVendor:
    """One vendor's wire format. Subclasses implement `route` and `error`."""

    name = ""
    prefix = ""

    def __init__(self, limit: int, window: float) -> None:
        self.window = FixedWindow(limit, window)
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        # Charges by what was charged for (e.g. an Apollo person id), so a test can
        # tell a row charged twice from two rows charged once.
        self.charges: Counter[str] = Counter()
        # Requests being handled right now, and the most seen at once: a test reads
        # max_in_flight to tell concurrent callers from serialised ones.
        self.in_flight = 0
        self.max_in_flight = 0
        # Requests this vendor's own server-side window rejected with 429.
        self.rate_limited = 0

    def authenticate(self, request: SandboxRequest) -> bool:
        raise NotImplementedError

    def route(self, request: SandboxRequest) -> SandboxResponse:
        raise NotImplementedError

    def error(self, status: int, message: str) -> SandboxResponse:
        raise NotImplementedError

    def rate_headers(self, remaining: int, reset_in: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.window.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(time.time() + reset_in)),
        }

    def count(self, request: SandboxRequest) -> None:
        with self.lock:
            self.requests[f"{request.method} {request.path}"] += 1

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def charge(self, what: str, amount: int = 1) -> None:
        with self.lock:
            self.charges[what] += amount

    def stats(self) -> dict[str, object]:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "requests_total": sum(self.requests.values()),
                "charges_total": sum(self.charges.values()),
                "charged_items": len(self.charges),
                "charged_twice": sorted(k for k, v in self.charges.items() if v > 1),
                "max_in_flight": self.max_in_flight,
                "rate_limited": self.rate_limited,
            }

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.charges.clear()
            self.max_in_flight = 0
            self.rate_limited = 0
