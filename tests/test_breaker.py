"""Breaker transitions, shared state through the store, and concurrency."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from clients.errors import AuthFailed, CircuitOpen, VendorUnavailable
from console.store.models import BreakerEvent
from tests.conftest import sandbox_stats, set_fault

pytestmark = pytest.mark.all_backends


def fail_until_open(runtime, sandbox):
    set_fault(sandbox, "apollo", "down")
    client = runtime.client("apollo")
    with pytest.raises(VendorUnavailable):
        client.health()  # three failures
    with pytest.raises((VendorUnavailable, CircuitOpen)):
        client.health()  # the fifth failure trips the breaker
    assert runtime.breaker("apollo").state == "open"


def test_opens_after_fail_max(runtime, sandbox, no_sleep):
    fail_until_open(runtime, sandbox)
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == 5


def test_half_open_trial_success_closes(runtime, sandbox, no_sleep):
    fail_until_open(runtime, sandbox)
    runtime.breaker("apollo")._cb.reset_timeout = 0.0
    set_fault(sandbox, "apollo", "normal")
    runtime.client("apollo").health()
    assert runtime.breaker("apollo").state == "closed"
    with runtime.store.session() as session:
        events = [(e.old_state, e.new_state) for e in session.scalars(select(BreakerEvent).order_by(BreakerEvent.id))]
    assert events == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]


def test_half_open_trial_failure_reopens(runtime, sandbox, no_sleep):
    fail_until_open(runtime, sandbox)
    runtime.breaker("apollo")._cb.reset_timeout = 0.0
    with pytest.raises((VendorUnavailable, CircuitOpen)):
        runtime.client("apollo").health()
    assert runtime.breaker("apollo").state == "open"


def test_client_errors_do_not_trip(runtime, sandbox, no_sleep):
    set_fault(sandbox, "apollo", "auth_failure")
    for _ in range(8):
        with pytest.raises(AuthFailed):
            runtime.client("apollo").health()
    assert runtime.breaker("apollo").state == "closed"
    assert runtime.breaker("apollo").fail_counter == 0


def test_state_shared_between_runtimes(runtime, settings, sandbox, no_sleep):
    from console.runtime import open_runtime

    fail_until_open(runtime, sandbox)
    other = open_runtime(settings)
    try:
        assert other.breaker("apollo").state == "open"
        sent = sandbox_stats(sandbox)["apollo"]["requests_total"]
        with pytest.raises(CircuitOpen):
            other.client("apollo").health()
        assert sandbox_stats(sandbox)["apollo"]["requests_total"] == sent
    finally:
        other.close()


def test_concurrent_calls_are_not_serialised(runtime, sandbox):
    # Long enough that all eight threads are inside the sandbox at once even on a
    # loaded machine; serialised calls could never overlap however slow.
    set_fault(sandbox, "apollo", "slow:1.5")
    client = runtime.client("apollo")
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.health()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # All eight requests were inside the sandbox at the same moment; had the
    # breaker's lock been held across the request, at most one would be.
    assert sandbox_stats(sandbox)["apollo"]["max_in_flight"] == 8


def test_trip_ends_call_without_sleep(runtime, sandbox, no_sleep):
    set_fault(sandbox, "apollo", "down")
    client = runtime.client("apollo")
    with pytest.raises(VendorUnavailable):
        client.health()
    assert len(no_sleep) == 2
    with pytest.raises(VendorUnavailable) as caught:
        client.health()  # failures four and five; the fifth trips the breaker
    # The call ends with the failure that tripped the breaker, with no backoff
    # sleep after it and no third attempt to meet CircuitOpen.
    assert caught.value.record.attempts == 2
    assert len(no_sleep) == 3
    assert runtime.breaker("apollo").state == "open"
