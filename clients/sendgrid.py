"""SendGrid v3 client: mail send, sandbox-mode test sends, credits and stats.

Uses the official `sendgrid` SDK, whose transport is urllib through
python-http-client: one connection per request, no automatic retries, and one
socket timeout that bounds the connect and every read.

Mail send has no idempotency key, so a send whose response was lost (read
timeout, dropped connection, unparseable response) is never repeated: the message
may already be on its way, and a second send would reach the candidate twice.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail

from clients.backoff import parse_retry_after
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
from clients.pipeline import CallResult, Mode, Pipeline, Reply
from clients.secrets import mask

VENDOR = "sendgrid"
# NOTE: the probe sender must be a verified Sender Identity in the SendGrid
# account, otherwise the live test send gets 403.
PROBE_SENDER = "no-reply@roleferry.com"
PROBE_RECIPIENT = "integrations-probe@roleferry.com"


class _DropSensitiveLines(logging.Filter):
    """Drops python-http-client's DEBUG lines that print request headers and bodies.

    python-http-client 3.3.7 logs `HEADERS: {...}` with the Authorization header
    and `PAYLOAD: ...` with recipient addresses whenever DEBUG is on.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        return not text.startswith(("HEADERS:", "PAYLOAD:"))


_SDK_LOGGER = logging.getLogger("python_http_client.client")
if not any(isinstance(existing, _DropSensitiveLines) for existing in _SDK_LOGGER.filters):
    _SDK_LOGGER.addFilter(_DropSensitiveLines())


class _Headers(Protocol):
    def get(self, name: str, default: Any = None) -> Any: ...


@dataclass(frozen=True)
class SentMail:
    """The outcome of one mail send: 202 with an id, or 200 for a sandbox-mode test."""

    status_code: int
    # SendGrid's id for the message, used to match Event Webhook data; None in sandbox mode.
    message_id: str | None
    recipients: int
    sandbox_mode: bool


def probe_message() -> Mail:
    """Build the small fixed message the test-send probe validates."""
    return Mail(
        from_email=PROBE_SENDER,
        to_emails=PROBE_RECIPIENT,
        subject="RoleFerry integrations probe",
        plain_text_content="Sandbox-mode test from the RoleFerry integrations console.",
    )


def count_recipients(body: dict[str, Any]) -> int:
    """Count to, cc and bcc addresses over all personalizations: one e-mail credit each."""
    total = 0
    for personalization in body.get("personalizations") or []:
        for kind in ("to", "cc", "bcc"):
            total += len(personalization.get(kind) or [])
    return total


def _header(headers: _Headers | None, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    return str(value) if value else None


def _request_id(headers: _Headers | None) -> str | None:
    return _header(headers, "X-Message-Id") or _header(headers, "X-Request-Id")


def _retry_after(headers: _Headers | None) -> float | None:
    """Return seconds to wait after a 429: Retry-After if sent, else until X-RateLimit-Reset."""
    if headers is None:
        return None
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None:
        return parse_retry_after({"Retry-After": retry_after})
    reset = _header(headers, "X-RateLimit-Reset")
    if reset is None:
        return None
    try:
        return max(float(reset) - time.time(), 0.0)
    except ValueError:
        return None


def _error_text(body: bytes | None, reason: object) -> str:
    """Return SendGrid's first error message and field, or the HTTP reason when there is none."""
    try:
        errors = json.loads(body or b"").get("errors")
        first = errors[0]
        message = str(first.get("message") or reason)
        field = first.get("field")
    except (ValueError, AttributeError, TypeError, IndexError, KeyError):
        return str(reason)[:200]
    return f"{message} (field {field})"[:200] if field else message[:200]


def _status_error(exc: SendGridHTTPError, operation: str) -> VendorError:
    status = int(exc.status_code)
    headers = getattr(exc, "headers", None)
    message = _error_text(exc.body, exc.reason)
    context: dict[str, Any] = {"vendor": VENDOR, "operation": operation, "status_code": status,
                               "request_id": _request_id(headers)}
    if status == 429:
        return RateLimited(message, retry_after=_retry_after(headers), **context)
    # SendGrid reports a plan over its e-mail allotment as 401 "Maximum credits exceeded".
    if status == 401 and "credits" in message.lower():
        return OutOfCredits(message, **context)
    if status == 402:
        return OutOfCredits(message, **context)
    if status in (401, 403):
        return AuthFailed(message, **context)
    if status >= 500:
        return VendorUnavailable(message, **context)
    return BadRequest(message, **context)


@contextmanager
def sdk_errors(operation: str, key: str) -> Iterator[None]:
    """Translate SDK and urllib exceptions into the taxonomy, most specific first."""
    context: dict[str, Any] = {"vendor": VENDOR, "operation": operation}
    try:
        yield
    except VendorError:
        raise
    except SendGridHTTPError as exc:
        raise _status_error(exc, operation) from exc
    except urllib.error.URLError as exc:
        # urllib wraps only errors raised while connecting and writing the request,
        # so the vendor cannot have read a whole request.
        reason = str(exc.reason).replace(key, mask(key))
        if isinstance(exc.reason, TimeoutError):
            raise VendorTimeout(f"connect timed out: {reason}", request_sent=False,
                                **context) from exc
        raise VendorUnavailable(f"connection failed: {reason}", request_sent=False,
                                **context) from exc
    except TimeoutError as exc:
        raise VendorTimeout("read timed out waiting for the response", request_sent=True,
                            **context) from exc
    except (http.client.HTTPException, ConnectionError) as exc:
        # The connection broke after the request was written, so it may have arrived.
        raise VendorUnavailable(f"connection dropped: {type(exc).__name__}", request_sent=True,
                                **context) from exc


class SendGridClient:
    def __init__(self, pipeline: Pipeline, base_url: str) -> None:
        self.pipeline = pipeline
        self.spec = pipeline.runtime(VENDOR).spec
        # The SDK appends /v3 itself, so the host is the base without it.
        self.host = base_url.rstrip("/")

    def close(self) -> None:
        """Release nothing: urllib opens and closes a connection per request."""

    def _sdk(self, key: str) -> SendGridAPIClient:
        # A new SDK client per attempt, because it keeps the key in shared request
        # headers; building one costs no connection.
        client = SendGridAPIClient(api_key=key, host=self.host)
        # urllib has one socket timeout for connect and reads; the read timeout is the larger.
        client.client.timeout = self.spec.timeouts.read
        return client

    def _json(self, raw: bytes, status: int, operation: str, headers: _Headers) -> Any:
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedResponse(f"response is not JSON: {exc}", vendor=VENDOR,
                                    operation=operation, status_code=status,
                                    request_id=_request_id(headers)) from exc

    def send(self, message: Mail | dict[str, Any], *,
             mode: Mode = "interactive") -> CallResult[SentMail]:
        """Send one message (202 Accepted); never retried once it may have reached SendGrid."""
        body = message.get() if isinstance(message, Mail) else dict(message)
        return self._post_mail(body, "send", sandbox_mode=False, mode=mode)

    def test_send(self, message: Mail | dict[str, Any], *,
                  mode: Mode = "interactive") -> CallResult[SentMail]:
        """Validate one message with sandbox mode on: SendGrid returns 200 and delivers nothing."""
        body = message.get() if isinstance(message, Mail) else dict(message)
        settings = dict(body.get("mail_settings") or {})
        settings["sandbox_mode"] = {"enable": True}
        body["mail_settings"] = settings
        return self._post_mail(body, "test_send", sandbox_mode=True, mode=mode)

    def _post_mail(self, body: dict[str, Any], operation: str, *, sandbox_mode: bool,
                   mode: Mode) -> CallResult[SentMail]:
        recipients = count_recipients(body)
        expected = 200 if sandbox_mode else 202

        def send(key: str, attempt: int) -> Reply[SentMail]:
            with sdk_errors(operation, key):
                response = self._sdk(key).client.mail.send.post(request_body=body)
            status = int(response.status_code)
            headers = response.headers
            if status != expected:
                # Any 2xx means SendGrid took the request, so this is not retried
                # for a send: the message may be queued already.
                raise MalformedResponse(f"expected HTTP {expected} from mail send, got {status}",
                                        vendor=VENDOR, operation=operation, status_code=status,
                                        request_id=_request_id(headers), request_sent=True)
            message_id = _header(headers, "X-Message-Id")
            if not sandbox_mode and message_id is None:
                raise MalformedResponse("202 from mail send without an X-Message-Id header",
                                        vendor=VENDOR, operation=operation, status_code=status,
                                        request_sent=True)
            credits = 0.0 if sandbox_mode else float(recipients)
            result = SentMail(status, message_id, recipients, sandbox_mode)
            return Reply(result, status, message_id or _request_id(headers), credits,
                         credits * self.spec.usd_per_credit,
                         extra={"recipients": recipients, "message_id": message_id})

        # A sandbox-mode test delivers nothing, so repeating it is safe; a real
        # send has no idempotency key and must not be repeated.
        return self.pipeline.call(VENDOR, operation, send, mode=mode, idempotent=sandbox_mode)

    def credits(self, *, mode: Mode = "interactive") -> CallResult[dict[str, Any]]:
        """GET /v3/user/credits: e-mail credits remaining, used and the next reset date."""

        def send(key: str, attempt: int) -> Reply[dict[str, Any]]:
            with sdk_errors("credits", key):
                response = self._sdk(key).client.user.credits.get()
            status = int(response.status_code)
            body = self._json(response.body, status, "credits", response.headers)
            if not isinstance(body, dict) or not isinstance(body.get("remain"), int):
                raise MalformedResponse("credits response without an integer 'remain'",
                                        vendor=VENDOR, operation="credits", status_code=status)
            return Reply(body, status, _request_id(response.headers))

        return self.pipeline.call(VENDOR, "credits", send, mode=mode)

    def stats(self, start_date: dt.date, end_date: dt.date | None = None, *,
              mode: Mode = "interactive") -> CallResult[list[dict[str, Any]]]:
        """GET /v3/stats: global metrics per day, e.g. requests, delivered and bounces."""
        query = {"start_date": start_date.isoformat(), "aggregated_by": "day"}
        if end_date is not None:
            query["end_date"] = end_date.isoformat()

        def send(key: str, attempt: int) -> Reply[list[dict[str, Any]]]:
            with sdk_errors("stats", key):
                response = self._sdk(key).client.stats.get(query_params=query)
            status = int(response.status_code)
            body = self._json(response.body, status, "stats", response.headers)
            if not isinstance(body, list) or not all(
                isinstance(day, dict) and "date" in day for day in body
            ):
                raise MalformedResponse("stats response is not a list of days", vendor=VENDOR,
                                        operation="stats", status_code=status)
            return Reply(body, status, _request_id(response.headers))

        return self.pipeline.call(VENDOR, "stats", send, mode=mode)

    def run_probe(self, operation: str, mode: Mode = "interactive") -> CallResult[Any]:
        """Run the registry probe named `operation` with small fixed inputs."""
        known = [probe.operation for probe in self.spec.probes]
        if operation not in known:
            raise ValueError(f"unknown SendGrid probe {operation!r}; choose one of: "
                             f"{', '.join(known)}")
        if operation == "credits":
            return self.credits(mode=mode)
        if operation == "stats":
            return self.stats(dt.date.today(), mode=mode)
        if operation == "test_send":
            return self.test_send(probe_message(), mode=mode)
        raise NotImplementedError(f"SendGrid probe {operation!r} is in the registry but has "
                                  "no inputs in SendGridClient.run_probe")
