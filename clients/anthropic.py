"""Anthropic client on the official `anthropic` SDK: messages, token counts, models, reports.

The SDK's own retries are off (`max_retries=0`) so that only the pipeline retries,
and every SDK exception becomes a clients.errors class in `sdk_errors`, the one
boundary. The SDK (2.x) runs on `httpx2`, a separate package from `httpx`, so its
timeouts are `httpx2.Timeout`.

The installed SDK (anthropic 2.17) sends an `api_key` as `Authorization: Bearer`,
while Anthropic documents API keys in the `x-api-key` header. Each request therefore
carries the key from the secrets chain in `x-api-key` and omits `Authorization`.

Usage and cost reports need the organisation admin key (ANTHROPIC_ADMIN_KEY); the
SDK has no typed method for them, so they go through its generic `get`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import anthropic
import httpx2
from anthropic.types import Message

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
from clients.http import SENSITIVE_HEADERS
from clients.pipeline import CallResult, Mode, Pipeline, Reply
from clients.registry.spec import VendorSpec

VENDOR = "anthropic"
ADMIN_SECRET = "ANTHROPIC_ADMIN_KEY"

# Small fixed inputs for probes: the cheapest current model and a one-line prompt.
PROBE_MODEL = "claude-haiku-4-5"
PROBE_PROMPT = "Reply with the word ok."
PROBE_MAX_TOKENS = 16

# Cache writes and reads are billed as multiples of the model's input price
# (Anthropic pricing page: 5-minute write 1.25x, 1-hour write 2x, read 0.1x).
CACHE_WRITE_5M_FACTOR = 1.25
CACHE_WRITE_1H_FACTOR = 2.0
CACHE_READ_FACTOR = 0.1

# A spend cap arrives as a 429 with this code; waiting does not lift it.
SPEND_LIMIT_CODE = "enforced_spend_limit_reached"

T = TypeVar("T")


@dataclass(frozen=True)
class TokenUsage:
    input_tokens: int
    output_tokens: int
    cache_creation_5m_tokens: int = 0
    cache_creation_1h_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def total(self) -> int:
        return (self.input_tokens + self.output_tokens + self.cache_creation_5m_tokens
                + self.cache_creation_1h_tokens + self.cache_read_tokens)


@dataclass(frozen=True)
class ClaudeMessage:
    id: str
    model: str
    text: str
    stop_reason: str | None
    usage: TokenUsage
    cost_usd: float


@dataclass(frozen=True)
class CostReport:
    """Cost report buckets summed: Anthropic gives amounts in cents as decimal strings."""

    total_usd: float
    by_model_usd: dict[str, float]
    buckets: list[dict[str, object]]


def price_for(prices: Mapping[str, tuple[float, float]], model: str) -> tuple[float, float] | None:
    """Return (input, output) USD per million tokens for the longest prefix of `model`."""
    matches = [prefix for prefix in prices if model.startswith(prefix)]
    if not matches:
        return None
    return prices[max(matches, key=len)]


def token_cost_usd(price: tuple[float, float], usage: TokenUsage) -> float:
    """Return the USD cost of one response's usage at a (input, output) per-million price."""
    input_price, output_price = price
    input_equivalent = (
        usage.input_tokens
        + usage.cache_creation_5m_tokens * CACHE_WRITE_5M_FACTOR
        + usage.cache_creation_1h_tokens * CACHE_WRITE_1H_FACTOR
        + usage.cache_read_tokens * CACHE_READ_FACTOR
    )
    return (input_equivalent * input_price + usage.output_tokens * output_price) / 1_000_000


def usage_of(message: Message) -> TokenUsage:
    usage = message.usage
    cache_creation = usage.cache_creation_input_tokens or 0
    one_hour = 0
    breakdown = getattr(usage, "cache_creation", None)
    if breakdown is not None:
        one_hour = int(getattr(breakdown, "ephemeral_1h_input_tokens", 0) or 0)
    return TokenUsage(
        input_tokens=int(usage.input_tokens),
        output_tokens=int(usage.output_tokens),
        cache_creation_5m_tokens=max(cache_creation - one_hour, 0),
        cache_creation_1h_tokens=one_hour,
        cache_read_tokens=int(usage.cache_read_input_tokens or 0),
    )


def classify_status_error(exc: anthropic.APIStatusError, operation: str) -> VendorError:
    """Return the taxonomy class for an HTTP error status the SDK raised."""
    status = exc.status_code
    message = exc.api_message or exc.response.reason_phrase or f"HTTP {status}"
    context: dict[str, object] = {"vendor": VENDOR, "operation": operation,
                                  "status_code": status, "request_id": exc.request_id}
    if status == 429:
        if exc.error_code == SPEND_LIMIT_CODE:
            return OutOfCredits(f"monthly spend limit reached: {message}", **context)
        return RateLimited(message, retry_after=parse_retry_after(exc.response.headers),
                           **context)
    if status == 402 or (status == 400 and "credit balance" in message.lower()):
        return OutOfCredits(message, **context)
    if status in (401, 403):
        return AuthFailed(message, **context)
    if status == 408:
        return VendorTimeout(message, request_sent=True, **context)
    # 5xx, including 529 overloaded_error: the API is unavailable, not our quota.
    if status >= 500:
        return VendorUnavailable(message, **context)
    return BadRequest(message, **context)


@contextmanager
def sdk_errors(operation: str) -> Iterator[None]:
    """Translate every SDK and transport exception into the taxonomy, most specific first."""
    context: dict[str, object] = {"vendor": VENDOR, "operation": operation}
    try:
        yield
    except VendorError:
        raise
    except anthropic.APIStatusError as exc:
        raise classify_status_error(exc, operation) from exc
    except anthropic.APIResponseValidationError as exc:
        raise MalformedResponse(f"response failed validation: {exc.message}", **context) from exc
    except anthropic.APITimeoutError as exc:
        # The SDK wraps httpx2's exception; a connect timeout means nothing was sent.
        sent = not isinstance(exc.__cause__, httpx2.ConnectTimeout | httpx2.PoolTimeout)
        kind = "read" if sent else "connect"
        raise VendorTimeout(f"{kind} timed out", request_sent=sent, **context) from exc
    except anthropic.APIConnectionError as exc:
        sent = not isinstance(exc.__cause__, httpx2.ConnectError)
        what = "connection dropped" if sent else "connection failed"
        raise VendorUnavailable(f"{what}: {exc.__cause__ or exc}", request_sent=sent,
                                **context) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedResponse(f"response is not JSON: {exc}", **context) from exc


class SdkHeaderRedaction(logging.Filter):
    """Masks credential headers in the SDK's DEBUG "Request options" log records.

    The SDK (anthropic 2.17, `_base_client._build_request`) logs each request's
    options, headers included, so without this filter the x-api-key this client
    passes per request would reach any DEBUG handler. Logger filters run only for
    records created on that logger, so this is attached to the SDK's own logger.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # logging stores a lone mapping argument as `record.args` itself, not in a tuple.
        options = record.args
        if isinstance(options, Mapping) and isinstance(options.get("headers"), Mapping):
            masked = dict(options)
            masked["headers"] = {
                name: (f"****{value[-4:]}" if name.lower() in SENSITIVE_HEADERS
                       and isinstance(value, str) else value)
                for name, value in options["headers"].items()
            }
            record.args = masked
        return True


_sdk_log = logging.getLogger("anthropic._base_client")
_sdk_log.addFilter(SdkHeaderRedaction())


def parse_raw(raw: anthropic.APIResponse[Any], operation: str) -> object:
    """Parse an SDK raw response, raising MalformedResponse for a body that is not JSON.

    Checked before `parse` because the SDK hands back non-JSON text as a `str`, and
    its page parser then fails with AttributeError instead of an SDK exception.
    """
    content_type = raw.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type.endswith("json"):
        # request_sent: the API returned a response, so a message may have been billed
        # and the pipeline must not send a non-idempotent request again.
        raise MalformedResponse(f"response is {content_type or 'untyped'}, not JSON",
                                vendor=VENDOR, operation=operation,
                                status_code=raw.status_code, request_id=raw.request_id,
                                request_sent=True)
    with sdk_errors(operation):
        return raw.parse()


class AnthropicClient:
    def __init__(self, pipeline: Pipeline, base_url: str) -> None:
        self.pipeline = pipeline
        self.spec: VendorSpec = pipeline.runtime(VENDOR).spec
        timeouts = self.spec.timeouts
        # The key is sent per request (see `_auth`); this placeholder only stops the
        # SDK from reading ANTHROPIC_API_KEY or a profile from disk by itself.
        self._sdk = anthropic.Anthropic(
            api_key="unset",
            base_url=base_url,
            max_retries=0,
            timeout=httpx2.Timeout(connect=timeouts.connect, read=timeouts.read,
                                   write=timeouts.read, pool=timeouts.connect),
        )

    def close(self) -> None:
        self._sdk.close()

    @staticmethod
    def _auth(key: str) -> dict[str, Any]:
        return {"x-api-key": key, "Authorization": anthropic.omit}

    def message(
        self,
        prompt: str,
        *,
        model: str = PROBE_MODEL,
        max_tokens: int = 256,
        system: str | None = None,
        mode: Mode = "interactive",
    ) -> CallResult[ClaudeMessage]:
        """Send one user message and meter its tokens into the call's cost.

        Not idempotent: Anthropic takes no idempotency key, so a request that may
        have arrived is not repeated (it would be billed twice).
        """
        operation = "message"

        def send(key: str, attempt: int) -> Reply[ClaudeMessage]:
            with sdk_errors(operation):
                extra: dict[str, object] = {"system": system} if system is not None else {}
                raw = self._sdk.messages.with_raw_response.create(
                    model=model,
                    max_tokens=max_tokens,
                    messages=[{"role": "user", "content": prompt}],
                    extra_headers=self._auth(key),
                    **extra,  # type: ignore[arg-type]
                )
            parsed = parse_raw(raw, operation)
            usage = getattr(parsed, "usage", None)
            if not isinstance(parsed, Message) \
                    or not isinstance(getattr(usage, "input_tokens", None), int) \
                    or not isinstance(getattr(usage, "output_tokens", None), int):
                raise MalformedResponse("response is not a message with usage",
                                        vendor=VENDOR, operation=operation,
                                        status_code=raw.status_code, request_id=raw.request_id,
                                        request_sent=True)
            return self._metered(parsed, raw.status_code, raw.request_id)

        return self.pipeline.call(VENDOR, operation, send, mode=mode, idempotent=False)

    def _metered(self, message: Message, status: int, request_id: str | None
                 ) -> Reply[ClaudeMessage]:
        usage = usage_of(message)
        price = price_for(self.spec.token_prices, message.model)
        extra: dict[str, object] = {
            "model": message.model,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
        }
        if price is None:
            # Recorded rather than guessed, so spend reports can flag the gap.
            extra["unpriced_model"] = message.model
            cost = 0.0
        else:
            cost = token_cost_usd(price, usage)
        text = "".join(block.text for block in message.content if block.type == "text")
        value = ClaudeMessage(message.id, message.model, text, message.stop_reason, usage, cost)
        return Reply(value, status, request_id, credits=float(usage.total), cost_usd=cost,
                     extra=extra)

    def count_tokens(self, prompt: str, *, model: str = PROBE_MODEL,
                     mode: Mode = "interactive") -> CallResult[int]:
        """Count a prompt's input tokens; Anthropic does not charge for counting."""
        operation = "count_tokens"

        def send(key: str, attempt: int) -> Reply[int]:
            with sdk_errors(operation):
                raw = self._sdk.messages.with_raw_response.count_tokens(
                    model=model, messages=[{"role": "user", "content": prompt}],
                    extra_headers=self._auth(key))
            parsed = parse_raw(raw, operation)
            tokens = getattr(parsed, "input_tokens", None)
            if not isinstance(tokens, int):
                raise MalformedResponse("response has no integer input_tokens", vendor=VENDOR,
                                        operation=operation, status_code=raw.status_code,
                                        request_id=raw.request_id)
            return Reply(tokens, raw.status_code, raw.request_id)

        return self.pipeline.call(VENDOR, operation, send, mode=mode)

    def list_models(self, *, mode: Mode = "interactive") -> CallResult[list[str]]:
        """Return the model ids the key may use (first page); free, so it is the health probe."""
        operation = "list_models"

        def send(key: str, attempt: int) -> Reply[list[str]]:
            with sdk_errors(operation):
                raw = self._sdk.models.with_raw_response.list(extra_headers=self._auth(key))
            page = parse_raw(raw, operation)
            data = getattr(page, "data", None)
            if not isinstance(data, list) or not all(isinstance(getattr(m, "id", None), str)
                                                     for m in data):
                raise MalformedResponse("response has no list of models", vendor=VENDOR,
                                        operation=operation, status_code=raw.status_code,
                                        request_id=raw.request_id)
            return Reply([model.id for model in data], raw.status_code, raw.request_id)

        return self.pipeline.call(VENDOR, operation, send, mode=mode)

    def usage_report(self, starting_at: datetime, ending_at: datetime | None = None, *,
                     bucket_width: str = "1d", mode: Mode = "interactive"
                     ) -> CallResult[list[dict[str, object]]]:
        """Return the token usage buckets between the two times (admin key)."""
        params: dict[str, object] = {"starting_at": rfc3339(starting_at),
                                     "bucket_width": bucket_width}
        if ending_at is not None:
            params["ending_at"] = rfc3339(ending_at)
        return self._admin_get("usage_report", "/v1/organizations/usage_report/messages",
                               params, mode, lambda buckets: buckets)

    def cost_report(self, starting_at: datetime, ending_at: datetime | None = None, *,
                    mode: Mode = "interactive") -> CallResult[CostReport]:
        """Return the cost between the two times in USD, summed over buckets (admin key)."""
        params: dict[str, object] = {"starting_at": rfc3339(starting_at)}
        if ending_at is not None:
            params["ending_at"] = rfc3339(ending_at)
        return self._admin_get("cost_report", "/v1/organizations/cost_report", params, mode,
                               summarise_costs)

    def _admin_get(self, operation: str, path: str, params: dict[str, object], mode: Mode,
                   convert: Callable[[list[dict[str, object]]], T]) -> CallResult[T]:
        def send(key: str, attempt: int) -> Reply[T]:
            with sdk_errors(operation):
                response = self._sdk.get(path, cast_to=httpx2.Response,
                                         options={"params": params, "headers": self._auth(key)})
                body = response.json()
            request_id = response.headers.get("request-id")
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list) or not all(isinstance(b, dict) for b in data):
                raise MalformedResponse("response has no list of buckets in data", vendor=VENDOR,
                                        operation=operation, status_code=response.status_code,
                                        request_id=request_id)
            # NOTE: only the first page is read; a range longer than `limit` buckets
            # (7 by default) would need the next_page cursor.
            # Converted inside `send` so that a malformed item fails this call.
            return Reply(convert(data), response.status_code, request_id)

        return self.pipeline.call(VENDOR, operation, send, mode=mode, secret_name=ADMIN_SECRET)

    def run_probe(self, operation: str, mode: Mode = "interactive") -> CallResult[Any]:
        """Run one registry probe by operation name with small fixed inputs."""
        day_ago = datetime.now(UTC) - timedelta(days=1)
        probes: dict[str, Callable[[], CallResult[Any]]] = {
            "list_models": lambda: self.list_models(mode=mode),
            "count_tokens": lambda: self.count_tokens(PROBE_PROMPT, mode=mode),
            "message": lambda: self.message(PROBE_PROMPT, max_tokens=PROBE_MAX_TOKENS, mode=mode),
            "usage_report": lambda: self.usage_report(day_ago, mode=mode),
            "cost_report": lambda: self.cost_report(day_ago, mode=mode),
        }
        known = [probe.operation for probe in self.spec.probes]
        if operation not in known or operation not in probes:
            raise ValueError(f"unknown Anthropic probe {operation!r}; choose one of: "
                             f"{', '.join(known)}")
        return probes[operation]()


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"time {moment!r} has no time zone; pass an aware datetime in UTC")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def summarise_costs(buckets: list[dict[str, object]]) -> CostReport:
    """Sum cost report results, converting cents (decimal strings) to USD."""
    total_cents = 0.0
    by_model: dict[str, float] = {}
    for bucket in buckets:
        results = bucket.get("results")
        if not isinstance(results, list):
            raise MalformedResponse("cost report bucket has no results list", vendor=VENDOR,
                                    operation="cost_report")
        for item in results:
            try:
                cents = float(item["amount"])
            except (KeyError, TypeError, ValueError) as exc:
                raise MalformedResponse(f"cost report item has no numeric amount: {exc}",
                                        vendor=VENDOR, operation="cost_report") from exc
            total_cents += cents
            model = str(item.get("model") or "other")
            by_model[model] = by_model.get(model, 0.0) + cents / 100
    return CostReport(total_cents / 100, by_model, buckets)
