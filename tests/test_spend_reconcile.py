"""Reconciliation against the sandbox's usage reports, over real HTTP on loopback."""

from __future__ import annotations

import httpx
import pytest

from console.spend.figures import spend_report
from console.spend.plans import load_plans
from console.spend.reconcile import VendorUsage, reconcile
from tests.conftest import sandbox_stats, set_fault

pytestmark = pytest.mark.all_backends


VENDORS = ["apollo", "clay", "sendgrid", "stripe", "anthropic", "datadog"]


def set_usage(sandbox, vendor, credits):
    response = httpx.post(f"{sandbox.url}/_admin/usage", json={"vendor": vendor, "credits_used": credits})
    response.raise_for_status()


def set_cost(sandbox, vendor, usd):
    response = httpx.post(f"{sandbox.url}/_admin/usage", json={"vendor": vendor, "cost_usd": usd})
    response.raise_for_status()


def enrich_two_at_acme(runtime):
    apollo = runtime.client("apollo")
    people = apollo.search_people("acme.com", ["VP Engineering"]).value
    for person in people[:2]:
        apollo.enrich_person(person.id)
    clay = runtime.client("clay")
    found = clay.search_people("acme.com", ["VP Engineering"], limit=2).value
    clay.lookup_emails(found, "acme.com")
    runtime.recorder.flush()


def use_new_vendors(runtime):
    """Send two e-mails, sell a $49 and a $199 subscription, and draft one message with Claude."""
    runtime.client("sendgrid").send({
        "personalizations": [{"to": [{"email": "ana@example.com"}, {"email": "bo@example.com"}]}],
        "from": {"email": "no-reply@roleferry.com"}, "subject": "Your application",
        "content": [{"type": "text/plain", "value": "Thank you for applying."}],
    })
    stripe = runtime.client("stripe")
    for email, price in (("a@example.com", "price_sandbox_starter"), ("b@example.com", "price_sandbox_team")):
        customer = stripe.create_customer(email).value
        stripe.create_subscription(customer.id, price)
    runtime.client("anthropic").message("Draft a two line note to a candidate", model="claude-sonnet-4-5")
    runtime.recorder.flush()


def by_vendor(report):
    return {vendor.vendor: vendor for vendor in report.vendors}


def test_matching_usage_has_no_drift(runtime, sandbox):
    enrich_two_at_acme(runtime)
    use_new_vendors(runtime)
    plans = load_plans(environ={})
    results = reconcile(runtime, plans)
    assert [result.vendor for result in results] == VENDORS
    assert [result.error for result in results] == [None] * 6

    vendors = by_vendor(spend_report(runtime.store, plans))
    apollo, clay = vendors["apollo"], vendors["clay"]
    assert apollo.credits_used == 2
    assert apollo.vendor_reported_credits == 2
    assert apollo.drift_credits == 0
    assert apollo.drift_usd == 0.00
    assert clay.vendor_reported_credits == clay.credits_used == sandbox_stats(sandbox)["clay"]["charges_total"]
    assert clay.drift_credits == 0

    sendgrid = vendors["sendgrid"]
    assert sendgrid.credits_used == sendgrid.vendor_reported_credits == 2
    assert sendgrid.vendor_reported_usd == 20.00       # inside the allowance: the fee alone
    assert sendgrid.drift_usd == 0.00
    stripe = vendors["stripe"]
    assert stripe.total_usd == 7.79                    # fees 1.72 on $49 + 6.07 on $199
    assert stripe.vendor_reported_usd == 7.79
    assert stripe.drift_usd == 0.00
    anthropic = vendors["anthropic"]
    assert anthropic.vendor_reported_usd == anthropic.total_usd
    assert anthropic.drift_usd == 0.00
    datadog = vendors["datadog"]
    assert datadog.vendor_reported_usd == datadog.total_usd == 310.00
    assert datadog.drift_usd == 0.00


def test_vendor_reporting_more_shows_drift(runtime, sandbox):
    enrich_two_at_acme(runtime)
    use_new_vendors(runtime)
    # Someone else spent with the same accounts: each vendor reports more than we metered.
    set_usage(sandbox, "apollo", 1100)
    set_usage(sandbox, "clay", 6100)
    set_usage(sandbox, "sendgrid", 52_000)
    set_cost(sandbox, "stripe", 10.00)
    set_cost(sandbox, "anthropic", 25.00)
    set_cost(sandbox, "datadog", 335.50)
    plans = load_plans(environ={})
    results = reconcile(runtime, plans)
    assert [result.error for result in results] == [None] * 6

    vendors = by_vendor(spend_report(runtime.store, plans))
    apollo, clay = vendors["apollo"], vendors["clay"]
    assert apollo.vendor_reported_credits == 1100
    assert apollo.drift_credits == 1098
    assert apollo.vendor_reported_usd == 119.00        # 99 + 100 x 0.20, by our plan
    assert apollo.metered_usd_at_report == 99.00
    assert apollo.drift_usd == 20.00
    assert apollo.total_usd == 99.00                   # our own metering is unchanged
    assert clay.vendor_reported_usd == 357.00          # 349 + 100 x 0.08
    assert clay.drift_usd == 8.00

    sendgrid = vendors["sendgrid"]
    assert sendgrid.drift_credits == 52_000 - 2
    assert sendgrid.vendor_reported_usd == 22.00       # 20 + 2,000 x 0.001
    assert sendgrid.drift_usd == 2.00
    stripe = vendors["stripe"]
    assert stripe.vendor_reported_usd == 10.00
    assert stripe.drift_usd == round(10.00 - 7.79, 2)
    assert stripe.drift_credits is None
    anthropic = vendors["anthropic"]
    assert anthropic.vendor_reported_usd == 25.00
    assert anthropic.drift_usd == round(25.00 - anthropic.metered_usd_at_report, 2)
    assert anthropic.drift_usd > 24.90                 # one short message costs well under 10 cents
    datadog = vendors["datadog"]
    assert datadog.vendor_reported_usd == 335.50
    assert datadog.drift_usd == 25.50


def test_spend_json_carries_vendor_figure(runtime, sandbox):
    set_usage(sandbox, "apollo", 1250)
    plans = load_plans(environ={})
    reconcile(runtime, plans)
    vendors = {vendor["vendor"]: vendor for vendor in spend_report(runtime.store, plans).as_json()["vendors"]}
    assert vendors["apollo"]["vendor_reported_usd"] == 149.00
    assert vendors["apollo"]["drift_usd"] == 50.00
    assert vendors["clay"]["vendor_reported_usd"] == 349.00
    assert vendors["stripe"]["vendor_reported_usd"] == 0.00
    assert vendors["datadog"]["vendor_reported_usd"] == 310.00


def test_failed_fetch_keeps_other_vendors(runtime, sandbox):
    set_fault(sandbox, "apollo", "auth_failure")
    set_fault(sandbox, "datadog", "down")
    plans = load_plans(environ={})
    results = {result.vendor: result for result in reconcile(runtime, plans)}
    assert results["apollo"].snapshot is None
    assert "AuthFailed" in results["apollo"].error or "401" in results["apollo"].error
    assert results["datadog"].snapshot is None
    assert results["datadog"].error is not None
    for vendor in ("clay", "sendgrid", "stripe", "anthropic"):
        assert results[vendor].snapshot is not None, vendor
    vendors = by_vendor(spend_report(runtime.store, plans))
    assert vendors["apollo"].vendor_reported_usd is None
    assert vendors["datadog"].vendor_reported_usd is None


def test_fetcher_registry_is_pluggable(runtime):
    plans = load_plans(environ={})
    results = reconcile(runtime, plans, fetchers={"clay": lambda rt: VendorUsage(None, 412.5, "invoice")})
    assert [result.vendor for result in results] == ["clay"]
    clay = by_vendor(spend_report(runtime.store, plans))["clay"]
    assert clay.vendor_reported_usd == 412.50
    assert clay.drift_usd == pytest.approx(412.50 - 349.00)
    assert clay.drift_credits is None


@pytest.mark.parametrize("payload", [
    {"vendor": "datadog", "cost_usd": 100.0},       # below the committed Pro fee
    {"vendor": "stripe", "cost_usd": "ten"},
    {"vendor": "stripe", "credits_used": 5},        # Stripe reports dollars, not credits
    {"vendor": "apollo", "cost_usd": 5.0},          # Apollo reports credits, not dollars
])
def test_admin_usage_rejects_wrong_kind(sandbox, payload):
    response = httpx.post(f"{sandbox.url}/_admin/usage", json=payload)
    assert response.status_code == 400
    assert "invalid usage request" in response.json()["error"]


@pytest.mark.parametrize("payload", [
    {"vendor": "apollo", "credits_used": -1},
    {"vendor": "apollo", "credits_used": "ten"},
    {"vendor": "nobody", "credits_used": 1},
    {"vendor": "apollo"},
])
def test_admin_usage_rejects_bad_request(sandbox, payload):
    response = httpx.post(f"{sandbox.url}/_admin/usage", json=payload)
    assert response.status_code == 400
    assert "invalid usage request" in response.json()["error"]
