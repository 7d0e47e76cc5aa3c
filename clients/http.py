"""Classification of httpx outcomes into the error taxonomy, at one boundary."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx

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
from clients.registry.spec import VendorSpec

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "x-message-id")
SENSITIVE_HEADERS = frozenset({"authorization", "x-api-key", "clay-api-key", "dd-api-key",
                               "dd-application-key", "api-key"})


def build_client(spec: VendorSpec, base_url: str, pool_size: int = 20) -> httpx.Client:
    """Build a pooled client with a complete timeout: connect short, read per the registry."""
    timeout = httpx.Timeout(
        connect=spec.timeouts.connect,
        read=spec.timeouts.read,
        write=spec.timeouts.read,
        pool=spec.timeouts.connect,
    )
    limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
    return httpx.Client(base_url=base_url, timeout=timeout, limits=limits,
                        headers={"accept": "application/json"})


def request_id_of(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return headers fit for a log or a request summary: keys shown as their last four."""
    redacted = {}
    for name, value in headers.items():
        if name.lower() in SENSITIVE_HEADERS:
            shown = value.split(" ")[-1]
            redacted[name] = f"****{shown[-4:]}" if len(shown) > 8 else "****"
        else:
            redacted[name] = value
    return redacted


def vendor_message(response: httpx.Response) -> str:
    """Return the vendor's own error text, shortened, from the body shapes the six vendors use."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = response.text.strip()
        return text[:200] if text else response.reason_phrase
    message: object = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        if message is None and isinstance(body.get("errors"), list) and body["errors"]:
            first = body["errors"][0]
            message = first.get("message") if isinstance(first, dict) else first
        if message is None:
            message = body.get("message")
    return str(message)[:200] if message else response.reason_phrase


def raise_for_status(response: httpx.Response, vendor: str, operation: str) -> None:
    """Raise the taxonomy class for a non-2xx response."""
    status = response.status_code
    if status < 400:
        return
    context = {
        "vendor": vendor,
        "operation": operation,
        "status_code": status,
        "request_id": request_id_of(response.headers),
    }
    message = vendor_message(response)
    if status == 429:
        raise RateLimited(message, retry_after=parse_retry_after(response.headers), **context)
    if status == 402:
        raise OutOfCredits(message, **context)
    if status in (401, 403):
        raise AuthFailed(message, **context)
    if status >= 500:
        raise VendorUnavailable(message, **context)
    raise BadRequest(message, **context)


def json_body(response: httpx.Response, vendor: str, operation: str) -> dict[str, object]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedResponse(
            f"response is not JSON: {exc}",
            vendor=vendor,
            operation=operation,
            status_code=response.status_code,
            request_id=request_id_of(response.headers),
        ) from exc
    if not isinstance(body, dict):
        raise MalformedResponse(
            f"expected a JSON object, got {type(body).__name__}",
            vendor=vendor,
            operation=operation,
            status_code=response.status_code,
            request_id=request_id_of(response.headers),
        )
    return body


def require(body: Mapping[str, object], key: str, kind: type, vendor: str, operation: str) -> object:
    """Return body[key], raising MalformedResponse when it is missing or of the wrong type."""
    value = body.get(key)
    if not isinstance(value, kind):
        raise MalformedResponse(
            f"response field {key!r} is missing or not a {kind.__name__}",
            vendor=vendor,
            operation=operation,
        )
    return value


@contextmanager
def transport_errors(vendor: str, operation: str) -> Iterator[None]:
    """Translate httpx transport exceptions into the taxonomy, most specific first."""
    context: dict[str, object] = {"vendor": vendor, "operation": operation}
    try:
        yield
    except VendorError:
        raise
    except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise VendorTimeout(f"connect timed out: {exc}", request_sent=False, **context) from exc
    except httpx.TimeoutException as exc:
        raise VendorTimeout(f"read timed out: {exc}", request_sent=True, **context) from exc
    except httpx.ConnectError as exc:
        raise VendorUnavailable(f"connection failed: {exc}", request_sent=False, **context) from exc
    except httpx.TransportError as exc:
        # The connection broke after the request was written, so it may have arrived.
        raise VendorUnavailable(f"connection dropped: {exc}", request_sent=True, **context) from exc
