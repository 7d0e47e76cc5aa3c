"""Stripe client against the sandbox over loopback: operations, faults, idempotency."""

from __future__ import annotations

import dataclasses
import socket

import httpx
import pytest

from clients.errors import (
    AuthFailed,
    BadRequest,
    MalformedResponse,
    RateLimited,
    VendorError,
    VendorTimeout,
    VendorUnavailable,
)
from clients.registry import REGISTRY
from clients.registry.spec import Timeouts
from clients.registry.stripe import card_fee_usd
from clients.stripe import StripeClient
from console.runtime import sandbox_key
from console.sandbox.stripe import EPOCH, SEEDED_CHARGE_CENTS, SEEDED_CHARGES, fee_cents
from tests.conftest import sandbox_stats, set_fault

KEY = sandbox_key(REGISTRY["stripe"], "STRIPE_SECRET_KEY")




@pytest.fixture
def client(runtime) -> StripeClient:
    return runtime.client("stripe")


def stripe_stats(sandbox) -> dict[str, object]:
    return sandbox_stats(sandbox)["stripe"]


def with_read_timeout(runtime, seconds: float) -> StripeClient:
    """Build a client whose registry entry has a short read timeout."""
    vendor = runtime.pipeline.vendors["stripe"]
    vendor.spec = dataclasses.replace(vendor.spec, timeouts=Timeouts(connect=1.0, read=seconds))
    return runtime.client("stripe")


# Operations in normal mode.


def test_registry_entry():
    spec = REGISTRY["stripe"]

    assert spec.sandbox_prefix == "/stripe"
    assert spec.secret_names == ("STRIPE_SECRET_KEY",)
    assert spec.plan.monthly_fee_usd == 0.0
    assert spec.plan.monthly_budget_usd > 0
    assert {code.status for code in spec.error_codes} >= {400, 401, 402, 409, 429, 500}


def test_sandbox_key_is_test_key():
    assert KEY.startswith("sk_test_")


def test_balance(client):
    result = client.balance()

    assert result.value.livemode is False
    assert result.value.available["usd"] == SEEDED_CHARGES * (
        SEEDED_CHARGE_CENTS - fee_cents(SEEDED_CHARGE_CENTS))
    assert result.record.status_code == 200
    assert result.record.request_id.startswith("req_")
    assert result.record.cost_usd == 0.0


def test_balance_transactions_paginate(client, sandbox):
    report = client.balance_transactions(page_size=10)

    assert report.pages == 3
    assert report.truncated is False
    assert len(report.transactions) == SEEDED_CHARGES
    assert len({t.id for t in report.transactions}) == SEEDED_CHARGES
    created = [t.created for t in report.transactions]
    assert created == sorted(created, reverse=True)
    assert report.fee_usd == round(SEEDED_CHARGES * fee_cents(SEEDED_CHARGE_CENTS) / 100, 2)
    assert len(report.records) == 3
    assert stripe_stats(sandbox)["requests"]["GET /v1/balance_transactions"] == 3


def test_balance_transactions_max_pages(client):
    report = client.balance_transactions(page_size=10, max_pages=2)

    assert report.pages == 2
    assert report.truncated is True
    assert len(report.transactions) == 20


def test_balance_transactions_created_filter(client):
    since = EPOCH + 20 * 3600
    report = client.balance_transactions(created_gte=since, page_size=2)

    assert len(report.transactions) == 5
    assert all(t.created >= since for t in report.transactions)
    assert report.pages == 3


def test_create_customer(client, sandbox):
    result = client.create_customer("hr@acme.com", name="Acme HR", metadata={"account": "42"})

    assert result.value.id.startswith("cus_")
    assert result.value.email == "hr@acme.com"
    assert result.value.replayed is False
    assert result.record.extra["idempotency_key"]
    assert stripe_stats(sandbox)["customers"] == 1


def test_create_subscription_meters_fee(client, sandbox):
    customer = client.create_customer("hr@acme.com").value
    result = client.create_subscription(customer.id, "price_sandbox_team")

    assert result.value.status == "active"
    assert result.value.amount_paid == 19900
    assert result.record.credits == 1.0
    assert result.record.cost_usd == card_fee_usd(199.00)
    assert result.record.cost_usd == 6.07
    assert stripe_stats(sandbox)["subscriptions"] == 1
    assert stripe_stats(sandbox)["balance_transactions"] == SEEDED_CHARGES + 1


def test_unknown_price_is_bad_request(client):
    customer = client.create_customer("hr@acme.com").value
    with pytest.raises(BadRequest) as caught:
        client.create_subscription(customer.id, "price_missing")

    assert caught.value.status_code == 400
    assert "price_missing" in caught.value.message
    assert caught.value.request_id.startswith("req_")


def test_probes_run(client):
    for probe in client.spec.probes:
        result = client.run_probe(probe.operation)
        assert result.record.ok, probe.operation


def test_unknown_probe_rejected(client):
    with pytest.raises(ValueError, match="unknown Stripe probe"):
        client.run_probe("refund_everything")


def test_probe_costs_marked(client):
    costs = {probe.operation: probe.cost for probe in client.spec.probes}

    assert costs["balance"] == "free"
    assert costs["create_customer"] == "money"


# Idempotency.


def test_same_key_replays_first_result(client, sandbox):
    first = client.create_customer("hr@acme.com", idempotency_key="cust-acme-1")
    second = client.create_customer("hr@acme.com", idempotency_key="cust-acme-1")

    assert second.value.id == first.value.id
    assert first.value.replayed is False
    assert second.value.replayed is True
    assert stripe_stats(sandbox)["customers"] == 1
    assert stripe_stats(sandbox)["idempotent_replays"] == 1


def test_same_key_other_params_conflict(client, sandbox, no_sleep):
    client.create_customer("hr@acme.com", idempotency_key="cust-acme-2")
    with pytest.raises(BadRequest) as caught:
        client.create_customer("ceo@acme.com", idempotency_key="cust-acme-2")

    assert caught.value.status_code == 400
    assert "same parameters" in caught.value.message
    assert no_sleep == []
    assert stripe_stats(sandbox)["customers"] == 1


def test_in_flight_key_retried(client, sandbox, no_sleep):
    # Stripe returns 409 while a request with the same key is still running.
    sandbox.sandbox.vendors["stripe"]._in_flight.add("cust-busy")
    with pytest.raises(RateLimited) as caught:
        client.create_customer("hr@acme.com", idempotency_key="cust-busy")

    assert caught.value.status_code == 409
    assert len(no_sleep) == 2
    assert stripe_stats(sandbox)["customers"] == 0


def test_idempotency_error_body(sandbox):
    headers = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": "raw-1"}
    httpx.post(f"{sandbox.url}/stripe/v1/customers", data={"email": "a@acme.com"},
               headers=headers)
    response = httpx.post(f"{sandbox.url}/stripe/v1/customers", data={"email": "b@acme.com"},
                          headers=headers)

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "idempotency_error"
    assert response.headers["request-id"].startswith("req_")


def test_dropped_create_retried_once(client, runtime, sandbox):
    set_fault(sandbox, "stripe", "drop")
    slept: list[float] = []

    def heal_then_sleep(seconds: float) -> None:
        # The first response is lost; the vendor recovers before the retry.
        slept.append(seconds)
        set_fault(sandbox, "stripe", "normal")

    runtime.pipeline._sleep = heal_then_sleep
    result = client.create_customer("hr@acme.com")

    assert result.record.attempts == 2
    assert len(slept) == 1
    assert result.value.replayed is True
    stats = stripe_stats(sandbox)
    assert stats["requests"]["POST /v1/customers"] == 2
    assert stats["customers"] == 1
    assert stats["idempotent_replays"] == 1


def test_dropped_create_never_duplicates(client, sandbox, no_sleep):
    set_fault(sandbox, "stripe", "drop")
    with pytest.raises(VendorUnavailable) as caught:
        client.create_customer("hr@acme.com")

    assert caught.value.request_sent is True
    assert len(no_sleep) == 2
    stats = stripe_stats(sandbox)
    assert stats["requests"]["POST /v1/customers"] == 3
    assert stats["customers"] == 1


def test_dropped_subscription_charged_once(client, runtime, sandbox):
    customer = client.create_customer("hr@acme.com").value
    set_fault(sandbox, "stripe", "drop")
    runtime.pipeline._sleep = lambda seconds: set_fault(sandbox, "stripe", "normal")
    result = client.create_subscription(customer.id, "price_sandbox_starter")

    assert result.record.attempts == 2
    stats = stripe_stats(sandbox)
    assert stats["subscriptions"] == 1
    assert stats["charged_twice"] == []
    assert stats["balance_transactions"] == SEEDED_CHARGES + 1


# Live keys.


def test_live_key_rejected_unsent(client, sandbox, monkeypatch, no_sleep):
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_" + "x" * 24)
    with pytest.raises(AuthFailed) as caught:
        client.balance()

    assert "live key" in caught.value.message
    assert "sk_live_" + "x" * 24 not in str(caught.value)
    assert no_sleep == []
    assert stripe_stats(sandbox)["requests_total"] == 0


def test_sandbox_rejects_live_key(sandbox):
    response = httpx.get(f"{sandbox.url}/stripe/v1/balance", auth=("sk_live_abc", ""))

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "sk_live_abc" not in response.text


def test_sandbox_accepts_basic_auth(sandbox):
    response = httpx.get(f"{sandbox.url}/stripe/v1/balance", auth=(KEY, ""))

    assert response.status_code == 200
    assert response.json()["object"] == "balance"


def test_live_key_allowed_for_live_api(runtime):
    client = StripeClient(runtime.pipeline, "https://api.stripe.com")
    try:
        options = client._options("sk_live_" + "x" * 24, "balance")
    finally:
        client.close()

    assert options["api_key"].startswith("sk_live_")


# Fault modes: (fault, operation, expected class, attempts).
FAULTS = [
    ("normal", "balance", None, 1),
    ("slow:0.2", "balance", None, 1),
    ("flaky:1", "balance", VendorUnavailable, 3),
    ("down", "balance", VendorUnavailable, 3),
    ("overloaded", "balance", VendorUnavailable, 3),
    ("rate_limited:2", "balance", RateLimited, 3),
    # Stripe has no credits: 402 is a declined card, a problem of the request.
    ("out_of_credits", "balance", BadRequest, 1),
    ("auth_failure", "balance", AuthFailed, 1),
    ("malformed", "balance", MalformedResponse, 3),
    ("drop", "balance", VendorUnavailable, 3),
    ("normal", "create_customer", None, 1),
    ("slow:0.2", "create_customer", None, 1),
    ("flaky:1", "create_customer", VendorUnavailable, 3),
    ("down", "create_customer", VendorUnavailable, 3),
    ("overloaded", "create_customer", VendorUnavailable, 3),
    ("rate_limited:2", "create_customer", RateLimited, 3),
    ("out_of_credits", "create_customer", BadRequest, 1),
    ("auth_failure", "create_customer", AuthFailed, 1),
    # Writes carry one Idempotency-Key, so even ambiguous failures are retried.
    ("malformed", "create_customer", MalformedResponse, 3),
    ("drop", "create_customer", VendorUnavailable, 3),
]


def run(client: StripeClient, operation: str) -> object:
    if operation == "create_customer":
        return client.create_customer("hr@acme.com")
    return client.balance()


@pytest.mark.parametrize(("fault", "operation", "expected", "attempts"), FAULTS,
                         ids=[f"{fault}-{op}" for fault, op, _, _ in FAULTS])
def test_fault_mode(client, sandbox, no_sleep, fault, operation, expected, attempts):
    set_fault(sandbox, "stripe", fault)

    if expected is None:
        result = run(client, operation)
        assert result.record.attempts == attempts
        return
    with pytest.raises(expected) as caught:
        run(client, operation)

    assert type(caught.value) is expected
    assert len(no_sleep) == attempts - 1
    if expected is RateLimited:
        assert no_sleep == [2.0] * (attempts - 1)
    path = "POST /v1/customers" if operation == "create_customer" else "GET /v1/balance"
    stats = stripe_stats(sandbox)
    assert stats["requests"][path] == attempts
    assert stats["customers"] <= 1


def test_read_timeout_retried(runtime, sandbox, no_sleep):
    client = with_read_timeout(runtime, 0.3)
    set_fault(sandbox, "stripe", "slow:1")
    with pytest.raises(VendorTimeout) as caught:
        client.create_customer("hr@acme.com")

    assert caught.value.request_sent is True
    assert len(no_sleep) == 2


def test_connect_failure_not_sent(runtime, no_sleep):
    # A bound socket that does not listen refuses connections, and holding it
    # keeps any other server in the test run off the port.
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        client = StripeClient(runtime.pipeline, f"http://127.0.0.1:{port}/stripe")
        try:
            with pytest.raises(VendorUnavailable) as caught:
                client.balance()
        finally:
            client.close()

    assert caught.value.request_sent is False
    assert len(no_sleep) == 2


# Secrets.


def test_key_never_logged_or_recorded(client, sandbox, no_sleep, raw_log):
    texts = [repr(client.balance().record.as_dict()),
             repr(client.create_customer("hr@acme.com").record.as_dict())]
    for fault in ("auth_failure", "drop", "malformed", "down"):
        set_fault(sandbox, "stripe", fault)
        with pytest.raises(VendorError) as caught:
            client.create_customer("hr@acme.com")
        texts.append(str(caught.value))
        texts.append(repr(vars(caught.value)))

    assert any(name.startswith("stripe") for name, _ in raw_log.lines)
    for name, line in raw_log.lines:
        assert KEY not in line, name
    for text in texts:
        assert KEY not in text
