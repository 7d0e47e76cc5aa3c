"""Every taxonomy class, produced by the sandbox over loopback through the real clients."""

from __future__ import annotations

import pytest

from clients.errors import (
    AuthFailed,
    BadRequest,
    CircuitOpen,
    MalformedResponse,
    NotConfigured,
    OutOfCredits,
    RateLimited,
    VendorTimeout,
    VendorUnavailable,
)
from clients.http import raise_for_status, transport_errors
from clients.pipeline import Reply
from console.runtime import open_runtime
from tests.conftest import sandbox_stats, set_fault


def apollo(runtime):
    return runtime.client("apollo")


@pytest.mark.parametrize(
    ("fault", "error", "attempts"),
    [
        ("down", VendorUnavailable, 3),
        ("flaky:1.0", VendorUnavailable, 3),
        ("overloaded", VendorUnavailable, 3),
        ("malformed", MalformedResponse, 3),
        ("out_of_credits", OutOfCredits, 1),
        ("auth_failure", AuthFailed, 1),
    ],
)
def test_fault_mode_classified(runtime, sandbox, no_sleep, fault, error, attempts):
    set_fault(sandbox, "apollo", fault)
    with pytest.raises(error) as caught:
        apollo(runtime).health()
    record = caught.value.record
    assert record.outcome == error.__name__
    assert record.attempts == attempts
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == attempts
    assert len(no_sleep) == attempts - 1


def test_rate_limited_retries_after_header(runtime, sandbox, no_sleep):
    set_fault(sandbox, "apollo", "rate_limited:2")
    with pytest.raises(RateLimited) as caught:
        apollo(runtime).health(mode="batch")
    assert caught.value.retry_after == 2.0
    assert caught.value.record.attempts == 3
    # Exactly the server's hint each time, not an exponential 1, 2, 4 s.
    assert no_sleep == [2.0, 2.0]
    assert runtime.breaker("apollo").state == "closed"


def test_interactive_call_does_not_wait_past_deadline(runtime, sandbox, no_sleep):
    set_fault(sandbox, "apollo", "rate_limited:60")
    with pytest.raises(RateLimited):
        apollo(runtime).health(mode="interactive")
    assert no_sleep == []
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == 1


def test_read_timeout_is_vendor_timeout(runtime, sandbox, no_sleep):
    client = apollo(runtime)
    client.http.timeout = client.http.timeout.__class__(connect=1.0, read=0.2, write=1.0, pool=1.0)
    set_fault(sandbox, "apollo", "slow:0.6")
    with pytest.raises(VendorTimeout) as caught:
        client.health()
    assert caught.value.request_sent is True
    assert caught.value.record.attempts == 3


def test_not_found_is_bad_request(runtime, sandbox, no_sleep):
    client = apollo(runtime)

    def send(key: str, attempt: int) -> Reply[None]:
        with transport_errors("apollo", "missing"):
            response = client.http.get("/no/such/path", headers={"x-api-key": key})
        raise_for_status(response, "apollo", "missing")
        return Reply(None)

    with pytest.raises(BadRequest) as caught:
        runtime.pipeline.call("apollo", "missing", send)
    assert caught.value.status_code == 404
    assert caught.value.record.attempts == 1
    assert caught.value.request_id.startswith("sbx-")


def test_connection_refused_is_unavailable(settings, no_sleep):
    settings.sandbox_url = "http://127.0.0.1:9"  # discard port: nothing listens
    runtime = open_runtime(settings)
    runtime.pipeline._sleep = lambda seconds: None
    try:
        with pytest.raises(VendorUnavailable) as caught:
            runtime.client("apollo").health()
        assert caught.value.request_sent is False
        assert caught.value.record.attempts == 3
    finally:
        runtime.close()


def test_missing_key_is_not_configured(settings, sandbox, monkeypatch):
    monkeypatch.setenv("APOLLO_API_KEY", "")
    runtime = open_runtime(settings)
    try:
        with pytest.raises(NotConfigured) as caught:
            runtime.client("apollo").health()
        assert "APOLLO_API_KEY" in caught.value.message
        assert caught.value.record.attempts == 0
        assert sandbox_stats(sandbox)["apollo"]["requests_total"] == 0
    finally:
        runtime.close()


def test_open_breaker_is_circuit_open(runtime, sandbox, no_sleep):
    set_fault(sandbox, "apollo", "down")
    client = apollo(runtime)
    for _ in range(2):
        with pytest.raises((VendorUnavailable, CircuitOpen)):
            client.health()
    sent = sandbox_stats(sandbox)["apollo"]["requests_total"]
    with pytest.raises(CircuitOpen):
        client.health()
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == sent
