"""Client-side rate limits: one pyrate-limiter bucket per vendor.

Interactive calls fail fast with RateLimited when the bucket is empty, so a page
falls through to the next provider; batch calls wait for a slot within their
deadline. Which bucket backs a limiter (memory, SQLite file, Redis) is the
caller's choice, so processes that share a bucket share the vendor's budget.
"""

from __future__ import annotations

from collections.abc import Callable

from pyrate_limiter import AbstractBucket, Duration, InMemoryBucket, Limiter, Rate

from clients.errors import RateLimited
from clients.registry.spec import RateLimit

# Seconds an interactive call waits for a slot before it fails with RateLimited.
INTERACTIVE_WAIT = 0.25

BucketFactory = Callable[[str, list[Rate]], AbstractBucket]


def rates_for(limit: RateLimit) -> list[Rate]:
    return [Rate(limit.requests, int(limit.per_seconds * Duration.SECOND))]


def memory_bucket(vendor: str, rates: list[Rate]) -> AbstractBucket:
    return InMemoryBucket(rates)


class VendorLimiter:
    def __init__(self, vendor: str, limit: RateLimit, bucket: AbstractBucket | None = None) -> None:
        self.vendor = vendor
        self.limit = limit
        self._limiter = Limiter(bucket or memory_bucket(vendor, rates_for(limit)))

    def acquire(self, operation: str, *, wait: bool, timeout: float) -> None:
        """Take one slot, or raise RateLimited.

        With `wait` False, an empty bucket raises within INTERACTIVE_WAIT; with
        `wait` True the caller blocks for up to `timeout` seconds.
        """
        # pyrate-limiter's non-blocking mode also fails when the bucket's lock is
        # merely busy (its leak thread, or another process holding the file lock),
        # so even interactive calls wait a moment rather than fail spuriously.
        limit = max(timeout, 0.0) if wait else INTERACTIVE_WAIT
        acquired = self._limiter.try_acquire(self.vendor, blocking=True, timeout=limit)
        if not acquired:
            slot_seconds = self.limit.per_seconds / self.limit.requests
            raise RateLimited(
                f"client-side limit of {self.limit.requests} requests per "
                f"{self.limit.per_seconds:g} s reached",
                vendor=self.vendor,
                operation=operation,
                retry_after=slot_seconds,
            )

    def close(self) -> None:
        """Stop the bucket's background leak thread and release its connection."""
        self._limiter.close()
