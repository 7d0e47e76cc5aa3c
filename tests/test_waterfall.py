"""The enrichment waterfall against the sandbox: fallbacks, skips and storage."""

from __future__ import annotations

import pytest

from console.contacts import InvalidContact, add_manual_contact, contacts_for
from console.enrichment import InvalidEnrichmentInput, enrich
from console.health import vendor_health
from tests.conftest import sandbox_stats, set_fault

pytestmark = pytest.mark.all_backends


def health_of(runtime, vendor):
    runtime.recorder.flush()
    return next(row for row in vendor_health(runtime) if row.vendor == vendor)


def test_apollo_answers_first(runtime, sandbox):
    result = enrich(runtime, "acme.com", ["VP Engineering"])
    assert result.provider == "apollo"
    assert result.skipped == []
    assert result.contacts
    assert all(c.email.endswith("@acme.com") for c in result.contacts)
    assert result.credits == len(result.contacts)
    assert sandbox_stats(sandbox)["clay"]["requests_total"] == 0


def test_same_domain_same_people(runtime):
    first = enrich(runtime, "acme.com", ["CTO"])
    second = enrich(runtime, "ACME.com ", ["cto"])
    assert [c.email for c in first.contacts] == [c.email for c in second.contacts]


def test_apollo_down_falls_to_clay(runtime, sandbox, no_sleep):
    set_fault(sandbox, "apollo", "down")
    result = enrich(runtime, "acme.com", ["VP Engineering"])
    assert result.provider == "clay"
    assert result.skipped[0].provider == "apollo"
    assert result.skipped[0].reason.startswith("VendorUnavailable")
    assert all(c.source == "clay" for c in result.contacts)


def test_open_breaker_skips_without_call(runtime, sandbox, no_sleep):
    set_fault(sandbox, "apollo", "down")
    enrich(runtime, "acme.com", ["CTO"])
    enrich(runtime, "acme.com", ["CTO"])
    assert runtime.breaker("apollo").state == "open"
    sent = sandbox_stats(sandbox)["apollo"]["requests_total"]
    result = enrich(runtime, "acme.com", ["CTO"])
    assert result.provider == "clay"
    assert result.skipped[0].reason.startswith("breaker open")
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == sent
    assert health_of(runtime, "apollo").status == "down"


def test_out_of_credits_goes_straight_to_clay(runtime, sandbox, no_sleep):
    set_fault(sandbox, "apollo", "out_of_credits")
    result = enrich(runtime, "acme.com", ["CTO"])
    assert result.provider == "clay"
    assert result.skipped[0].reason.startswith("OutOfCredits")
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == 1
    assert no_sleep == []
    assert health_of(runtime, "apollo").status == "exhausted"
    # Later calls skip the exhausted provider without asking it.
    again = enrich(runtime, "globex.com", ["CTO"])
    assert again.skipped[0].reason.startswith("out of credits")
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == 1


def test_nobody_found_then_manual(runtime):
    result = enrich(runtime, "nobody-here.com", ["CTO"])
    assert result.provider is None
    assert [s.reason for s in result.skipped] == ["no match", "no match"]
    contact = add_manual_contact(runtime.store, result.domain, "Jane Roe", "CTO", "Jane@Nobody-Here.com",
                                 created_by="tester")
    assert contact.source == "manual"
    stored = contacts_for(runtime.store, "nobody-here.com")
    assert [(c.email, c.source, c.created_by) for c in stored] == [("jane@nobody-here.com", "manual", "tester")]
    with pytest.raises(InvalidContact, match="already stored"):
        add_manual_contact(runtime.store, result.domain, "Jane Roe", "CTO", "jane@nobody-here.com",
                           created_by="tester")
    with pytest.raises(InvalidContact, match="not a valid e-mail"):
        add_manual_contact(runtime.store, result.domain, "Jane Roe", "CTO", "jane", created_by="tester")


def test_contacts_stored_once(runtime):
    enrich(runtime, "acme.com", ["VP Engineering"])
    enrich(runtime, "acme.com", ["VP Engineering"])
    emails = [c.email for c in contacts_for(runtime.store, "acme.com")]
    assert len(emails) == len(set(emails))
    assert emails


@pytest.mark.parametrize("domain", ["", "   ", "not a domain", "acme", "-acme.com", "acme..com", "1.2.3.4"])
def test_bad_domain_rejected_before_any_call(runtime, sandbox, domain):
    with pytest.raises(InvalidEnrichmentInput):
        enrich(runtime, domain, ["CTO"])
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == 0


def test_no_title_rejected(runtime):
    with pytest.raises(InvalidEnrichmentInput, match="title"):
        enrich(runtime, "acme.com", ["  ", ""])


@pytest.mark.parametrize(
    ("given", "domain"),
    [
        ("https://www.Acme.com/careers?x=1", "acme.com"),
        ("jane.doe@acme.com", "acme.com"),
        ("  ACME.COM  ", "acme.com"),
        ("bücher.de", "xn--bcher-kva.de"),
    ],
)
def test_domain_normalised(runtime, given, domain):
    result = enrich(runtime, given, ["CTO"])
    assert result.domain == domain
