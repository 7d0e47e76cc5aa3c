"""One circuit breaker per vendor, with its bookkeeping kept outside the request.

pybreaker's `CircuitBreaker.call` holds the breaker's lock for the whole guarded
call, which would make every thread calling one vendor wait for the others. Here
the lock is held only for the bookkeeping steps: may I call, record success,
record failure. The HTTP request runs between them without any lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pybreaker

from clients.errors import BREAKER_FAILURES, CircuitOpen, VendorError
from clients.registry.spec import BreakerPolicy

log = logging.getLogger(__name__)

StorageFactory = Callable[[str], pybreaker.CircuitBreakerStorage]
# Called with the vendor, the previous state, the new state and the cause.
TransitionHook = Callable[[str, str, str, str], None]
# Called with the vendor; returns ("open" | "closed", reason) while a person has
# forced the breaker, else None. Supplied by the deployment, which stores overrides.
OverrideLookup = Callable[[str], tuple[str, str] | None]


def memory_storage(name: str) -> pybreaker.CircuitBreakerStorage:
    return pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)


def _counts_as_failure(exc: BaseException) -> bool:
    return isinstance(exc, BREAKER_FAILURES)


class _TransitionListener(pybreaker.CircuitBreakerListener):
    def __init__(self, vendor: str, hook: TransitionHook | None) -> None:
        self.vendor = vendor
        self.hook = hook
        self.last_cause = ""

    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        self.last_cause = repr(exc)

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        old_name = old_state.name if old_state else "unknown"
        log.warning("breaker %s: %s -> %s (%s)", self.vendor, old_name, new_state.name,
                    self.last_cause or "no cause recorded")
        if self.hook is not None:
            self.hook(self.vendor, old_name, new_state.name, self.last_cause)


class VendorBreaker:
    """A vendor's breaker: `before_request`, then the request, then `record_*`."""

    def __init__(
        self,
        vendor: str,
        policy: BreakerPolicy,
        storage: pybreaker.CircuitBreakerStorage | None = None,
        on_transition: TransitionHook | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        override_lookup: OverrideLookup | None = None,
    ) -> None:
        self.vendor = vendor
        self._now = now
        self._override_lookup = override_lookup
        self._listener = _TransitionListener(vendor, on_transition)
        self._storage = storage or memory_storage(vendor)
        self._cb = pybreaker.CircuitBreaker(
            fail_max=policy.fail_max,
            reset_timeout=policy.reset_timeout,
            # Everything that is not a breaker failure class is "excluded", which
            # pybreaker treats as a success: a 404 proves the vendor is responding.
            exclude=[lambda exc: not _counts_as_failure(exc)],
            listeners=[self._listener],
            state_storage=self._storage,
            name=vendor,
        )

    @property
    def state(self) -> str:
        """The state calls meet: a forced override, else pybreaker's own state."""
        override = self.override()
        if override is not None:
            return "open" if override[0] == "open" else "closed"
        return self._cb.current_state

    @property
    def stored_state(self) -> str:
        """pybreaker's own state, which an override hides but does not change."""
        return self._cb.current_state

    def override(self) -> tuple[str, str] | None:
        """Return the forced mode and its reason, or None when no override is set."""
        return self._override_lookup(self.vendor) if self._override_lookup is not None else None

    @property
    def fail_counter(self) -> int:
        return self._cb.fail_counter

    @property
    def opened_at(self) -> datetime | None:
        return self._storage.opened_at

    def before_request(self, operation: str) -> None:
        """Raise CircuitOpen unless a request may go out now.

        When the reset timeout has passed, the caller that moves the breaker to
        half-open carries the one trial request; others fail fast until it ends.
        Entering half-open restamps `opened_at`, so a trial whose process died
        gives way to a new trial after another reset timeout. A forced-open
        override raises with its reason; a forced-closed one lets every call through.
        """
        override = self.override()
        if override is not None:
            mode, reason = override
            if mode == "open":
                raise CircuitOpen(f"breaker forced open: {reason}", vendor=self.vendor, operation=operation)
            return
        with self._cb._lock:
            state = self._cb.state.name
            if state == pybreaker.STATE_CLOSED:
                return
            opened_at = self._storage.opened_at
            timeout = timedelta(seconds=self._cb.reset_timeout)
            if opened_at is not None and self._now() < opened_at + timeout:
                retry_in = (opened_at + timeout - self._now()).total_seconds()
                raise CircuitOpen(
                    f"breaker is {state}; next trial call in {retry_in:.0f} s",
                    vendor=self.vendor,
                    operation=operation,
                )
            self._cb.half_open()
            self._storage.opened_at = self._now()

    def record_success(self) -> None:
        with self._cb._lock:
            self._cb.state._handle_success()

    def record_failure(self, exc: VendorError) -> None:
        with self._cb._lock:
            try:
                self._cb.state._handle_error(exc, reraise=False)
            except pybreaker.CircuitBreakerError:
                # pybreaker raises this when the failure trips the breaker; the
                # transition is already stored and the caller keeps `exc`.
                pass

    def force_open(self) -> None:
        with self._cb._lock:
            self._cb.open()

    def force_close(self) -> None:
        with self._cb._lock:
            self._cb.close()
