"""The call pipeline every vendor call goes through.

    1. credentials     from the secrets chain; missing is NotConfigured, nothing sent
    2. breaker check   open is CircuitOpen, nothing sent
    3. rate limit      interactive calls fail fast, batch calls wait
    4. request         the client's `send`, with explicit timeouts
    5. classification  the client turns its transport's outcome into clients.errors
    6. retry           tenacity, for retryable classes within attempts and deadline
    7. recording       one CallRecord to every sink, DogStatsD metrics, a log line

Steps 2 to 5 run once per attempt; 1 and 7 once per call.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from clients.backoff import full_jitter
from clients.breaker import VendorBreaker
from clients.errors import NotConfigured, RateLimited, VendorError
from clients.ratelimit import VendorLimiter
from clients.recording import SUCCESS, CallRecord, Metrics, RecordSink, fan_out, utcnow
from clients.registry.spec import VendorSpec
from clients.secrets import SecretChain

log = logging.getLogger(__name__)

T = TypeVar("T")
Mode = Literal["interactive", "batch"]


@dataclass
class Reply(Generic[T]):
    """The result of one successful attempt of a client's `send`."""

    value: T
    status_code: int | None = None
    request_id: str | None = None
    credits: float = 0.0
    cost_usd: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)


@dataclass
class CallResult(Generic[T]):
    value: T
    record: CallRecord


# `send` receives the credential and the attempt number (from 1) and returns a
# Reply or raises a clients.errors class.
Send = Callable[[str, int], Reply[T]]


@dataclass
class VendorRuntime:
    """The per-vendor state shared by every call to that vendor in this process."""

    spec: VendorSpec
    breaker: VendorBreaker
    limiter: VendorLimiter


class Pipeline:
    def __init__(
        self,
        secrets: SecretChain,
        vendors: Iterable[VendorRuntime],
        sinks: Iterable[RecordSink] = (),
        metrics: Metrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.secrets = secrets
        self.vendors = {runtime.spec.name: runtime for runtime in vendors}
        self.sinks = list(sinks)
        self.metrics = metrics
        self._sleep = sleep
        self._rand = rand
        self._retryings: dict[tuple[str, float, bool, str], Retrying] = {}

    def runtime(self, vendor: str) -> VendorRuntime:
        return self.vendors[vendor]

    def call(
        self,
        vendor: str,
        operation: str,
        send: Send[T],
        *,
        mode: Mode = "interactive",
        idempotent: bool = True,
        secret_name: str | None = None,
    ) -> CallResult[T]:
        """Run `send` through every step of the pipeline and return its value.

        `secret_name` picks which of the vendor's secrets `send` receives (for
        example an admin key for usage reports); the default is the main key.
        Raises the clients.errors class the call ended in; the call is recorded
        either way.
        """
        runtime = self.vendors[vendor]
        spec = runtime.spec
        deadline = spec.timeouts.interactive_deadline if mode == "interactive" else spec.timeouts.batch_deadline
        started_at = utcnow()
        started = time.monotonic()
        attempts = 0
        last_reply: Reply[T] | None = None

        def attempt() -> Reply[T]:
            nonlocal attempts, last_reply
            attempts += 1
            runtime.breaker.before_request(operation)
            remaining = deadline - (time.monotonic() - started)
            runtime.limiter.acquire(operation, wait=(mode == "batch"), timeout=remaining)
            try:
                reply = send(key, attempts)
            except VendorError as exc:
                runtime.breaker.record_failure(exc)
                raise
            runtime.breaker.record_success()
            last_reply = reply
            return reply

        try:
            key = self._credential(spec, operation, secret_name or spec.secret_names[0])
            reply = self._retrying(spec, deadline, idempotent, operation)(attempt)
        except VendorError as exc:
            exc.record = self._record(spec, operation, mode, started_at, started, attempts, None, exc)
            raise exc from exc.__cause__
        record = self._record(spec, operation, mode, started_at, started, attempts, reply, None)
        return CallResult(reply.value, record)

    # Step 1.
    def _credential(self, spec: VendorSpec, operation: str, secret_name: str) -> str:
        if secret_name not in spec.secret_names:
            # A typo here would otherwise surface as "not configured" forever.
            raise ValueError(
                f"{secret_name!r} is not one of {spec.name}'s secrets {spec.secret_names}"
            )
        key = self.secrets.get(secret_name)
        if key is None:
            raise NotConfigured(
                f"{secret_name} is unset or empty; set it in the environment, .env or secrets.toml",
                vendor=spec.name,
                operation=operation,
            )
        return key

    # Step 6.
    def _retrying(self, spec: VendorSpec, deadline: float, idempotent: bool, operation: str) -> Retrying:
        """Return the retry policy of one kind of call, built once and reused.

        Building a tenacity Retrying costs more than running it; a Retrying keeps
        its per-call state in thread-local storage, so one instance serves every
        thread.
        """
        key = (spec.name, deadline, idempotent, operation)
        retrying = self._retryings.get(key)
        if retrying is None:
            retrying = self._retryings.setdefault(key, self._build_retrying(spec, deadline, idempotent, operation))
        return retrying

    def _build_retrying(self, spec: VendorSpec, deadline: float, idempotent: bool, operation: str) -> Retrying:
        policy = spec.retry
        breaker = self.vendors[spec.name].breaker

        def should_retry(exc: BaseException) -> bool:
            if not isinstance(exc, VendorError) or not exc.retryable:
                return False
            # A failure that just tripped the breaker ends the call with that
            # failure, instead of a backoff sleep followed by CircuitOpen.
            if breaker.state == "open":
                return False
            # A request that may have reached the vendor is repeated only when
            # repeating it cannot double its effect.
            return idempotent or not exc.request_sent

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimited):
                return exc.retry_after if exc.retry_after is not None else policy.default_retry_after
            return full_jitter(state.attempt_number, policy.backoff_base, policy.backoff_cap, self._rand)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            delay = state.upcoming_sleep
            log.info("retrying %s.%s in %.2f s after attempt %d: %r",
                     spec.name, operation, delay, state.attempt_number, exc)

        return Retrying(
            retry=retry_if_exception(should_retry),
            stop=stop_after_attempt(policy.attempts) | stop_before_delay(deadline),
            wait=wait,
            # Looked up at each sleep, so a test can swap `_sleep` after a call has run.
            sleep=lambda seconds: self._sleep(seconds),
            before_sleep=before_sleep,
            reraise=True,
        )

    # Step 7.
    def _record(
        self,
        spec: VendorSpec,
        operation: str,
        mode: Mode,
        started_at: object,
        started: float,
        attempts: int,
        reply: Reply[object] | None,
        error: VendorError | None,
    ) -> CallRecord:
        record = CallRecord(
            vendor=spec.name,
            operation=operation,
            outcome=SUCCESS if error is None else error.error_class,
            mode=mode,
            started_at=started_at,  # type: ignore[arg-type]
            latency_ms=(time.monotonic() - started) * 1000.0,
            attempts=attempts,
        )
        if reply is not None:
            record.status_code = reply.status_code
            record.request_id = reply.request_id
            record.credits = reply.credits
            record.cost_usd = reply.cost_usd
            record.extra = dict(reply.extra)
        if error is not None:
            record.status_code = error.status_code
            record.request_id = error.request_id
            record.breaker_failure = error.trips_breaker
            record.error_message = error.message

        if self.metrics is not None:
            self.metrics.send(record)
        fan_out(self.sinks, record)
        log.info("%s.%s %s status=%s attempts=%d latency_ms=%.1f request_id=%s",
                 record.vendor, record.operation, record.outcome, record.status_code,
                 record.attempts, record.latency_ms, record.request_id)
        return record
