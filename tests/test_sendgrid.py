"""SendGrid client against the sandbox over loopback: operations, faults, no double sends."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import time
from types import SimpleNamespace

import httpx
import pytest
from sendgrid.helpers.mail import Mail

from clients.errors import (
    AuthFailed,
    BadRequest,
    MalformedResponse,
    OutOfCredits,
    RateLimited,
    VendorError,
    VendorTimeout,
    VendorUnavailable,
)
from clients.recording import CallRecord
from clients.registry import REGISTRY
from clients.registry.spec import Timeouts
from clients.sendgrid import SendGridClient, _retry_after
from console.runtime import sandbox_key
from tests.conftest import sandbox_stats, set_fault

KEY = sandbox_key(REGISTRY["sendgrid"], "SENDGRID_API_KEY")




@pytest.fixture
def client(runtime) -> SendGridClient:
    return runtime.client("sendgrid")


def message(*recipients: str) -> Mail:
    return Mail(
        from_email="no-reply@roleferry.com",
        to_emails=list(recipients) or ["candidate@example.com"],
        subject="Your application",
        plain_text_content="Thanks for applying.",
    )


def sendgrid_stats(sandbox) -> dict[str, object]:
    return sandbox_stats(sandbox)["sendgrid"]


def with_read_timeout(runtime, seconds: float) -> SendGridClient:
    """Build a client whose registry entry has a short read timeout."""
    vendor = runtime.pipeline.vendors["sendgrid"]
    vendor.spec = dataclasses.replace(vendor.spec, timeouts=Timeouts(connect=1.0, read=seconds))
    return runtime.client("sendgrid")


def test_registry_entry():
    spec = REGISTRY["sendgrid"]

    assert spec.sandbox_prefix == "/sendgrid"
    assert spec.secret_names == ("SENDGRID_API_KEY",)
    assert spec.plan.monthly_fee_usd == 19.95
    assert spec.plan.included_credits == 50000
    assert spec.rate_limit.requests == 600
    assert spec.rate_limit.per_seconds == 60


# Operations in normal mode.


def test_send_returns_message_id(client, sandbox):
    result = client.send(message("a@example.com", "b@example.com"))

    assert result.value.status_code == 202
    assert result.value.message_id
    assert result.value.recipients == 2
    assert result.record.request_id == result.value.message_id
    assert result.record.credits == 2.0
    assert result.record.cost_usd > 0
    stats = sendgrid_stats(sandbox)
    assert stats["sends"] == 1
    assert stats["credits_left"] == 49998


def test_test_send_delivers_nothing(client, sandbox):
    result = client.test_send(message())

    assert result.value.status_code == 200
    assert result.value.sandbox_mode is True
    assert result.value.message_id is None
    assert result.record.credits == 0.0
    stats = sendgrid_stats(sandbox)
    assert stats["sends"] == 0
    assert stats["test_sends"] == 1
    assert stats["credits_left"] == 50000


def test_test_send_leaves_body_unchanged(client):
    body = message().get()
    client.test_send(body)

    assert "mail_settings" not in body


def test_credits_counts_sends(client):
    client.send(message("a@example.com"))
    credits = client.credits().value

    assert credits["used"] == 1
    assert credits["remain"] == 49999
    assert credits["reset_frequency"] == "monthly"


def test_stats_counts_requests(client):
    client.send(message("a@example.com"))
    today = dt.date.today()
    days = client.stats(today - dt.timedelta(days=2), today).value

    assert [day["date"] for day in days][-1] == today.isoformat()
    assert len(days) == 3
    assert days[-1]["stats"][0]["metrics"]["requests"] == 1
    assert days[-1]["stats"][0]["metrics"]["delivered"] == 1


def test_invalid_sender_is_bad_request(client, sandbox):
    body = message().get()
    body["from"] = {"email": "not-an-address"}
    with pytest.raises(BadRequest) as caught:
        client.send(body)

    assert caught.value.status_code == 400
    assert "from.email" in caught.value.message
    assert sendgrid_stats(sandbox)["sends"] == 0


def test_probes_run(client):
    for probe in client.spec.probes:
        result = client.run_probe(probe.operation)
        assert result.record.ok, probe.operation


def test_unknown_probe_rejected(client):
    with pytest.raises(ValueError, match="unknown SendGrid probe"):
        client.run_probe("send_everyone")


def test_probe_costs_marked(client):
    costs = {probe.operation: probe.cost for probe in client.spec.probes}

    assert costs["credits"] == "free"
    assert costs["stats"] == "free"
    assert costs["test_send"] != "free"


# Wire format details.


def test_rate_headers_on_success(sandbox):
    response = httpx.get(f"{sandbox.url}/sendgrid/v3/user/credits",
                         headers={"Authorization": "Bearer test"})

    assert response.status_code == 200
    assert "x-ratelimit-limit" in response.headers
    assert "x-ratelimit-remaining" in response.headers
    assert int(response.headers["x-ratelimit-reset"]) >= int(time.time())


def test_missing_bearer_is_401(sandbox):
    response = httpx.get(f"{sandbox.url}/sendgrid/v3/user/credits",
                         headers={"Authorization": "Basic abc"})

    assert response.status_code == 401
    assert response.json()["errors"][0]["message"]


def test_retry_after_from_reset_header():
    reset = str(int(time.time()) + 30)
    wait = _retry_after({"X-RateLimit-Reset": reset})

    assert wait is not None
    assert 28 <= wait <= 30


def test_retry_after_header_wins():
    assert _retry_after({"Retry-After": "3", "X-RateLimit-Reset": "0"}) == 3.0


# Fault modes: (fault, operation, expected class, attempts).
FAULTS = [
    ("normal", "stats", None, 1),
    ("slow:0.2", "stats", None, 1),
    ("flaky:1", "stats", VendorUnavailable, 3),
    ("down", "stats", VendorUnavailable, 3),
    ("overloaded", "stats", VendorUnavailable, 3),
    ("rate_limited:2", "stats", RateLimited, 3),
    ("out_of_credits", "stats", OutOfCredits, 1),
    ("auth_failure", "stats", AuthFailed, 1),
    ("malformed", "stats", MalformedResponse, 3),
    ("drop", "stats", VendorUnavailable, 3),
    ("normal", "send", None, 1),
    ("slow:0.2", "send", None, 1),
    # A 503 or 529 response means SendGrid did not take the message, so a retry is safe.
    ("down", "send", VendorUnavailable, 3),
    ("overloaded", "send", VendorUnavailable, 3),
    ("rate_limited:2", "send", RateLimited, 3),
    ("out_of_credits", "send", OutOfCredits, 1),
    ("auth_failure", "send", AuthFailed, 1),
    # The sandbox accepted the message before the response went wrong, so it is never repeated.
    ("malformed", "send", MalformedResponse, 1),
    ("drop", "send", VendorUnavailable, 1),
]


def run(client: SendGridClient, operation: str) -> object:
    if operation == "send":
        return client.send(message())
    return client.stats(dt.date.today())


@pytest.mark.parametrize(("fault", "operation", "expected", "attempts"), FAULTS,
                         ids=[f"{fault}-{op}" for fault, op, _, _ in FAULTS])
def test_fault_mode(client, sandbox, no_sleep, fault, operation, expected, attempts):
    set_fault(sandbox, "sendgrid", fault)

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
    path = "POST /v3/mail/send" if operation == "send" else "GET /v3/stats"
    assert sendgrid_stats(sandbox)["requests"][path] == attempts


def test_out_of_credits_message(client, sandbox):
    set_fault(sandbox, "sendgrid", "out_of_credits")
    with pytest.raises(OutOfCredits) as caught:
        client.credits()

    assert caught.value.status_code == 401
    assert "Maximum credits exceeded" in caught.value.message


def test_lost_send_not_repeated(client, runtime, sandbox, no_sleep):
    records: list[CallRecord] = []
    runtime.pipeline.sinks.append(SimpleNamespace(record=records.append))
    set_fault(sandbox, "sendgrid", "drop")
    with pytest.raises(VendorUnavailable) as caught:
        client.send(message("a@example.com"))

    assert caught.value.request_sent is True
    assert no_sleep == []
    assert len(records) == 1
    assert records[0].attempts == 1
    assert records[0].outcome == "VendorUnavailable"
    stats = sendgrid_stats(sandbox)
    assert stats["sends"] == 1
    assert stats["requests"]["POST /v3/mail/send"] == 1


def test_send_read_timeout_not_repeated(runtime, sandbox, no_sleep):
    client = with_read_timeout(runtime, 0.3)
    set_fault(sandbox, "sendgrid", "slow:1")
    with pytest.raises(VendorTimeout) as caught:
        client.send(message())

    assert caught.value.request_sent is True
    assert no_sleep == []
    assert sendgrid_stats(sandbox)["requests"]["POST /v3/mail/send"] == 1


def test_stats_read_timeout_retried(runtime, sandbox, no_sleep):
    client = with_read_timeout(runtime, 0.3)
    set_fault(sandbox, "sendgrid", "slow:1")
    with pytest.raises(VendorTimeout):
        client.stats(dt.date.today())

    assert len(no_sleep) == 2
    assert sendgrid_stats(sandbox)["requests"]["GET /v3/stats"] == 3


def test_connect_failure_not_sent(runtime, no_sleep):
    # A bound socket that does not listen refuses connections, and holding it
    # keeps any other server in the test run off the port.
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        client = SendGridClient(runtime.pipeline, f"http://127.0.0.1:{port}/sendgrid")
        with pytest.raises(VendorUnavailable) as caught:
            client.send(message())

    assert caught.value.request_sent is False
    # Nothing reached a server, so even a send is retried.
    assert len(no_sleep) == 2


# Secrets.


def test_key_never_logged_or_recorded(client, sandbox, no_sleep, raw_log):
    texts = [repr(client.send(message()).record.as_dict()),
             repr(client.credits().record.as_dict())]
    for fault in ("auth_failure", "drop", "malformed"):
        set_fault(sandbox, "sendgrid", fault)
        with pytest.raises(VendorError) as caught:
            client.send(message())
        texts.append(str(caught.value))
        texts.append(repr(vars(caught.value)))

    assert any(name.startswith("python_http_client") for name, _ in raw_log.lines)
    for name, line in raw_log.lines:
        assert KEY not in line, name
    for text in texts:
        assert KEY not in text
