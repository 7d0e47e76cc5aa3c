"""Monitors and alerts: the error-rate monitor under a flaky Apollo, the webhook, idempotency.

Traffic is written as call records through console.recorder with timestamps
from a simulated clock, and every evaluation gets that clock's `now`, so ten
minutes of data take no wall-clock time.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clients.breaker import VendorBreaker
from clients.errors import VendorUnavailable
from clients.recording import SUCCESS, CallRecord
from clients.registry.spec import BreakerPolicy, RetryPolicy
from console.alerts import alert_history, current_states, evaluate
from console.monitors import ALERT, NO_DATA, OK, WARNING, default_monitors, list_monitors
from console.notify import WEBHOOK_URL_ENV, WebhookNotifier, webhook_breaker
from console.recorder import write_records
from console.runtime import open_runtime
from tests.conftest import sandbox_stats, set_fault

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ERROR_MONITOR = "Apollo error rate high"
CALLS_PER_MINUTE = 20


class Receiver:
    """A Slack-style webhook on 127.0.0.1 that stores each JSON body; the first
    `fail_next` requests get HTTP 500."""

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = []
        self.requests = 0
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests += 1
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.messages.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def texts(self) -> list[str]:
        return [str(message["text"]) for message in self.messages]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch) -> Iterator[Receiver]:
    server = Receiver()
    monkeypatch.setenv(WEBHOOK_URL_ENV, server.url)
    yield server
    server.stop()


def write_minute(runtime, minute: datetime, *, error_rate: float, rng: random.Random,
                 vendor: str = "apollo", calls: int = CALLS_PER_MINUTE, outcome: str | None = None) -> int:
    """Write one minute of calls, each failing with probability `error_rate`; return the failures."""
    records = []
    failures = 0
    for index in range(calls):
        failed = rng.random() < error_rate
        failures += failed
        records.append(CallRecord(
            vendor=vendor, operation="people_search",
            outcome=outcome or (VendorUnavailable.__name__ if failed else SUCCESS),
            mode="interactive", started_at=minute + timedelta(seconds=index * 2), latency_ms=120.0,
            attempts=1, breaker_failure=failed, status_code=503 if failed else 200,
        ))
    write_records(runtime.store, records)
    return failures


def state_of(statuses, name: str) -> str:
    return next(status.state for status in statuses if status.monitor == name)


def test_defaults_cover_every_vendor():
    monitors = default_monitors()
    kinds = {(monitor.vendor, monitor.kind) for monitor in monitors}
    for vendor in ("apollo", "clay"):
        for kind in ("error_rate", "p95_latency", "breaker_open", "credits_low", "auth_failures"):
            assert (vendor, kind) in kinds
    error = next(monitor for monitor in monitors if monitor.name == ERROR_MONITOR)
    assert error.critical == 0.1
    assert error.window_minutes == 10
    assert error.min_calls > 2


def test_flaky_apollo_alerts_once_then_recovers(runtime, receiver):
    rng = random.Random(30)
    window: list[tuple[int, int]] = []  # (calls, failures) per minute, newest last
    history: list[tuple[int, str, float]] = []
    first_over = None
    minute_index = 0

    def run_minute(error_rate: float) -> str:
        nonlocal minute_index, first_over
        minute = START + timedelta(minutes=minute_index)
        failures = write_minute(runtime, minute, error_rate=error_rate, rng=rng)
        window.append((CALLS_PER_MINUTE, failures))
        del window[:-10]
        rate = sum(f for _, f in window) / sum(c for c, _ in window)
        if rate > 0.1 and first_over is None:
            first_over = minute_index
        state = state_of(evaluate(runtime, now=minute + timedelta(seconds=59)), ERROR_MONITOR)
        history.append((minute_index, state, rate))
        minute_index += 1
        return state

    # Ten steady minutes: OK, and nothing sent.
    for _ in range(10):
        assert run_minute(0.0) == OK
    assert receiver.messages == []

    # Apollo turns flaky at 30%: the monitor alerts at the first evaluation whose
    # 10-minute window is over 0.1, not before.
    while first_over is None:
        state = run_minute(0.3)
        if first_over is None:
            assert state != ALERT, history
    assert history[-1] == (first_over, ALERT, history[-1][2]), history
    alert_messages = [text for text in receiver.texts() if text.startswith("[ALERT] Apollo error rate high")]
    assert len(alert_messages) == 1
    assert "/runbooks?vendor=apollo" in alert_messages[0]

    # Staying flaky keeps the alert without another message.
    sent = len(receiver.messages)
    for _ in range(5):
        assert run_minute(0.3) == ALERT
    assert len(receiver.messages) == sent

    # Apollo recovers: back to OK within one window, with one message per change.
    for _ in range(10):
        run_minute(0.0)
    assert history[-1][1] == OK, history
    assert receiver.texts()[-1].startswith("[OK] Apollo error rate high")
    changes = [event for event in alert_history(runtime, now=START + timedelta(hours=1))
               if event["monitor"] == ERROR_MONITOR]
    notified = [event for event in changes if event["notification"] == "sent"]
    assert len(receiver.messages) == len(notified)
    assert [event["to"] for event in reversed(changes)][0] in (OK, WARNING)
    assert all(event["from"] != event["to"] for event in changes)


def test_min_calls_gives_no_data(runtime, receiver):
    rng = random.Random(1)
    write_minute(runtime, START, error_rate=1.0, rng=rng, calls=2)
    statuses = evaluate(runtime, now=START + timedelta(seconds=59))
    assert state_of(statuses, ERROR_MONITOR) == NO_DATA
    assert receiver.messages == []


def test_auth_failures_alert(runtime, receiver):
    write_minute(runtime, START, error_rate=0.0, rng=random.Random(2), outcome="AuthFailed", calls=5)
    statuses = evaluate(runtime, now=START + timedelta(seconds=59))
    assert state_of(statuses, "Apollo auth failures") == ALERT
    assert any(text.startswith("[ALERT] Apollo auth failures") for text in receiver.texts())


def test_credits_low_alerts_below_ten_percent(runtime, receiver):
    record = CallRecord(vendor="apollo", operation="people_enrich", outcome=SUCCESS, mode="batch",
                        started_at=START, latency_ms=80.0, attempts=1, credits=950.0)
    write_records(runtime.store, [record])
    statuses = evaluate(runtime, now=START + timedelta(minutes=1))
    assert state_of(statuses, "Apollo credits low") == ALERT
    value = next(status.value for status in statuses if status.monitor == "Apollo credits low")
    assert value == pytest.approx(0.05)


def test_p95_latency_alert(runtime, receiver):
    records = [CallRecord(vendor="clay", operation="people_search", outcome=SUCCESS, mode="interactive",
                          started_at=START + timedelta(seconds=i), latency_ms=4000.0, attempts=1)
               for i in range(25)]
    write_records(runtime.store, records)
    statuses = evaluate(runtime, now=START + timedelta(seconds=59))
    assert state_of(statuses, "Clay p95 latency high") == ALERT


def test_concurrent_evaluations_notify_once(settings, receiver):
    runtimes = [open_runtime(settings), open_runtime(settings)]
    try:
        list_monitors(runtimes[0].store)
        rng = random.Random(5)
        for minute in range(10):
            write_minute(runtimes[0], START + timedelta(minutes=minute), error_rate=0.5, rng=rng)
        now = START + timedelta(minutes=9, seconds=59)
        barrier = threading.Barrier(len(runtimes) * 2)
        errors: list[BaseException] = []

        def run(rt) -> None:
            try:
                barrier.wait()
                evaluate(rt, now=now)
            except BaseException as exc:  # reported by the assert below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(rt,)) for rt in runtimes for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert [s.state for s in current_states(runtimes[0]) if s.monitor == ERROR_MONITOR] == [ALERT]
        assert len([t for t in receiver.texts() if t.startswith("[ALERT] Apollo error rate high")]) == 1
        events = [e for e in alert_history(runtimes[0], now=now) if e["monitor"] == ERROR_MONITOR]
        assert len(events) == 1
    finally:
        for rt in runtimes:
            rt.close()


def test_webhook_retries_then_sends(runtime, receiver):
    slept: list[float] = []
    notifier = WebhookNotifier(receiver.url, webhook_breaker(runtime.store), sleep=slept.append)
    receiver.fail_next = 2
    assert notifier.send("hello") == "sent"
    assert receiver.requests == 3
    assert receiver.texts() == ["hello"]
    assert len(slept) == 2


def test_webhook_breaker_opens(runtime, receiver):
    notifier = WebhookNotifier(receiver.url, webhook_breaker(runtime.store), sleep=lambda _: None)
    receiver.fail_next = 100
    assert notifier.send("first").startswith("failed: webhook returned HTTP 500")
    assert receiver.requests == 3
    outcome = notifier.send("second")
    assert outcome.startswith("failed: breaker is open")
    assert receiver.requests == 3


def test_flaky_sandbox_calls_alert_once(runtime, sandbox, receiver, monkeypatch, no_sleep):
    """Real calls to the sandbox switched to flaky:0.3, stamped by a simulated clock."""
    apollo = runtime.pipeline.runtime("apollo")
    # One attempt per call, so the 30% of requests the sandbox fails are 30% of
    # calls, and a breaker that never trips, so no call turns into CircuitOpen.
    apollo.spec = dataclasses.replace(apollo.spec, retry=RetryPolicy(attempts=1))
    apollo.breaker = VendorBreaker("apollo", BreakerPolicy(fail_max=1_000_000))
    clock = {"now": START}
    monkeypatch.setattr("clients.pipeline.utcnow", lambda: clock["now"])
    client = runtime.client("apollo")
    calls_per_minute = 12
    window: list[int] = []  # failed calls per minute, newest last
    states: list[str] = []
    first_over = None

    def run_minute(index: int) -> str:
        nonlocal first_over
        failures = 0
        for call in range(calls_per_minute):
            clock["now"] = START + timedelta(minutes=index, seconds=call * 4)
            try:
                client.health()
            except VendorUnavailable:
                failures += 1
        window.append(failures)
        del window[:-10]
        if first_over is None and sum(window) / (calls_per_minute * len(window)) > 0.1:
            first_over = index
        statuses = evaluate(runtime, now=START + timedelta(minutes=index, seconds=59))
        states.append(state_of(statuses, ERROR_MONITOR))
        return states[-1]

    # Ten steady minutes: "no data" until min_calls is reached, then OK.
    minute = 0
    for minute in range(10):
        run_minute(minute)
    assert states[0] == NO_DATA
    assert states[-1] == OK
    assert set(states) == {NO_DATA, OK}
    set_fault(sandbox, "apollo", "flaky", rate=0.3)
    while first_over is None:
        minute += 1
        state = run_minute(minute)
        if first_over is None:
            assert state != ALERT, states
    assert states[-1] == ALERT, states
    assert len([t for t in receiver.texts() if t.startswith("[ALERT] Apollo error rate high")]) == 1

    set_fault(sandbox, "apollo", "normal")
    for _ in range(10):
        minute += 1
        run_minute(minute)
    assert states[-1] == OK, states
    assert receiver.texts()[-1].startswith("[OK] Apollo error rate high")
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == calls_per_minute * (minute + 1)
