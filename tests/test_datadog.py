"""The Datadog client against the sandbox over loopback, through the whole pipeline."""

from __future__ import annotations

import httpx
import pytest

from clients.datadog import rate_limit_wait
from clients.errors import (
    AuthFailed,
    BadRequest,
    MalformedResponse,
    NotConfigured,
    OutOfCredits,
    RateLimited,
    VendorTimeout,
    VendorUnavailable,
)
from clients.recording import MemorySink
from clients.registry import REGISTRY
from tests.conftest import sandbox_stats, set_fault

VALIDATE_PATH = "GET /api/v1/validate"
MONITOR_PATH = "POST /api/v1/monitor"
ERROR_RATE_QUERY = ("sum(last_10m):sum:roleferry.integrations.apollo.error{*}.as_count() / "
                    "sum:roleferry.integrations.apollo.calls{*}.as_count() > 0.1")


@pytest.fixture
def client(runtime):
    return runtime.client("datadog")


@pytest.fixture
def records(runtime) -> list:
    sink = MemorySink()
    runtime.pipeline.sinks.append(sink)
    return sink.records


def datadog_stats(sandbox) -> dict:
    return sandbox_stats(sandbox)["datadog"]


def test_registry_entry_plan():
    spec = REGISTRY["datadog"]
    assert spec.secret_names == ("DATADOG_API_KEY", "DATADOG_APP_KEY")
    assert spec.plan.monthly_fee_usd == 310.0
    assert spec.free_probe is not None
    assert spec.free_probe.operation == "validate"


def test_validate(client):
    result = client.validate()
    assert result.value is True
    assert result.record.status_code == 200


def test_submit_metric(client, sandbox):
    result = client.submit_metric("roleferry.test.depth", 12.0, tags=["env:test"])
    assert result.record.status_code == 202
    stats = datadog_stats(sandbox)
    assert stats["points_received"] == 1
    assert stats["metric_names"] == ["roleferry.test.depth"]


def test_monitor_create_then_list(client):
    created = client.create_monitor("Apollo error rate", ERROR_RATE_QUERY, critical=0.1,
                                    message="@slack-eng-integrations", tags=["vendor:apollo"])
    monitor = created.value
    assert monitor.name == "Apollo error rate"
    assert monitor.query == ERROR_RATE_QUERY
    listed = client.list_monitors().value
    assert [m.id for m in listed] == [monitor.id]
    assert listed[0].tags == ("vendor:apollo",)


def test_monitor_missing_query_is_bad_request(client):
    with pytest.raises(BadRequest) as caught:
        client.create_monitor("no query", "")
    assert "query" in caught.value.message


def test_estimated_cost(client):
    cost = client.estimated_cost("2026-12").value
    assert cost.month == "2026-12"
    assert cost.total_usd == pytest.approx(310.0)
    assert {charge["product_name"] for charge in cost.charges} == {"infra_host",
                                                                   "custom_metrics"}


def test_monitor_without_app_key(client, sandbox, monkeypatch):
    monkeypatch.setenv("DATADOG_APP_KEY", "")
    with pytest.raises(NotConfigured):
        client.list_monitors()
    assert datadog_stats(sandbox)["requests"].get("GET /api/v1/monitor", 0) == 0


def test_missing_api_key_sends_nothing(client, sandbox, monkeypatch):
    monkeypatch.setenv("DATADOG_API_KEY", "")
    with pytest.raises(NotConfigured):
        client.validate()
    assert datadog_stats(sandbox)["requests_total"] == 0


@pytest.mark.parametrize("operation", ["validate", "list_monitors", "estimated_cost",
                                       "submit_metric"])
def test_run_probe(client, operation):
    result = client.run_probe(operation)
    assert result.record.ok
    assert result.record.operation == operation


def test_run_probe_unknown(client):
    with pytest.raises(ValueError, match="choose one of"):
        client.run_probe("create_monitor")


# Fault mode, expected class, attempts for validate (a read) and for
# create_monitor (not idempotent), with the default of 3 attempts.
FAULTS = [
    ("normal", None, 1, 1),
    ("slow:0.2", None, 1, 1),
    ("flaky:1.0", VendorUnavailable, 3, 3),
    ("down", VendorUnavailable, 3, 3),
    ("rate_limited:2", RateLimited, 3, 3),
    ("out_of_credits", OutOfCredits, 1, 1),
    ("overloaded", VendorUnavailable, 3, 3),
    # Datadog returned a response, so the monitor may exist and is not created again.
    ("malformed", MalformedResponse, 3, 1),
    ("auth_failure", AuthFailed, 1, 1),
    # A dropped create may have made the monitor, so it is not sent again.
    ("drop", VendorUnavailable, 3, 1),
]


@pytest.mark.parametrize(("fault", "expected", "read_attempts", "create_attempts"), FAULTS)
def test_fault_modes(client, sandbox, records, no_sleep, fault, expected, read_attempts,
                     create_attempts):
    set_fault(sandbox, "datadog", fault)
    calls = (
        (client.validate, read_attempts, VALIDATE_PATH),
        (lambda: client.create_monitor("m", "avg(last_5m):avg:x{*} > 1", critical=1.0),
         create_attempts, MONITOR_PATH),
    )
    for call, attempts, path in calls:
        if expected is None:
            assert call().record.ok
        else:
            with pytest.raises(expected):
                call()
        assert records[-1].attempts == attempts
        assert datadog_stats(sandbox)["requests"].get(path, 0) == attempts
        client.pipeline.runtime("datadog").breaker.force_close()


def test_auth_failure_is_403(client, sandbox):
    set_fault(sandbox, "datadog", "auth_failure")
    with pytest.raises(AuthFailed) as caught:
        client.validate()
    assert caught.value.status_code == 403
    assert caught.value.message == "Forbidden"


def test_overloaded_maps_to_503(client, sandbox, no_sleep):
    set_fault(sandbox, "datadog", "overloaded")
    with pytest.raises(VendorUnavailable) as caught:
        client.validate()
    assert caught.value.status_code == 503


def test_rate_limited_waits_retry_after(client, sandbox, no_sleep):
    set_fault(sandbox, "datadog", "rate_limited:4")
    with pytest.raises(RateLimited) as caught:
        client.validate()
    assert caught.value.retry_after == 4.0
    assert no_sleep == [4.0, 4.0]


def test_rate_limit_reset_header_wins():
    headers = httpx.Headers({"X-RateLimit-Reset": "7", "Retry-After": "2"})
    assert rate_limit_wait(headers) == 7.0


def test_rate_limit_falls_back_to_retry_after():
    assert rate_limit_wait(httpx.Headers({"Retry-After": "2"})) == 2.0


def test_sandbox_window_sends_reset_seconds(sandbox):
    headers = {"DD-API-KEY": "k"}
    response = httpx.get(f"{sandbox.url}/datadog/api/v1/validate", headers=headers)
    assert response.headers["X-RateLimit-Limit"] == "1000"
    # Seconds until the reset, not an epoch time.
    assert int(response.headers["X-RateLimit-Reset"]) <= 1


def test_sandbox_error_body_shape(sandbox):
    response = httpx.get(f"{sandbox.url}/datadog/api/v1/validate")
    assert response.status_code == 403
    assert response.json() == {"errors": ["Forbidden"]}


def test_read_timeout_classified(client, sandbox, records, no_sleep):
    client.http.timeout = httpx.Timeout(0.2)
    set_fault(sandbox, "datadog", "slow:1")
    with pytest.raises(VendorTimeout) as caught:
        client.validate()
    assert caught.value.request_sent
    assert records[-1].attempts == 3


def test_dropped_count_not_resent(client, sandbox, records, no_sleep):
    set_fault(sandbox, "datadog", "drop")
    with pytest.raises(VendorUnavailable):
        client.submit_metric("roleferry.test.events", 1.0, metric_type="count")
    # Datadog may have added the count already; sending it again would double it.
    assert records[-1].attempts == 1


def test_dropped_gauge_resent(client, sandbox, records, no_sleep):
    set_fault(sandbox, "datadog", "drop")
    with pytest.raises(VendorUnavailable):
        client.submit_metric("roleferry.test.depth", 3.0, timestamp=1_800_000_000)
    assert records[-1].attempts == 3
