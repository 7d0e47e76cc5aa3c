"""Dry-run figures: what a backfill would cost and how long it would take.

The figures come from the vendor registry (credits per call, price per credit)
and the configured rate limits; no vendor is called.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from clients.registry import REGISTRY
from clients.registry.spec import RateLimit
from console.config import Settings
from console.enrichment import CONTACTS_PER_PROVIDER, PROVIDERS

# Pipeline calls that one row makes to a provider whose search finds people, read
# from the clients' `find_contacts`. Each call takes one rate-limit slot. Apollo
# searches once and then enriches each contact. Clay searches once (create and run
# share one pipeline call) and then runs one e-mail routine for all contacts.
CALLS_PER_ROW = {"apollo": 1 + CONTACTS_PER_PROVIDER, "clay": 2}


def credits_per_row(provider: str) -> float:
    """Maximum credits one row costs at `provider`: one paid call per contact found."""
    spec = REGISTRY[provider]
    paid = max(spec.credits_per_call.values(), default=0)
    return float(paid * CONTACTS_PER_PROVIDER)


def usd_per_row(provider: str) -> float:
    return credits_per_row(provider) * REGISTRY[provider].usd_per_credit


def rate_limit(settings: Settings, provider: str) -> RateLimit:
    return settings.rate_limits.get(provider, REGISTRY[provider].rate_limit)


@dataclass(frozen=True)
class ProviderEstimate:
    provider: str
    # "first" is the provider called first for every row. A "fallback" is called only
    # for rows the providers before it return nobody for, so its figures are a maximum.
    role: str
    rows: int
    calls: int
    credits: float
    cost_usd: float
    seconds: float
    rate_limit: str

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["cost_usd"] = round(self.cost_usd, 2)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(frozen=True)
class DryRun:
    rows: int
    invalid: int
    duplicates: int
    providers: list[ProviderEstimate]

    @property
    def estimated_credits(self) -> float:
        """Credits when the first provider finds contacts for every row, the usual case."""
        return self.providers[0].credits if self.providers else 0.0

    @property
    def estimated_cost_usd(self) -> float:
        return self.providers[0].cost_usd if self.providers else 0.0

    @property
    def estimated_seconds(self) -> float:
        return self.providers[0].seconds if self.providers else 0.0

    @property
    def max_credits(self) -> float:
        """Credits when every provider is asked for every row and charges in full."""
        return sum(estimate.credits for estimate in self.providers)

    @property
    def max_cost_usd(self) -> float:
        return sum(estimate.cost_usd for estimate in self.providers)

    def as_dict(self) -> dict[str, object]:
        return {
            "dry_run": True,
            "rows": self.rows,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "estimated_credits": self.estimated_credits,
            "estimated_cost_usd": round(self.estimated_cost_usd, 2),
            "estimated_seconds": round(self.estimated_seconds, 3),
            "max_credits": self.max_credits,
            "max_cost_usd": round(self.max_cost_usd, 2),
            "providers": [estimate.as_dict() for estimate in self.providers],
        }


def estimate(settings: Settings, rows: int, *, invalid: int = 0, duplicates: int = 0) -> DryRun:
    """Estimate credits, dollars and seconds for `rows` rows at the configured rate limits.

    The duration assumes that the first provider finds contacts for every row and
    that the backfill keeps its rate limit busy. Calls to a fallback add to it.
    """
    estimates = []
    for index, provider in enumerate(PROVIDERS):
        limit = rate_limit(settings, provider)
        calls = rows * CALLS_PER_ROW[provider]
        estimates.append(ProviderEstimate(
            provider=provider,
            role="first" if index == 0 else "fallback",
            rows=rows,
            calls=calls,
            credits=rows * credits_per_row(provider),
            cost_usd=rows * usd_per_row(provider),
            seconds=calls / limit.per_second,
            rate_limit=f"{limit.requests} requests per {limit.per_seconds:g} s",
        ))
    return DryRun(rows, invalid, duplicates, estimates)
