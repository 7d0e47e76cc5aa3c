"""Stripe client: balance, balance transactions (fees), customers and subscriptions.

Uses the official `stripe` SDK (`stripe.StripeClient`) over its httpx transport,
pointed at the configured base URL, with the SDK's own retries off so that only
the pipeline retries. Every write carries an Idempotency-Key generated once per
logical operation and reused on every attempt, so Stripe replays the first
result instead of creating a second customer or charging twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import stripe

from clients.backoff import parse_retry_after
from clients.errors import (
    AuthFailed,
    BadRequest,
    MalformedResponse,
    RateLimited,
    VendorError,
    VendorTimeout,
    VendorUnavailable,
)
from clients.pipeline import CallResult, Mode, Pipeline, Reply
from clients.recording import CallRecord
from clients.registry.stripe import card_fee_usd
from clients.secrets import mask

VENDOR = "stripe"
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")
MAX_PAGE_SIZE = 100
PROBE_CUSTOMER_EMAIL = "integrations-probe@roleferry.com"


@dataclass(frozen=True)
class StripeBalance:
    """Amounts in the smallest currency unit (cents for USD), by currency."""

    available: dict[str, int]
    pending: dict[str, int]
    livemode: bool


@dataclass(frozen=True)
class BalanceTransaction:
    """One entry of the balance history; amounts in the smallest currency unit."""

    id: str
    type: str
    amount: int
    fee: int
    net: int
    currency: str
    created: int


@dataclass(frozen=True)
class TransactionPage:
    transactions: list[BalanceTransaction]
    has_more: bool


@dataclass
class FeeReport:
    """Every balance transaction from the pages read, with Stripe's fees summed in USD."""

    transactions: list[BalanceTransaction]
    fee_usd: float
    pages: int
    # True when `max_pages` stopped the listing before Stripe's last page.
    truncated: bool
    records: list[CallRecord] = field(default_factory=list)


@dataclass(frozen=True)
class StripeCustomer:
    id: str
    email: str | None
    # True when Stripe returned the stored result of an earlier attempt with the same key.
    replayed: bool


@dataclass(frozen=True)
class StripeSubscription:
    id: str
    customer: str
    status: str
    # Amount the first invoice charged, in the smallest currency unit.
    amount_paid: int
    currency: str
    replayed: bool


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def _transport_error(exc: stripe.APIConnectionError, context: dict[str, Any]) -> VendorError:
    """Classify the httpx exception the SDK wrapped, by whether the request went out."""
    cause = exc.__cause__
    name = type(cause).__name__
    if isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout):
        return VendorTimeout(f"connect timed out ({name})", request_sent=False, **context)
    if isinstance(cause, httpx.TimeoutException):
        return VendorTimeout(f"read timed out ({name})", request_sent=True, **context)
    if isinstance(cause, httpx.ConnectError):
        return VendorUnavailable(f"connection failed ({name})", request_sent=False, **context)
    # A dropped connection, or a cause the SDK did not record: either way the
    # request may have arrived.
    return VendorUnavailable(f"connection dropped ({name})", request_sent=True, **context)


def _api_error(exc: stripe.APIError, message: str, context: dict[str, Any]) -> VendorError:
    status = exc.http_status
    if status is None or status < 400:
        # The SDK raises APIError for a 2xx body that is not JSON: Stripe may have
        # acted on the request, so only an idempotent call may repeat it.
        return MalformedResponse(message, request_sent=True, **context)
    if status == 409:
        # A request with the same Idempotency-Key is still running at Stripe; a
        # retry after it finishes gets its stored result.
        return RateLimited(message, retry_after=None, **context)
    if status == 429:
        return RateLimited(message, retry_after=parse_retry_after(exc.headers or {}), **context)
    if status >= 500:
        return VendorUnavailable(message, **context)
    return BadRequest(message, **context)


@contextmanager
def sdk_errors(operation: str, key: str) -> Iterator[None]:
    """Translate stripe-python exceptions into the taxonomy, most specific first.

    Messages never carry the key: Stripe echoes only a masked key, and any copy
    of the key in a message is masked here as well.
    """
    try:
        yield
    except VendorError:
        raise
    except stripe.StripeError as exc:
        message = str(exc.user_message or exc).replace(key, mask(key))[:300]
        context: dict[str, Any] = {"vendor": VENDOR, "operation": operation,
                                   "status_code": exc.http_status, "request_id": exc.request_id}
        if isinstance(exc, stripe.IdempotencyError):
            # The key was reused with different parameters: a bug in our code.
            raise BadRequest(message, **context) from exc
        if isinstance(exc, stripe.RateLimitError):
            raise RateLimited(message, retry_after=parse_retry_after(exc.headers or {}),
                              **context) from exc
        if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
            raise AuthFailed(message, **context) from exc
        if isinstance(exc, stripe.CardError):
            # A declined card is the customer's problem, not an exhausted vendor.
            raise BadRequest(message, **context) from exc
        if isinstance(exc, stripe.InvalidRequestError):
            raise BadRequest(message, **context) from exc
        if isinstance(exc, stripe.APIConnectionError):
            raise _transport_error(exc, context) from exc
        if isinstance(exc, stripe.APIError):
            raise _api_error(exc, message, context) from exc
        status = exc.http_status or 0
        if 400 <= status < 500:
            raise BadRequest(message, **context) from exc
        raise VendorUnavailable(message, **context) from exc


def _replayed(obj: stripe.StripeObject) -> bool:
    response = obj.last_response
    return response is not None and response.headers.get("idempotent-replayed") == "true"


def _request_id(obj: stripe.StripeObject) -> str | None:
    response = obj.last_response
    return response.request_id if response is not None else None


def _status(obj: stripe.StripeObject) -> int | None:
    response = obj.last_response
    return response.code if response is not None else None


def _require(body: dict[str, Any], name: str, kind: type, operation: str) -> Any:
    value = body.get(name)
    if not isinstance(value, kind):
        raise MalformedResponse(f"response field {name!r} is missing or not a {kind.__name__}",
                                vendor=VENDOR, operation=operation, request_sent=True)
    return value


class StripeClient:
    def __init__(self, pipeline: Pipeline, base_url: str) -> None:
        self.pipeline = pipeline
        self.spec = pipeline.runtime(VENDOR).spec
        self.base_url = base_url.rstrip("/")
        # Only Stripe's own API serves live data. Anywhere else (the sandbox, a
        # local mock) a live key is a misconfiguration and is rejected unsent.
        self.accepts_live_keys = self.base_url == self.spec.base_url.rstrip("/")
        timeouts = self.spec.timeouts
        self._http = stripe.HTTPXClient(
            timeout=httpx.Timeout(connect=timeouts.connect, read=timeouts.read,
                                  write=timeouts.read, pool=timeouts.connect),
            allow_sync_methods=True,
        )
        # The key is passed per request (RequestOptions api_key), so the SDK
        # client stores none, and max_network_retries=0 leaves retries to the pipeline.
        self._sdk = stripe.StripeClient(
            "",
            base_addresses={"api": self.base_url},
            max_network_retries=0,
            http_client=self._http,
        )

    def close(self) -> None:
        self._http.close()

    def _options(self, key: str, operation: str,
                 idempotency_key: str | None = None) -> stripe.RequestOptions:
        if not self.accepts_live_keys and key.startswith(LIVE_KEY_PREFIXES):
            raise AuthFailed(
                f"STRIPE_SECRET_KEY is a live key, and {self.base_url} is not Stripe's live "
                "API; set a test key (sk_test_...) for the sandbox",
                vendor=VENDOR, operation=operation,
            )
        options: stripe.RequestOptions = {"api_key": key, "max_network_retries": 0}
        if idempotency_key is not None:
            options["idempotency_key"] = idempotency_key
        return options

    def balance(self, *, mode: Mode = "interactive") -> CallResult[StripeBalance]:
        """GET /v1/balance: available and pending amounts; costs nothing."""

        def send(key: str, attempt: int) -> Reply[StripeBalance]:
            options = self._options(key, "balance")
            with sdk_errors("balance", key):
                balance = self._sdk.v1.balance.retrieve(options=options)
            body = balance.to_dict()
            available = _require(body, "available", list, "balance")
            pending = _require(body, "pending", list, "balance")
            try:
                result = StripeBalance(
                    available={str(a["currency"]): int(a["amount"]) for a in available},
                    pending={str(p["currency"]): int(p["amount"]) for p in pending},
                    livemode=bool(body.get("livemode")),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise MalformedResponse(f"balance amount without {exc}", vendor=VENDOR,
                                        operation="balance") from exc
            return Reply(result, _status(balance), _request_id(balance))

        return self.pipeline.call(VENDOR, "balance", send, mode=mode)

    def balance_transactions_page(
        self, *, starting_after: str | None = None, limit: int = MAX_PAGE_SIZE,
        created_gte: int | None = None, mode: Mode = "interactive",
    ) -> CallResult[TransactionPage]:
        """GET /v1/balance_transactions: one page, newest first, after `starting_after`."""
        params: dict[str, Any] = {"limit": min(max(limit, 1), MAX_PAGE_SIZE)}
        if starting_after is not None:
            params["starting_after"] = starting_after
        if created_gte is not None:
            params["created"] = {"gte": created_gte}

        def send(key: str, attempt: int) -> Reply[TransactionPage]:
            options = self._options(key, "balance_transactions")
            with sdk_errors("balance_transactions", key):
                page = self._sdk.v1.balance_transactions.list(params=params, options=options)
            body = page.to_dict()
            data = _require(body, "data", list, "balance_transactions")
            has_more = _require(body, "has_more", bool, "balance_transactions")
            transactions = [self._transaction(raw) for raw in data]
            return Reply(TransactionPage(transactions, has_more), _status(page), _request_id(page))

        return self.pipeline.call(VENDOR, "balance_transactions", send, mode=mode)

    def _transaction(self, raw: Any) -> BalanceTransaction:
        try:
            return BalanceTransaction(
                id=str(raw["id"]), type=str(raw["type"]), amount=int(raw["amount"]),
                fee=int(raw["fee"]), net=int(raw["net"]), currency=str(raw["currency"]),
                created=int(raw["created"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedResponse(f"balance transaction without {exc}", vendor=VENDOR,
                                    operation="balance_transactions") from exc

    def balance_transactions(
        self, *, created_gte: int | None = None, page_size: int = MAX_PAGE_SIZE,
        max_pages: int = 50, mode: Mode = "interactive",
    ) -> FeeReport:
        """Read every page with `starting_after` and sum Stripe's fees (USD only).

        Each page is its own pipeline call, so a failure repeats one page, not
        the whole listing. Stops after `max_pages` pages and sets `truncated`.
        """
        report = FeeReport([], 0.0, 0, False)
        cursor: str | None = None
        while report.pages < max_pages:
            result = self.balance_transactions_page(
                starting_after=cursor, limit=page_size, created_gte=created_gte, mode=mode)
            report.records.append(result.record)
            report.pages += 1
            page = result.value
            report.transactions.extend(page.transactions)
            if not page.has_more or not page.transactions:
                return self._sum_fees(report)
            cursor = page.transactions[-1].id
        report.truncated = True
        return self._sum_fees(report)

    @staticmethod
    def _sum_fees(report: FeeReport) -> FeeReport:
        cents = sum(t.fee for t in report.transactions if t.currency == "usd")
        report.fee_usd = round(cents / 100.0, 2)
        return report

    def create_customer(
        self, email: str, *, name: str | None = None, description: str | None = None,
        metadata: dict[str, str] | None = None, idempotency_key: str | None = None,
        mode: Mode = "interactive",
    ) -> CallResult[StripeCustomer]:
        """POST /v1/customers with one Idempotency-Key for every attempt."""
        key_for_operation = idempotency_key or new_idempotency_key()
        params: dict[str, Any] = {"email": email}
        if name is not None:
            params["name"] = name
        if description is not None:
            params["description"] = description
        if metadata:
            params["metadata"] = dict(metadata)

        def send(key: str, attempt: int) -> Reply[StripeCustomer]:
            options = self._options(key, "create_customer", key_for_operation)
            with sdk_errors("create_customer", key):
                customer = self._sdk.v1.customers.create(params=params, options=options)
            body = customer.to_dict()
            customer_id = _require(body, "id", str, "create_customer")
            replayed = _replayed(customer)
            result = StripeCustomer(customer_id, body.get("email"), replayed)
            return Reply(result, _status(customer), _request_id(customer),
                         extra={"idempotency_key": key_for_operation, "replayed": replayed})

        # Safe to retry, because every attempt sends the same Idempotency-Key.
        return self.pipeline.call(VENDOR, "create_customer", send, mode=mode, idempotent=True)

    def create_subscription(
        self, customer_id: str, price_id: str, *, quantity: int = 1,
        idempotency_key: str | None = None, mode: Mode = "interactive",
    ) -> CallResult[StripeSubscription]:
        """POST /v1/subscriptions; the first invoice's card fee is metered as cost."""
        key_for_operation = idempotency_key or new_idempotency_key()
        params: dict[str, Any] = {
            "customer": customer_id,
            "items": [{"price": price_id, "quantity": quantity}],
            "expand": ["latest_invoice"],
        }

        def send(key: str, attempt: int) -> Reply[StripeSubscription]:
            options = self._options(key, "create_subscription", key_for_operation)
            with sdk_errors("create_subscription", key):
                subscription = self._sdk.v1.subscriptions.create(params=params, options=options)
            body = subscription.to_dict()
            subscription_id = _require(body, "id", str, "create_subscription")
            invoice = body.get("latest_invoice")
            # Expanded on request; an unexpanded invoice id means nothing is known to be paid.
            amount_paid = int(invoice.get("amount_paid") or 0) if isinstance(invoice, dict) else 0
            currency = str(body.get("currency") or "usd")
            replayed = _replayed(subscription)
            result = StripeSubscription(subscription_id, customer_id, str(body.get("status")),
                                        amount_paid, currency, replayed)
            # Stripe's fee on the first charge, from the registry's pricing. A
            # replay is metered too: within this call the first response was lost.
            charged = amount_paid > 0 and currency == "usd"
            cost = card_fee_usd(amount_paid / 100.0) if charged else 0.0
            credits = 1.0 if charged else 0.0
            return Reply(result, _status(subscription), _request_id(subscription), credits, cost,
                         extra={"idempotency_key": key_for_operation, "replayed": replayed,
                                "amount_paid": amount_paid})

        return self.pipeline.call(VENDOR, "create_subscription", send, mode=mode,
                                  idempotent=True)

    def run_probe(self, operation: str, mode: Mode = "interactive") -> CallResult[Any]:
        """Run the registry probe named `operation` with small fixed inputs."""
        known = [probe.operation for probe in self.spec.probes]
        if operation not in known:
            raise ValueError(f"unknown Stripe probe {operation!r}; choose one of: "
                             f"{', '.join(known)}")
        if operation == "balance":
            return self.balance(mode=mode)
        if operation == "balance_transactions":
            return self.balance_transactions_page(limit=10, mode=mode)
        if operation == "create_customer":
            return self.create_customer(PROBE_CUSTOMER_EMAIL,
                                        description="RoleFerry integrations console probe",
                                        metadata={"source": "console-probe"}, mode=mode)
        raise NotImplementedError(f"Stripe probe {operation!r} is in the registry but has "
                                  "no inputs in StripeClient.run_probe")
