"""Stripe v1 in its wire format: form bodies, list objects, Idempotency-Key replay.

Only test-mode secret keys are accepted (`sk_test_`, or restricted `rk_test_`),
by Bearer or HTTP Basic auth. Live keys get 401, because the sandbox plays
Stripe's test environment and a live key here is a misconfiguration.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from console.sandbox.base import SandboxRequest, SandboxResponse, SandboxVendor

# Prices a sandbox subscription may use, in cents per month.
PRICES = {"price_sandbox_starter": 4900, "price_sandbox_team": 19900}
SEEDED_CHARGES = 25
SEEDED_CHARGE_CENTS = 4900
DEFAULT_LIST_LIMIT = 10
MAX_LIST_LIMIT = 100
# Fixed so that seeded objects have the same ids and times in every run.
EPOCH = 1_764_547_200  # 2025-12-01T00:00:00Z
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
               402: "card_error", 403: "invalid_request_error", 404: "invalid_request_error",
               409: "idempotency_error", 429: "invalid_request_error"}
ERROR_CODES = {402: "card_declined", 404: "resource_missing", 429: "rate_limit"}
INDEX = re.compile(r"\[([^\]]*)\]")


def fee_cents(amount: int) -> int:
    """Stripe's standard card fee, 2.9 % + 30 cents, rounded to the cent."""
    return round(amount * 0.029) + 30


def decode_form(body: bytes) -> dict[str, object]:
    """Decode a Stripe form body (`items[0][price]=x`, `expand[]=y`) into nested values."""
    result: dict[str, object] = {}
    for name, value in parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False):
        head = name.split("[", 1)[0]
        path = [head, *INDEX.findall(name[len(head):])]
        target: dict[str, object] = result
        for part in path[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = {}
                target[part] = child
            target = child
        last = path[-1]
        if last == "":
            # `expand[]=a&expand[]=b` numbers its items by arrival.
            last = str(len(target))
        target[last] = value
    return result


@dataclass
class StoredResponse:
    """The first response to an Idempotency-Key, replayed for every repeat."""

    method: str
    path: str
    params: dict[str, object]
    response: SandboxResponse


class StripeSandbox(SandboxVendor):
    name = "stripe"
    prefix = "/stripe"

    def __init__(self, limit: int, window: float) -> None:
        super().__init__(limit, window)
        self._ids = itertools.count(1)
        self.customers: dict[str, dict[str, object]] = {}
        self.subscriptions: dict[str, dict[str, object]] = {}
        self.transactions: list[dict[str, Any]] = []
        self.idempotency: dict[str, StoredResponse] = {}
        self.replays = 0
        self._in_flight: set[str] = set()
        self._write_lock = threading.Lock()
        self._seed()

    def _seed(self) -> None:
        self.transactions = []
        for number in range(SEEDED_CHARGES):
            self._add_charge(SEEDED_CHARGE_CENTS, EPOCH + number * 3600, f"seeded {number + 1}")

    def _add_charge(self, amount: int, created: int, description: str) -> dict[str, Any]:
        fee = fee_cents(amount)
        transaction = {
            "id": f"txn_sbx{len(self.transactions) + 1:06d}",
            "object": "balance_transaction",
            "amount": amount,
            "available_on": created + 2 * 86400,
            "created": created,
            "currency": "usd",
            "description": description,
            "exchange_rate": None,
            "fee": fee,
            "fee_details": [{"amount": fee, "application": None, "currency": "usd",
                             "description": "Stripe processing fees", "type": "stripe_fee"}],
            "net": amount - fee,
            "reporting_category": "charge",
            "source": f"ch_sbx{len(self.transactions) + 1:06d}",
            "status": "available",
            "type": "charge",
        }
        self.transactions.append(transaction)
        return transaction

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_sbx{next(self._ids):06d}"

    # Authentication and errors.

    def secret_key(self, request: SandboxRequest) -> str | None:
        scheme, _, credential = (request.header("authorization") or "").partition(" ")
        if scheme.lower() == "bearer":
            return credential.strip() or None
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential.strip()).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            return decoded.split(":", 1)[0] or None
        return None

    def authenticate(self, request: SandboxRequest) -> bool:
        key = self.secret_key(request)
        return key is not None and key.startswith(("sk_test_", "rk_test_"))

    def error(self, status: int, message: str, *, code: str | None = None,
              param: str | None = None, error_type: str | None = None) -> SandboxResponse:
        if status == 401:
            message = "Invalid API Key provided: only test-mode keys (sk_test_...) are " \
                      "accepted by the sandbox; " + message
        if status == 402:
            message = "Your card was declined."
        error: dict[str, object] = {
            "type": error_type or ERROR_TYPES.get(status, "api_error"),
            "message": message,
        }
        if code or status in ERROR_CODES:
            error["code"] = code or ERROR_CODES[status]
        if param:
            error["param"] = param
        request_id = f"req_{uuid.uuid4().hex[:14]}"
        if status >= 400 and status != 401:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        headers = {"Request-Id": request_id}
        if status == 429:
            headers["Stripe-Rate-Limited-Reason"] = "global-rate"
        return SandboxResponse(status, {"error": error}, headers=headers)

    # Routing and idempotency.

    def route(self, request: SandboxRequest) -> SandboxResponse:
        if request.method != "POST":
            response = self._read(request)
        else:
            response = self._idempotent_write(request)
        response.headers.setdefault("Request-Id", f"req_{uuid.uuid4().hex[:14]}")
        return response

    def _read(self, request: SandboxRequest) -> SandboxResponse:
        parts = [part for part in request.path.split("/") if part]
        if request.method == "GET" and parts == ["v1", "balance"]:
            return self._balance()
        if request.method == "GET" and parts in (["v1", "balance_transactions"],
                                                 ["v1", "balance", "history"]):
            with self.lock:
                newest_first = list(reversed(self.transactions))
            try:
                newest_first = self._created_filter(request, newest_first)
            except ValueError as exc:
                return self.error(400, f"Invalid integer: {exc}", param="created")
            return self._list(request, "/v1/balance_transactions", newest_first)
        if request.method == "GET" and parts == ["v1", "customers"]:
            with self.lock:
                customers = list(reversed(self.customers.values()))
            return self._list(request, "/v1/customers", customers)
        if request.method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "customers"]:
            with self.lock:
                customer = self.customers.get(parts[2])
            if customer is None:
                return self.error(404, f"No such customer: '{parts[2]}'", param="id")
            return SandboxResponse(200, customer)
        return self.error(404, f"Unrecognized request URL ({request.method}: {request.path}).")

    def _idempotent_write(self, request: SandboxRequest) -> SandboxResponse:
        params = decode_form(request.body)
        key = request.header("idempotency-key")
        if not key:
            return self._write(request.path, params)
        if len(key) > 255:
            return self.error(400, "Idempotency-Key must be at most 255 characters.",
                              param="Idempotency-Key")

        with self._write_lock:
            stored = self.idempotency.get(key)
            if stored is None and key in self._in_flight:
                return self.error(409, "There is currently another in-progress request using "
                                  "this Stripe token (probably means you sent two requests "
                                  "with the same Idempotency-Key at once).")
            if stored is None:
                self._in_flight.add(key)
        if stored is not None:
            first = (stored.method, stored.path, stored.params)
            if first != (request.method, request.path, params):
                return self.error(400, "Keys for idempotent requests can only be used with the "
                                  "same parameters they were first used with. Try using a key "
                                  "other than '" + key + "' if you meant to execute a different "
                                  "request.", error_type="idempotency_error")
            with self.lock:
                self.replays += 1
            replay = SandboxResponse(stored.response.status, stored.response.body,
                                     dict(stored.response.headers))
            replay.headers["Idempotent-Replayed"] = "true"
            return replay

        try:
            response = self._write(request.path, params)
            response.headers.setdefault("Request-Id", f"req_{uuid.uuid4().hex[:14]}")
            response.headers["Idempotency-Key"] = key
            # Stripe stores a result once the endpoint has started running, so a
            # rejected parameter (400) is stored too, but nothing is stored for
            # requests turned away before that.
            with self._write_lock:
                self.idempotency[key] = StoredResponse(request.method, request.path, params,
                                                       response)
            return response
        finally:
            with self._write_lock:
                self._in_flight.discard(key)

    def _write(self, path: str, params: dict[str, object]) -> SandboxResponse:
        parts = [part for part in path.split("/") if part]
        if parts == ["v1", "customers"]:
            return self._create_customer(params)
        if parts == ["v1", "subscriptions"]:
            return self._create_subscription(params)
        return self.error(404, f"Unrecognized request URL (POST: {path}).")

    # Endpoints.

    def _balance(self) -> SandboxResponse:
        with self.lock:
            available = sum(int(t["net"]) for t in self.transactions)
        return SandboxResponse(200, {
            "object": "balance",
            "available": [{"amount": available, "currency": "usd",
                           "source_types": {"card": available}}],
            "pending": [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
            "livemode": False,
        })

    @staticmethod
    def _created_filter(request: SandboxRequest,
                        items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Apply `created[gt|gte|lt|lte]` bounds (Unix seconds) from the query string."""
        checks = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
                  "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}
        for operator, check in checks.items():
            bound = request.first(f"created[{operator}]")
            if bound is not None:
                limit = int(bound)
                items = [item for item in items if check(int(item["created"]), limit)]
        return items

    def _list(self, request: SandboxRequest, url: str,
              items: list[dict[str, Any]]) -> SandboxResponse:
        try:
            limit = int(request.first("limit") or DEFAULT_LIST_LIMIT)
        except ValueError:
            return self.error(400, "Invalid integer: limit", param="limit")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            return self.error(400, f"limit must be between 1 and {MAX_LIST_LIMIT}", param="limit")
        after = request.first("starting_after")
        before = request.first("ending_before")
        if after and before:
            return self.error(400, "starting_after and ending_before are mutually exclusive",
                              param="starting_after")
        ids = [str(item["id"]) for item in items]
        for cursor, name in ((after, "starting_after"), (before, "ending_before")):
            if cursor and cursor not in ids:
                return self.error(404, f"No such object: '{cursor}'", param=name)
        if after:
            page_items = items[ids.index(after) + 1:][:limit]
            has_more = ids.index(after) + 1 + limit < len(items)
        elif before:
            end = ids.index(before)
            page_items = items[max(end - limit, 0):end]
            has_more = end - limit > 0
        else:
            page_items = items[:limit]
            has_more = limit < len(items)
        return SandboxResponse(200, {"object": "list", "url": url, "has_more": has_more,
                                     "data": page_items})

    def _create_customer(self, params: dict[str, object]) -> SandboxResponse:
        email = params.get("email")
        if email is not None and "@" not in str(email):
            return self.error(400, f"Invalid email address: {email}", param="email",
                              code="email_invalid")
        customer = {
            "id": self._new_id("cus"),
            "object": "customer",
            "created": int(time.time()),
            "email": email,
            "name": params.get("name"),
            "description": params.get("description"),
            "metadata": params.get("metadata") or {},
            "livemode": False,
        }
        with self.lock:
            self.customers[str(customer["id"])] = customer
        return SandboxResponse(200, customer)

    def _create_subscription(self, params: dict[str, object]) -> SandboxResponse:
        customer_id = str(params.get("customer") or "")
        with self.lock:
            known = customer_id in self.customers
        if not known:
            return self.error(400, f"No such customer: '{customer_id}'", param="customer",
                              code="resource_missing")
        items = params.get("items")
        if not isinstance(items, dict) or not items:
            return self.error(400, "Missing required param: items.", param="items",
                              code="parameter_missing")

        amount = 0
        lines = []
        for index in sorted(items, key=lambda value: int(value) if value.isdigit() else 0):
            item = items[index]
            price_id = str(item.get("price") or "") if isinstance(item, dict) else ""
            if price_id not in PRICES:
                return self.error(400, f"No such price: '{price_id}'",
                                  param=f"items[{index}][price]", code="resource_missing")
            quantity = int(item.get("quantity") or 1)
            amount += PRICES[price_id] * quantity
            lines.append({"id": self._new_id("si"), "object": "subscription_item",
                          "quantity": quantity,
                          "price": {"id": price_id, "object": "price", "currency": "usd",
                                    "unit_amount": PRICES[price_id],
                                    "recurring": {"interval": "month"}}})

        now = int(time.time())
        # The first invoice is paid at once, so the charge and its fee show up as a
        # balance transaction, as they do in Stripe.
        with self.lock:
            transaction = self._add_charge(amount, now, f"Subscription creation {customer_id}")
        subscription = {
            "id": self._new_id("sub"),
            "object": "subscription",
            "customer": customer_id,
            "status": "active",
            "created": now,
            "currency": "usd",
            "items": {"object": "list", "url": "/v1/subscription_items", "has_more": False,
                      "data": lines},
            "latest_invoice": {"id": self._new_id("in"), "object": "invoice",
                               "amount_paid": amount, "currency": "usd", "status": "paid",
                               "charge": transaction["source"]},
            "livemode": False,
        }
        with self.lock:
            self.subscriptions[str(subscription["id"])] = subscription
        self.charge(str(subscription["id"]))
        return SandboxResponse(200, subscription)

    def set_cost_usd(self, usd: float) -> None:
        """Bring this month's charge fees to `usd` with one charge made outside this console.

        The charge's fee is the difference, so `usd` below the fees already taken
        raises ValueError. Its amount is a made-up gross of 20 times the fee.
        """
        now = datetime.now(UTC)
        month_start = int(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp())
        with self.lock:
            taken = sum(int(t["fee"]) for t in self.transactions
                        if t["type"] in ("charge", "payment") and int(t["created"]) >= month_start)
            missing = round(usd * 100) - taken
            if missing < 0:
                raise ValueError(f"cost_usd {usd!r} is below the {taken / 100:.2f} USD of fees "
                                 "already taken this month")
            if missing:
                transaction = self._add_charge(missing * 20, int(now.timestamp()),
                                               "charge made outside this console")
                transaction["fee"] = missing
                transaction["fee_details"][0]["amount"] = missing
                transaction["net"] = transaction["amount"] - missing

    def stats(self) -> dict[str, object]:
        data = super().stats()
        with self.lock:
            data.update(customers=len(self.customers), subscriptions=len(self.subscriptions),
                        balance_transactions=len(self.transactions),
                        idempotent_replays=self.replays)
        return data

    def reset(self) -> None:
        super().reset()
        with self._write_lock, self.lock:
            self.customers.clear()
            self.subscriptions.clear()
            self.idempotency.clear()
            self._in_flight.clear()
            self.replays = 0
            self._seed()
