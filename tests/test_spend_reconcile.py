"""Reconciliation against the sandbox's usage reports, over real HTTP on loopback."""

from __future__ import annotations

import httpx
import pytest

from console.spend.figures import spend_report
from console.spend.plans import load_plans
from console.spend.reconcile import VendorUsage, reconcile
from tests.conftest import sandbox_stats, set_fault

pytestmark = pytest.mark.all_backends


def set_usage(sandbox, vendor, credits):
    response = httpx.post(f"{sandbox.url}/_admin/usage", json={"vendor": vendor, "credits_used": credits})
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


def test_matching_usage_has_no_drift(runtime, sandbox):
    enrich_two_at_acme(runtime)
    plans = load_plans(environ={})
    results = reconcile(runtime, plans)
    assert [result.error for result in results] == [None, None]

    report = spend_report(runtime.store, plans)
    apollo, clay = report.vendors
    assert apollo.credits_used == 2
    assert apollo.vendor_reported_credits == 2
    assert apollo.drift_credits == 0
    assert apollo.drift_usd == 0.00
    assert clay.vendor_reported_credits == clay.credits_used == sandbox_stats(sandbox)["clay"]["charges_total"]
    assert clay.drift_credits == 0


def test_vendor_reporting_more_shows_drift(runtime, sandbox):
    enrich_two_at_acme(runtime)
    # Someone else spent Apollo credits with the same account: Apollo counts 1,100.
    set_usage(sandbox, "apollo", 1100)
    set_usage(sandbox, "clay", 6100)
    plans = load_plans(environ={})
    reconcile(runtime, plans)

    apollo, clay = spend_report(runtime.store, plans).vendors
    assert apollo.vendor_reported_credits == 1100
    assert apollo.drift_credits == 1098
    assert apollo.vendor_reported_usd == 119.00        # 99 + 100 x 0.20, by our plan
    assert apollo.metered_usd_at_report == 99.00
    assert apollo.drift_usd == 20.00
    assert apollo.total_usd == 99.00                   # our own metering is unchanged
    assert clay.vendor_reported_usd == 357.00          # 349 + 100 x 0.08
    assert clay.drift_usd == 8.00


def test_spend_json_carries_vendor_figure(runtime, sandbox):
    set_usage(sandbox, "apollo", 1250)
    plans = load_plans(environ={})
    reconcile(runtime, plans)
    vendors = spend_report(runtime.store, plans).as_json()["vendors"]
    assert vendors[0]["vendor_reported_usd"] == 149.00
    assert vendors[0]["drift_usd"] == 50.00
    assert vendors[1]["vendor_reported_usd"] == 349.00


def test_failed_fetch_keeps_other_vendors(runtime, sandbox):
    set_fault(sandbox, "apollo", "auth_failure")
    plans = load_plans(environ={})
    results = {result.vendor: result for result in reconcile(runtime, plans)}
    assert results["apollo"].snapshot is None
    assert "AuthFailed" in results["apollo"].error or "401" in results["apollo"].error
    assert results["clay"].snapshot is not None
    apollo = spend_report(runtime.store, plans).vendors[0]
    assert apollo.vendor_reported_usd is None


def test_fetcher_registry_is_pluggable(runtime):
    plans = load_plans(environ={})
    results = reconcile(runtime, plans, fetchers={"clay": lambda rt: VendorUsage(None, 412.5, "invoice")})
    assert [result.vendor for result in results] == ["clay"]
    clay = spend_report(runtime.store, plans).vendors[1]
    assert clay.vendor_reported_usd == 412.50
    assert clay.drift_usd == pytest.approx(412.50 - 349.00)
    assert clay.drift_credits is None


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
