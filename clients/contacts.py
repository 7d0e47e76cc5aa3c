"""The contact shape every enrichment provider returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Contact:
    name: str
    title: str
    email: str | None
    source: str
    linkedin_url: str | None = None
    vendor_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class Lookup:
    """The contacts one provider found for one company, and what they cost."""

    contacts: list[Contact]
    credits: float
    cost_usd: float
