"""The enrichment waterfall: Apollo, then Clay, then "no match, add by hand"."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from clients.contacts import Contact, Lookup
from clients.errors import VendorError
from clients.pipeline import Mode
from console.access import SPEND_CREDITS_ROLES, User, require_role
from console.audit import audited
from console.contacts import save_contacts
from console.domains import InvalidDomain, clean_titles, normalise_domain
from console.runtime import Runtime
from console.store.models import VendorFlag
from console.store.times import as_utc, utcnow

log = logging.getLogger(__name__)

PROVIDERS = ("apollo", "clay")
# An exhausted provider is skipped without a call for this long, then tried again
# in case credits were topped up.
EXHAUSTED_RECHECK = timedelta(minutes=10)
CONTACTS_PER_PROVIDER = 3


class InvalidEnrichmentInput(ValueError):
    pass


@dataclass(frozen=True)
class Skip:
    provider: str
    reason: str


@dataclass
class EnrichmentResult:
    domain: str
    titles: list[str]
    provider: str | None
    contacts: list[Contact]
    skipped: list[Skip] = field(default_factory=list)
    credits: float = 0.0
    cost_usd: float = 0.0
    domain_note: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "domain": self.domain,
            "provider": self.provider,
            "contacts": [{"name": c.name, "title": c.title, "email": c.email, "source": c.source}
                         for c in self.contacts],
            "skipped": [{"provider": s.provider, "reason": s.reason} for s in self.skipped],
            "credits": self.credits,
            "cost_usd": round(self.cost_usd, 4),
        }


def validate_input(domain: str | None, titles: list[str]) -> tuple[str, list[str], str | None]:
    try:
        parsed = normalise_domain(domain)
    except InvalidDomain as exc:
        raise InvalidEnrichmentInput(str(exc)) from None
    cleaned = clean_titles(titles)
    if not cleaned:
        raise InvalidEnrichmentInput("no title given; enter at least one job title, e.g. VP Engineering")
    return parsed.value, cleaned, parsed.note


def skip_reason(runtime: Runtime, provider: str) -> str | None:
    """Why `provider` is skipped without a call, or None when it may be called."""
    breaker = runtime.breaker(provider)
    override = breaker.override()
    if override is not None and override[0] == "open":
        return f"breaker forced open: {override[1]}"
    if breaker.state == "open":
        opened_at = breaker.opened_at
        reset = runtime.pipeline.runtime(provider).spec.breaker.reset_timeout
        if opened_at is None or utcnow() < opened_at + timedelta(seconds=reset):
            since = f" since {opened_at:%H:%M:%S} UTC" if opened_at else ""
            return f"breaker open{since}"
    with runtime.store.session() as session:
        flag = session.scalar(select(VendorFlag).where(VendorFlag.vendor == provider,
                                                       VendorFlag.flag == "exhausted"))
        if flag is not None and utcnow() - as_utc(flag.set_at) < EXHAUSTED_RECHECK:
            return f"out of credits ({flag.reason})"
    return None


def run_waterfall(runtime: Runtime, domain: str, titles: list[str], *, mode: Mode = "interactive",
                  providers: tuple[str, ...] = PROVIDERS) -> EnrichmentResult:
    """Ask each provider in turn until one finds contacts; nothing is stored here."""
    result = EnrichmentResult(domain=domain, titles=titles, provider=None, contacts=[])
    for provider in providers:
        reason = skip_reason(runtime, provider)
        if reason is not None:
            result.skipped.append(Skip(provider, reason))
            continue
        try:
            lookup: Lookup = runtime.client(provider).find_contacts(  # type: ignore[attr-defined]
                domain, titles, limit=CONTACTS_PER_PROVIDER, mode=mode)
        except VendorError as exc:
            log.info("waterfall: %s failed for %s: %r", provider, domain, exc)
            result.skipped.append(Skip(provider, f"{exc.error_class}: {exc.message}"))
            continue
        result.credits += lookup.credits
        result.cost_usd += lookup.cost_usd
        if lookup.contacts:
            result.provider = provider
            result.contacts = lookup.contacts
            break
        result.skipped.append(Skip(provider, "no match"))
    return result


def enrich(runtime: Runtime, domain: str | None, titles: list[str], *, mode: Mode = "interactive",
           application_id: str | None = None, created_by: str = "",
           actor: User | None = None) -> EnrichmentResult:
    """Validate, run the waterfall, store what it found and write an audit entry.

    With `actor` set, raises PermissionDenied unless they may spend credits.
    Without it the caller (a worker or script) is trusted, and the audit entry
    names `created_by`.
    """
    if actor is not None:
        require_role(actor, SPEND_CREDITS_ROLES, "an enrichment, which spends credits")
    clean_domain, clean, note = validate_input(domain, titles)
    user = actor.name if actor is not None else (created_by or "system")
    with audited(runtime.store, user, "enrich", detail=f"{clean_domain}: {', '.join(clean)}") as notes:
        result = run_waterfall(runtime, clean_domain, clean, mode=mode)
        result.domain_note = note
        save_contacts(runtime.store, clean_domain, result.contacts, application_id=application_id,
                      created_by=created_by or user)
        notes.append(f"provider {result.provider or 'none'}, {len(result.contacts)} contacts, "
                     f"{result.credits:g} credits, ${result.cost_usd:.2f}")
    return result
