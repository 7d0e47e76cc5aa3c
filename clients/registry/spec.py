"""Types of a vendor registry entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ProbeCost = Literal["free", "credits", "money", "mail"]


@dataclass(frozen=True)
class Timeouts:
    """Seconds. Connect is short because a vendor that cannot accept a connection
    within it is down for our purposes; read covers the vendor's own work."""

    connect: float = 3.0
    read: float = 10.0
    # A whole call, retries and waits included, from a page or a test call.
    interactive_deadline: float = 8.0
    # A whole call from a backfill worker, which may wait out long Retry-After hints.
    batch_deadline: float = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    # Wait applied to a 429 that carries no Retry-After header, in seconds.
    default_retry_after: float = 1.0


@dataclass(frozen=True)
class BreakerPolicy:
    fail_max: int = 5
    reset_timeout: float = 60.0


@dataclass(frozen=True)
class RateLimit:
    """Client-side budget: at most `requests` calls in any `per_seconds` window."""

    requests: int
    per_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.per_seconds


@dataclass(frozen=True)
class Plan:
    """What the vendor bills us, in USD; a credit is the vendor's own metered unit."""

    name: str
    monthly_fee_usd: float
    included_credits: int | None = None
    credit_unit: str = "credits"
    overage_usd_per_credit: float = 0.0
    monthly_budget_usd: float = 0.0


@dataclass(frozen=True)
class Probe:
    operation: str
    description: str
    cost: ProbeCost = "free"


@dataclass(frozen=True)
class ErrorCode:
    status: int
    meaning: str
    action: str


@dataclass(frozen=True)
class VendorSpec:
    name: str
    display_name: str
    purpose: str
    base_url: str
    # Path prefix of this vendor on the sandbox server, joined to SANDBOX_URL.
    sandbox_prefix: str
    auth: str
    # Secret names looked up in the secrets chain; the first is the main key.
    secret_names: tuple[str, ...]
    plan: Plan
    rate_limit: RateLimit
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    # Credits charged per operation on success, for estimates before a call is made.
    credits_per_call: dict[str, int] = field(default_factory=dict)
    # USD per million (input, output) tokens by model id, for vendors that bill tokens.
    token_prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    probes: tuple[Probe, ...] = ()
    error_codes: tuple[ErrorCode, ...] = ()
    support_contact: str = ""
    escalation: str = ""
    docs_url: str = ""

    @property
    def usd_per_credit(self) -> float:
        """Price of one credit used for metering: overage price, else the plan's average."""
        if self.plan.overage_usd_per_credit:
            return self.plan.overage_usd_per_credit
        if self.plan.included_credits:
            return self.plan.monthly_fee_usd / self.plan.included_credits
        return 0.0

    @property
    def free_probe(self) -> Probe | None:
        return next((probe for probe in self.probes if probe.cost == "free"), None)
