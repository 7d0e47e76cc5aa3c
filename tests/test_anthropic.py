"""The Anthropic client against the sandbox over loopback, through the whole pipeline."""

from __future__ import annotations

from datetime import UTC, datetime

import anthropic
import httpx
import httpx2
import pytest

from clients.anthropic import (
    AnthropicClient,
    TokenUsage,
    classify_status_error,
    price_for,
    token_cost_usd,
)
from clients.errors import (
    AuthFailed,
    BadRequest,
    MalformedResponse,
    NotConfigured,
    OutOfCredits,
    RateLimited,
    VendorError,
    VendorTimeout,
    VendorUnavailable,
)
from clients.recording import MemorySink
from clients.registry import REGISTRY
from clients.registry.anthropic import ANTHROPIC_TOKEN_PRICES
from console.sandbox.server import Sandbox, SandboxServer
from tests.conftest import TEST_LIMITS, sandbox_stats, set_fault

MESSAGES_PATH = "POST /v1/messages"
MODELS_PATH = "GET /v1/models"
DAY = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def client(runtime):
    return runtime.client("anthropic")


@pytest.fixture
def records(runtime) -> list:
    sink = MemorySink()
    runtime.pipeline.sinks.append(sink)
    return sink.records


def requests_to(sandbox, path: str) -> int:
    return sandbox_stats(sandbox)["anthropic"]["requests"].get(path, 0)


def test_registry_entry_names_both_keys():
    spec = REGISTRY["anthropic"]
    assert spec.secret_names == ("ANTHROPIC_API_KEY", "ANTHROPIC_ADMIN_KEY")
    assert spec.sandbox_prefix == "/anthropic"
    assert spec.plan.monthly_fee_usd == 0.0
    assert {probe.operation: probe.cost for probe in spec.probes}["message"] == "money"
    assert spec.free_probe is not None
    assert spec.free_probe.operation == "list_models"


def test_message_reply_and_metering(client, records):
    result = client.message("one two three four five", model="claude-sonnet-4-5",
                            max_tokens=100)
    message = result.value
    assert message.text == "Sandbox reply to: one two three four five"
    assert message.usage.input_tokens == 5
    assert message.usage.output_tokens == 8
    # Sonnet 4.5: 3 USD per million input and 15 per million output tokens.
    # 5 * 3 + 8 * 15 = 135 USD per million, so 0.000135 USD.
    assert message.cost_usd == pytest.approx(0.000135)
    assert result.record.cost_usd == pytest.approx(0.000135)
    assert result.record.credits == 13
    assert result.record.request_id is not None
    assert result.record.request_id.startswith("req_")
    assert records[-1].extra["model"] == "claude-sonnet-4-5"


def test_message_max_tokens_truncates(client):
    message = client.message("alpha beta gamma", model="claude-haiku-4-5", max_tokens=2).value
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 2
    # Haiku 4.5: 3 input tokens at 1 USD and 2 output tokens at 5 USD per million.
    assert message.cost_usd == pytest.approx(13 / 1_000_000)


def test_message_unknown_model_is_unpriced(client):
    result = client.message("hello", model="claude-future-9", max_tokens=50)
    assert result.value.cost_usd == 0.0
    assert result.record.extra["unpriced_model"] == "claude-future-9"


def test_token_cost_plain():
    # 1000 input at 3 USD and 500 output at 15 USD per million: 0.003 + 0.0075.
    assert token_cost_usd((3.0, 15.0), TokenUsage(1000, 500)) == pytest.approx(0.0105)


def test_token_cost_with_cache():
    usage = TokenUsage(1000, 200, cache_creation_5m_tokens=400, cache_creation_1h_tokens=100,
                       cache_read_tokens=2000)
    # Input-priced tokens: 1000 + 400 * 1.25 + 100 * 2 + 2000 * 0.1 = 1900.
    # 1900 * 3 + 200 * 15 = 8700 USD per million tokens.
    assert token_cost_usd((3.0, 15.0), usage) == pytest.approx(0.0087)


@pytest.mark.parametrize(("model", "price"), [
    ("claude-sonnet-4-5-20250929", (3.0, 15.0)),
    ("claude-opus-4-1-20250805", (15.0, 75.0)),
    ("claude-opus-4-20250514", (15.0, 75.0)),
    ("claude-opus-4-5-20251101", (5.0, 25.0)),
    ("claude-3-5-haiku-latest", (0.80, 4.0)),
    ("claude-3-haiku-20240307", (0.25, 1.25)),
])
def test_price_longest_prefix(model, price):
    assert price_for(ANTHROPIC_TOKEN_PRICES, model) == price


def test_price_unknown_model():
    assert price_for(ANTHROPIC_TOKEN_PRICES, "gpt-4") is None


def test_count_tokens(client):
    result = client.count_tokens("count these four words")
    assert result.value == 4
    assert result.record.cost_usd == 0.0


def test_list_models(client):
    models = client.list_models().value
    assert "claude-haiku-4-5" in models


def test_usage_report_uses_admin_key(client, sandbox):
    client.message("one two", model="claude-haiku-4-5", max_tokens=50)
    buckets = client.usage_report(DAY).value
    results = buckets[0]["results"]
    assert results[0]["model"] == "claude-haiku-4-5"
    assert results[0]["uncached_input_tokens"] == 2
    assert results[0]["output_tokens"] == 5


def test_cost_report_converts_cents(client):
    client.message("one two three four five", model="claude-sonnet-4-5", max_tokens=100)
    report = client.cost_report(DAY).value
    # Same call as in the metering test: 0.000135 USD, reported as 0.0135 cents.
    assert report.total_usd == pytest.approx(0.000135)
    assert report.by_model_usd["claude-sonnet-4-5"] == pytest.approx(0.000135)


def test_admin_report_rejects_plain_key(client, sandbox, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "sk-ant-api03-plainkey-9999")
    with pytest.raises(AuthFailed) as caught:
        client.usage_report(DAY)
    assert caught.value.status_code == 403


def test_admin_report_without_admin_key(client, sandbox, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "")
    with pytest.raises(NotConfigured):
        client.cost_report(DAY)
    assert requests_to(sandbox, "GET /v1/organizations/cost_report") == 0


def test_missing_main_key_sends_nothing(client, sandbox, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "")
    with pytest.raises(NotConfigured):
        client.list_models()
    assert requests_to(sandbox, MODELS_PATH) == 0


def test_unknown_secret_name_rejected(runtime):
    with pytest.raises(ValueError, match="not one of"):
        runtime.pipeline.call("anthropic", "x", lambda key, attempt: None,
                              secret_name="OPENAI_API_KEY")


@pytest.mark.parametrize("operation", ["list_models", "count_tokens", "message",
                                       "usage_report", "cost_report"])
def test_run_probe(client, operation):
    result = client.run_probe(operation)
    assert result.record.ok
    assert result.record.operation == operation


def test_run_probe_unknown(client):
    with pytest.raises(ValueError, match="choose one of"):
        client.run_probe("delete_everything")


# Fault mode, expected class, attempts for list_models (a read) and for message
# (not idempotent), with the default of 3 attempts.
FAULTS = [
    ("normal", None, 1, 1),
    ("slow:0.2", None, 1, 1),
    ("flaky:1.0", VendorUnavailable, 3, 3),
    ("down", VendorUnavailable, 3, 3),
    ("rate_limited:2", RateLimited, 3, 3),
    ("out_of_credits", OutOfCredits, 1, 1),
    ("overloaded", VendorUnavailable, 3, 3),
    # The API returned a response, so the message may have been billed and is not
    # sent again.
    ("malformed", MalformedResponse, 3, 1),
    ("auth_failure", AuthFailed, 1, 1),
    # A dropped connection may have delivered the message, so it is not re-sent.
    ("drop", VendorUnavailable, 3, 1),
]


@pytest.mark.parametrize(("fault", "expected", "read_attempts", "message_attempts"), FAULTS)
def test_fault_modes(client, sandbox, records, no_sleep, fault, expected, read_attempts,
                     message_attempts):
    set_fault(sandbox, "anthropic", fault)
    for call, attempts, path in ((client.list_models, read_attempts, MODELS_PATH),
                                 (lambda: client.message("hi there"), message_attempts,
                                  MESSAGES_PATH)):
        if expected is None:
            assert call().record.ok
        else:
            with pytest.raises(expected):
                call()
        assert records[-1].attempts == attempts
        assert requests_to(sandbox, path) == attempts
        runtime_breaker = client.pipeline.runtime("anthropic").breaker
        runtime_breaker.force_close()


def test_overloaded_529_is_unavailable(client, sandbox, records, no_sleep):
    set_fault(sandbox, "anthropic", "overloaded")
    with pytest.raises(VendorUnavailable) as caught:
        client.count_tokens("hello")
    error = caught.value
    assert error.status_code == 529
    assert error.request_id is not None
    assert "Overloaded" in error.message
    attempts = REGISTRY["anthropic"].retry.attempts
    assert records[-1].attempts == attempts
    assert records[-1].breaker_failure
    assert len(no_sleep) == attempts - 1


def test_rate_limited_waits_retry_after(client, sandbox, no_sleep):
    set_fault(sandbox, "anthropic", "rate_limited:3")
    with pytest.raises(RateLimited) as caught:
        client.list_models()
    assert caught.value.retry_after == 3.0
    assert no_sleep == [3.0, 3.0]


def test_error_body_shape(sandbox):
    set_fault(sandbox, "anthropic", "overloaded")
    response = httpx.get(f"{sandbox.url}/anthropic/v1/models",
                         headers={"x-api-key": "k", "anthropic-version": "2023-06-01"})
    assert response.status_code == 529
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "overloaded_error"
    assert response.headers["request-id"] == body["request_id"]


def test_rate_limit_headers(sandbox):
    response = httpx.get(f"{sandbox.url}/anthropic/v1/models",
                         headers={"x-api-key": "k", "anthropic-version": "2023-06-01"})
    assert response.status_code == 200
    assert response.headers["anthropic-ratelimit-requests-limit"] == "1000"
    assert response.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert "anthropic-ratelimit-output-tokens-remaining" in response.headers


def test_sandbox_requires_version_header(sandbox):
    response = httpx.get(f"{sandbox.url}/anthropic/v1/models", headers={"x-api-key": "k"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_sandbox_rejects_bearer_only(sandbox):
    response = httpx.get(f"{sandbox.url}/anthropic/v1/models",
                         headers={"authorization": "Bearer k", "anthropic-version": "2023-06-01"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_errors_carry_no_key(client, sandbox, records, no_sleep):
    set_fault(sandbox, "anthropic", "auth_failure")
    with pytest.raises(VendorError) as caught:
        client.list_models()
    key = client.pipeline.secrets.get("ANTHROPIC_API_KEY")
    assert key
    assert key not in str(caught.value)
    assert key not in repr(records[-1].as_dict())


def status_error(status: int, body: dict, headers: dict | None = None):
    """Build an SDK status error around a real httpx2 response; nothing is sent."""
    request = httpx2.Request("POST", "http://127.0.0.1/v1/messages")
    response = httpx2.Response(status, json=body, headers=headers or {}, request=request)
    return anthropic.APIStatusError(f"HTTP {status}", response=response, body=body)


def error_body(error_type: str, message: str, **extra: object) -> dict:
    return {"type": "error", "error": {"type": error_type, "message": message, **extra}}


@pytest.mark.parametrize(("status", "body", "expected"), [
    (429, error_body("rate_limit_error", "monthly spend limit",
                     details={"error_code": "enforced_spend_limit_reached"}), OutOfCredits),
    (429, error_body("rate_limit_error", "too many requests"), RateLimited),
    (402, error_body("billing_error", "payment required"), OutOfCredits),
    (400, error_body("invalid_request_error", "Your credit balance is too low"), OutOfCredits),
    (400, error_body("invalid_request_error", "max_tokens: required"), BadRequest),
    (403, error_body("permission_error", "no access"), AuthFailed),
    (404, error_body("not_found_error", "model: x"), BadRequest),
    (413, error_body("request_too_large", "too big"), BadRequest),
    (500, error_body("api_error", "internal"), VendorUnavailable),
    (529, error_body("overloaded_error", "Overloaded"), VendorUnavailable),
])
def test_classify_status_error(status, body, expected):
    error = classify_status_error(status_error(status, body), "message")
    assert type(error) is expected
    assert error.status_code == status


def test_classify_rate_limit_retry_after():
    error = classify_status_error(
        status_error(429, error_body("rate_limit_error", "slow down"), {"retry-after": "7"}),
        "message")
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7.0


def test_read_timeout_classified(client, sandbox, records, no_sleep):
    client._sdk = client._sdk.with_options(timeout=0.2)
    set_fault(sandbox, "anthropic", "slow:1")
    with pytest.raises(VendorTimeout) as caught:
        client.list_models()
    assert caught.value.request_sent
    assert records[-1].attempts == 3
    with pytest.raises(VendorTimeout):
        client.message("hi")
    # A read timeout may follow a delivered message, so it is not sent again.
    assert records[-1].attempts == 1


def test_connect_failure_retried(runtime, no_sleep, records):
    stopped = SandboxServer(Sandbox(TEST_LIMITS), statsd_port=None).start()
    url = stopped.url
    stopped.stop()
    client = AnthropicClient(runtime.pipeline, url + "/anthropic")
    try:
        with pytest.raises(VendorUnavailable) as caught:
            client.message("hi")
    finally:
        client.close()
    assert not caught.value.request_sent
    # Nothing reached the server, so even a message is retried.
    assert records[-1].attempts == 3
