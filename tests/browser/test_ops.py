"""Ops watch Health while Apollo goes down, and follow the card's runbook link."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from clients.registry import REGISTRY
from tests.browser.streamlit_page import VENDOR_NAMES, exception_boxes, open_page, vendor_card

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def enrich_until_breaker_opens(console, vendor: str = "apollo") -> list[str]:
    """Enrich through the CLI until the waterfall skips `vendor` because its breaker is open.

    Returns the skip reasons seen, for the assertion message.
    """
    reasons = []
    # Each call retries, so fewer calls than fail_max usually open the breaker.
    for number in range(REGISTRY[vendor].breaker.fail_max + 1):
        result = console.cli("enrich", "--domain", f"outage-{number}.com", "--title", "VP Engineering", "--json")
        assert result.returncode == 0, result.stderr
        skipped = [skip["reason"] for skip in json.loads(result.stdout)["skipped"] if skip["provider"] == vendor]
        reasons.extend(skipped)
        if any("breaker open" in reason for reason in skipped):
            break
    return reasons


def test_apollo_outage_turns_card_down(console, apollo_outage, page):
    open_page(page, console.url, "Health")
    for name in VENDOR_NAMES:
        spec = next(spec for spec in REGISTRY.values() if spec.display_name == name)
        expect(vendor_card(page, spec.name)).to_contain_text(name)
    apollo = vendor_card(page, "apollo")
    expect(apollo.get_by_text("down", exact=True)).to_have_count(0)

    apollo_outage()
    reasons = enrich_until_breaker_opens(console)
    assert any("breaker open" in reason for reason in reasons), reasons

    # No reload: the live panel reruns itself every few seconds.
    expect(apollo.get_by_text("down", exact=True)).to_be_visible()
    expect(apollo).to_contain_text("Breaker open")
    assert exception_boxes(page).count() == 0

    with page.context.expect_page() as opened:
        apollo.get_by_role("link", name="Runbook").click()
    runbook = opened.value
    expect(runbook.get_by_role("heading", name="Runbooks", exact=True)).to_be_visible()
    expect(runbook.get_by_role("heading", name="Apollo", exact=True)).to_be_visible()
    expect(runbook).to_have_url(f"{console.url}/runbooks?vendor=apollo")
    expect(runbook.get_by_text("down", exact=True)).to_be_visible()
