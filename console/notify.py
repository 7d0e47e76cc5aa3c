"""Alert notifications to a Slack-compatible webhook (`ROLEFERRY_ALERT_WEBHOOK_URL`).

The body is `{"text": ...}`, which Slack incoming webhooks and most chat tools
accept. Each message gets a short timeout, a few retries (tenacity) and its own
circuit breaker, stored like the vendors' so every process sees it; a dead
webhook then costs one fast refusal per alert instead of a timeout per retry.
It does not go through the vendor pipeline, which only knows registry vendors.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from clients.breaker import VendorBreaker
from clients.errors import BadRequest, VendorError, VendorUnavailable
from clients.registry.spec import BreakerPolicy
from console.breaker_storage import StoreBreakerStorage, record_transition
from console.store import Store

log = logging.getLogger(__name__)

WEBHOOK_URL_ENV = "ROLEFERRY_ALERT_WEBHOOK_URL"
WEBHOOK_BREAKER = "alert-webhook"
TIMEOUT_SECONDS = 3.0
ATTEMPTS = 3
BREAKER_POLICY = BreakerPolicy(fail_max=3, reset_timeout=120.0)


class WebhookNotifier:
    """A webhook target: `send` posts `{"text": ...}` and returns webhook failures as an outcome."""

    def __init__(self, url: str, breaker: VendorBreaker, *, timeout: float = TIMEOUT_SECONDS,
                 attempts: int = ATTEMPTS, sleep: Callable[[float], None] = time.sleep) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{WEBHOOK_URL_ENV} {url!r} is not an http(s) URL")
        self.url = url
        self.breaker = breaker
        self.timeout = timeout
        self.attempts = attempts
        self._sleep = sleep

    def send(self, text: str) -> str:
        """Post one message; return "sent" or "failed: <reason>"."""
        retrying = Retrying(
            retry=retry_if_exception_type(VendorUnavailable),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.5, max=4.0),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            retrying(self._attempt, text)
        except VendorError as exc:
            log.error("alert webhook failed after retries: %s", exc.message)
            return f"failed: {exc.message}"
        return "sent"

    def _attempt(self, text: str) -> None:
        # Raises CircuitOpen, which is not retried, while the webhook's breaker is open.
        self.breaker.before_request("notify")
        try:
            response = httpx.post(self.url, json={"text": text}, timeout=self.timeout)
        except httpx.HTTPError as exc:
            error = VendorUnavailable(f"webhook request failed: {type(exc).__name__}",
                                      vendor=WEBHOOK_BREAKER, operation="notify")
            self.breaker.record_failure(error)
            raise error from exc
        if response.status_code >= 500 or response.status_code == 429:
            error = VendorUnavailable(f"webhook returned HTTP {response.status_code}",
                                      vendor=WEBHOOK_BREAKER, operation="notify",
                                      status_code=response.status_code)
            self.breaker.record_failure(error)
            raise error
        if response.status_code >= 400:
            # A 4xx means our URL or body is wrong; retrying cannot fix it.
            self.breaker.record_success()
            raise BadRequest(f"webhook rejected the message with HTTP {response.status_code}",
                             vendor=WEBHOOK_BREAKER, operation="notify", status_code=response.status_code)
        self.breaker.record_success()


def webhook_breaker(store: Store) -> VendorBreaker:
    return VendorBreaker(
        WEBHOOK_BREAKER, BREAKER_POLICY, storage=StoreBreakerStorage(store, WEBHOOK_BREAKER),
        on_transition=lambda name, old, new, cause: record_transition(store, name, old, new, cause),
    )


def notifier_from_env(store: Store, sleep: Callable[[float], None] = time.sleep) -> WebhookNotifier | None:
    """Build the configured notifier, or return None when `ROLEFERRY_ALERT_WEBHOOK_URL` is unset."""
    url = (os.environ.get(WEBHOOK_URL_ENV) or "").strip()
    if not url:
        return None
    return WebhookNotifier(url, webhook_breaker(store), sleep=sleep)

