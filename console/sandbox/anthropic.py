"""Anthropic in its wire format: Messages, count_tokens, models and the Admin reports.

Replies are deterministic: a message's token counts are word counts of its input
and reply, so a test can work out the metered cost by hand.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

from clients.registry.anthropic import ANTHROPIC_TOKEN_PRICES
from console.sandbox.base import SandboxRequest, SandboxResponse, SandboxVendor

# The reply's text starts with these words, then repeats the prompt's first words.
REPLY_PREFIX = "Sandbox reply to:"
REPLY_ECHO_WORDS = 8

# The catalogue GET /v1/models lists, newest first as Anthropic lists them.
MODELS = (
    ("claude-opus-4-5", "Claude Opus 4.5", "2025-11-24T00:00:00Z"),
    ("claude-sonnet-4-5", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
    ("claude-3-5-haiku-latest", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"),
)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}

# Sandbox token limits per minute shown in the anthropic-ratelimit-* headers.
TOKENS_PER_MINUTE = 400_000


def words_of(content: object) -> list[str]:
    """Return the words of a message content: a string or a list of text blocks."""
    if isinstance(content, str):
        return content.split()
    if isinstance(content, list):
        words: list[str] = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                words.extend(str(block.get("text") or "").split())
        return words
    raise ValueError("message content must be a string or a list of blocks")


def count_input_tokens(body: dict[str, object]) -> int:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages: at least one message is required")
    words = words_of(body.get("system") or "")
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise ValueError("messages: each message needs role user or assistant")
        words.extend(words_of(message.get("content")))
    return len(words)


class AnthropicSandbox(SandboxVendor):
    name = "anthropic"
    prefix = "/anthropic"

    def __init__(self, limit: int, window: float) -> None:
        super().__init__(limit, window)
        self._ids = itertools.count(1)
        # Tokens served per (model, token type), the source of the usage and cost reports.
        self.tokens: Counter[tuple[str, str]] = Counter()
        # Cost of usage outside this console (another workspace's keys), set through
        # /_admin/usage and reported as one more cost report item, in cents.
        self.external_cents = 0.0

    def authenticate(self, request: SandboxRequest) -> bool:
        return bool(request.header("x-api-key"))

    def next_id(self, prefix: str) -> str:
        return f"{prefix}sbx{next(self._ids):06d}"

    def error(self, status: int, message: str) -> SandboxResponse:
        if status == 402:
            # Anthropic reports a used-up credit balance as a 400 invalid_request_error.
            status, message = 400, "credit balance is too low for this request; add credits " \
                "under Plans & Billing"
        if status == 529:
            message = "Overloaded"
        request_id = self.next_id("req_")
        body = {"type": "error",
                "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
                "request_id": request_id}
        return SandboxResponse(status, body, headers={"request-id": request_id})

    def rate_headers(self, remaining: int, reset_in: float) -> dict[str, str]:
        reset = (datetime.now(UTC) + timedelta(seconds=reset_in)).isoformat(timespec="seconds")
        reset = reset.replace("+00:00", "Z")
        headers: dict[str, str] = {
            "anthropic-ratelimit-requests-limit": str(self.window.limit),
            "anthropic-ratelimit-requests-remaining": str(remaining),
            "anthropic-ratelimit-requests-reset": reset,
        }
        for kind in ("tokens", "input-tokens", "output-tokens"):
            headers[f"anthropic-ratelimit-{kind}-limit"] = str(TOKENS_PER_MINUTE)
            headers[f"anthropic-ratelimit-{kind}-remaining"] = str(TOKENS_PER_MINUTE)
            headers[f"anthropic-ratelimit-{kind}-reset"] = reset
        return headers

    def route(self, request: SandboxRequest) -> SandboxResponse:
        if not request.header("anthropic-version"):
            return self.error(400, "anthropic-version: header is required")
        if request.method == "POST" and request.path == "/v1/messages":
            return self._reply(self._message(request))
        if request.method == "POST" and request.path == "/v1/messages/count_tokens":
            body = request.json()
            try:
                self._check_model(body)
            except KeyError:
                return self.error(404, f"model: {body.get('model')}")
            return self._reply(SandboxResponse(200, {"input_tokens": count_input_tokens(body)}))
        if request.method == "GET" and request.path == "/v1/models":
            return self._reply(self._models())
        if request.method == "GET" and request.path.startswith("/v1/organizations/"):
            # Real admin keys start with sk-ant-admin; sandbox admin keys are named
            # after ANTHROPIC_ADMIN_KEY. Either way the word "admin" is in them.
            if "admin" not in (request.header("x-api-key") or ""):
                return self.error(403, "this endpoint requires an admin API key")
            if request.path == "/v1/organizations/usage_report/messages":
                return self._reply(self._report(request, cost=False))
            if request.path == "/v1/organizations/cost_report":
                return self._reply(self._report(request, cost=True))
        return self.error(404, f"no route {request.method} {request.path}")

    def _reply(self, response: SandboxResponse) -> SandboxResponse:
        if "request-id" not in response.headers:
            response.headers["request-id"] = self.next_id("req_")
        return response

    def _check_model(self, body: dict[str, object]) -> str:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ValueError("model: field required")
        if not model.startswith("claude-"):
            raise KeyError(f"model: {model}")
        return model

    def _message(self, request: SandboxRequest) -> SandboxResponse:
        body = request.json()
        try:
            model = self._check_model(body)
        except KeyError:
            return self.error(404, f"model: {body.get('model')}")
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            return self.error(400, "max_tokens: must be a positive integer")

        input_tokens = count_input_tokens(body)
        last = body["messages"][-1]
        echo = words_of(last.get("content"))[:REPLY_ECHO_WORDS]
        reply_words = [*REPLY_PREFIX.split(), *echo]
        stop_reason = "end_turn"
        if len(reply_words) > max_tokens:
            reply_words = reply_words[:max_tokens]
            stop_reason = "max_tokens"
        output_tokens = len(reply_words)

        with self.lock:
            self.tokens[(model, "uncached_input_tokens")] += input_tokens
            self.tokens[(model, "output_tokens")] += output_tokens
        self.charge(model, input_tokens + output_tokens)
        return SandboxResponse(200, {
            "id": self.next_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": " ".join(reply_words)}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                      "service_tier": "standard"},
        })

    def _models(self) -> SandboxResponse:
        data = [{"type": "model", "id": model_id, "display_name": name, "created_at": created}
                for model_id, name, created in MODELS]
        return SandboxResponse(200, {"data": data, "has_more": False,
                                     "first_id": data[0]["id"], "last_id": data[-1]["id"]})

    def _report(self, request: SandboxRequest, *, cost: bool) -> SandboxResponse:
        starting_at = request.first("starting_at")
        if not starting_at:
            return self.error(400, "starting_at: query parameter is required")
        try:
            start = datetime.fromisoformat(starting_at.replace("Z", "+00:00"))
        except ValueError:
            return self.error(400, f"starting_at: {starting_at!r} is not an RFC 3339 time")
        end = start + timedelta(days=1)
        with self.lock:
            tokens = dict(self.tokens)
        results: list[dict[str, object]] = []
        models = sorted({model for model, _ in tokens})
        for model in models:
            uncached = tokens.get((model, "uncached_input_tokens"), 0)
            output = tokens.get((model, "output_tokens"), 0)
            if not cost:
                results.append({
                    "model": model, "uncached_input_tokens": uncached,
                    "cache_read_input_tokens": 0,
                    "cache_creation": {"ephemeral_5m_input_tokens": 0,
                                       "ephemeral_1h_input_tokens": 0},
                    "output_tokens": output, "server_tool_use": {"web_search_requests": 0},
                    "api_key_id": None, "workspace_id": None, "service_tier": "standard",
                    "context_window": "0-200k",
                })
                continue
            input_price, output_price = price_of(model)
            for token_type, count, price in (("uncached_input_tokens", uncached, input_price),
                                             ("output_tokens", output, output_price)):
                # The cost report gives amounts in cents as a decimal string.
                cents = count * price / 1_000_000 * 100
                results.append({
                    "currency": "USD", "amount": f"{cents:.6f}", "cost_type": "tokens",
                    "description": f"{model} {token_type}", "model": model,
                    "token_type": token_type, "service_tier": "standard",
                    "context_window": "0-200k", "workspace_id": None,
                })
        with self.lock:
            external_cents = self.external_cents
        if cost and external_cents:
            results.append({
                "currency": "USD", "amount": f"{external_cents:.6f}", "cost_type": "tokens",
                "description": "usage outside this console", "model": None,
                "token_type": None, "service_tier": "standard", "context_window": "0-200k",
                "workspace_id": "wrkspc_sandbox_other",
            })
        bucket = {"starting_at": start.isoformat().replace("+00:00", "Z"),
                  "ending_at": end.isoformat().replace("+00:00", "Z"), "results": results}
        return SandboxResponse(200, {"data": [bucket], "has_more": False, "next_page": None})

    def token_cents(self) -> float:
        """Return the cost of the tokens served so far, in cents, as the cost report prices them."""
        with self.lock:
            tokens = dict(self.tokens)
        cents = 0.0
        for (model, token_type), count in tokens.items():
            input_price, output_price = price_of(model)
            price = output_price if token_type == "output_tokens" else input_price
            cents += count * price / 1_000_000 * 100
        return cents

    def set_cost_usd(self, usd: float) -> None:
        """Set the cost the report shows; what the served tokens do not explain is usage elsewhere."""
        served = self.token_cents()
        if usd * 100 < served:
            raise ValueError(f"cost_usd {usd!r} is below the {served / 100:.2f} USD of tokens "
                             "already served")
        with self.lock:
            self.external_cents = usd * 100 - served

    def stats(self) -> dict[str, object]:
        data = super().stats()
        with self.lock:
            data["tokens"] = {f"{model} {kind}": n for (model, kind), n in self.tokens.items()}
        return data

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.tokens.clear()
            self.external_cents = 0.0


def price_of(model: str) -> tuple[float, float]:
    """Return the (input, output) USD price per million tokens, by longest matching prefix."""
    matches = [prefix for prefix in ANTHROPIC_TOKEN_PRICES if model.startswith(prefix)]
    if not matches:
        return (0.0, 0.0)
    return ANTHROPIC_TOKEN_PRICES[max(matches, key=len)]
