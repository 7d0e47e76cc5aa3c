"""Plans file loading: shipped defaults, per-deployment overrides, and clear errors."""

from __future__ import annotations

import pytest

from clients.recording import SUCCESS, CallRecord
from console.health import vendor_health
from console.recorder import write_records
from console.spend.figures import spend_report
from console.spend.plans import PLANS_FILE_ENV, PlanError, load_plans
from console.store.times import utcnow


def write(tmp_path, text):
    path = tmp_path / "plans.toml"
    path.write_text(text)
    return path


def test_defaults_match_registry_vendors():
    plans = load_plans(environ={})
    assert plans["apollo"].plan.monthly_fee_usd == 99.0
    assert plans["apollo"].plan.monthly_budget_usd == 499.0
    assert plans["clay"].plan.monthly_fee_usd == 349.0
    assert plans["clay"].plan.included_credits == 6000


def test_shipped_defaults_override_registry():
    plans = load_plans(environ={})
    # The registry sets Essentials 50K at 19.95 USD with a 100 USD budget. plans.toml wins.
    assert plans["sendgrid"].plan.monthly_fee_usd == 20.0
    assert plans["sendgrid"].plan.monthly_budget_usd == 200.0
    assert plans["sendgrid"].plan.overage_usd_per_credit == 0.001
    assert plans["stripe"].charge_fee is not None
    assert plans["stripe"].charge_fee.percent == 2.9
    assert plans["anthropic"].plan.name == "API, standard tier"
    assert plans["anthropic"].token_prices["claude-sonnet-4-5"].output_usd_per_mtok == 15.0
    assert plans["datadog"].plan.monthly_fee_usd == 310.0
    assert plans["datadog"].plan.included_credits is None


def test_override_reprices_new_vendors(tmp_path):
    path = write(tmp_path, "[stripe]\npercent_fee = 2.5\n"
                           '[anthropic.models."claude-haiku-4-5"]\n'
                           "input_usd_per_mtok = 0.8\noutput_usd_per_mtok = 4.0\n"
                           "[datadog]\nmonthly_fee_usd = 400.0\n")
    plans = load_plans(environ={PLANS_FILE_ENV: str(path)})
    assert plans["stripe"].charge_fee.percent == 2.5
    assert plans["stripe"].charge_fee.fixed_usd == 0.30           # kept from plans.toml
    assert plans["anthropic"].token_prices["claude-haiku-4-5"].input_usd_per_mtok == 0.8
    assert plans["anthropic"].token_prices["claude-opus-4-5"].input_usd_per_mtok == 5.0
    assert plans["datadog"].plan.monthly_fee_usd == 400.0
    assert plans["datadog"].plan.monthly_budget_usd == 310.0


def test_override_changes_only_its_keys(tmp_path):
    path = write(tmp_path, "[apollo]\nmonthly_budget_usd = 800\n")
    plans = load_plans(environ={PLANS_FILE_ENV: str(path)})
    assert plans["apollo"].plan.monthly_budget_usd == 800.0
    assert plans["apollo"].plan.monthly_fee_usd == 99.0
    assert plans["apollo"].plan.included_credits == 1000


@pytest.mark.parametrize(("text", "message"), [
    ("[apollo]\nmonthly_fee = 99\n", "unknown key apollo.monthly_fee"),
    ('[apollo]\nmonthly_fee_usd = "99"\n', "apollo.monthly_fee_usd must be a number"),
    ("[apollo]\nmonthly_budget_usd = -5\n", "apollo.monthly_budget_usd must not be negative"),
    ("[apollo]\nincluded_credits = 10.5\n", "apollo.included_credits must be a whole number"),
    ("[apolo]\nmonthly_budget_usd = 5\n", "unknown vendor [apolo]"),
    ("[apollo\nmonthly_budget_usd = 5\n", "invalid TOML"),
    ("apollo = 5\n", "must be a table"),
])
def test_bad_file_names_key_and_fix(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(PlanError) as caught:
        load_plans(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_file_names_env_var(tmp_path):
    with pytest.raises(PlanError, match=PLANS_FILE_ENV):
        load_plans(environ={PLANS_FILE_ENV: str(tmp_path / "absent.toml")})


def test_model_price_missing_key(tmp_path):
    # Clay takes a model table here only to reach the model checks; any vendor may hold one.
    path = write(tmp_path, '[clay.models."m1"]\ninput_usd_per_mtok = 1.0\n')
    with pytest.raises(PlanError, match="missing output_usd_per_mtok"):
        load_plans(path)


def test_health_credits_follow_plans_file(runtime, tmp_path, monkeypatch):
    path = write(tmp_path, "[apollo]\nincluded_credits = 500\n[sendgrid]\nincluded_credits = 40000\n")
    monkeypatch.setenv(PLANS_FILE_ENV, str(path))
    now = utcnow()
    write_records(runtime.store, [CallRecord(vendor="apollo", operation="people_enrich", outcome=SUCCESS,
                                             mode="interactive", started_at=now, latency_ms=200.0,
                                             attempts=1, credits=120.0)])
    health = {row.vendor: row for row in vendor_health(runtime, now=now)}
    spend = {vendor.vendor: vendor for vendor in spend_report(runtime.store, load_plans(), now=now).vendors}
    assert health["apollo"].credits_left == 380          # 500 from the file, not the registry's 1,000
    assert health["sendgrid"].credits_left == 40_000
    for vendor in ("apollo", "clay", "sendgrid", "stripe", "anthropic", "datadog"):
        assert health[vendor].credits_left == spend[vendor].credits_left, vendor
        assert health[vendor].credit_unit == spend[vendor].credit_unit, vendor


def test_health_survives_bad_plans_file(runtime, tmp_path, monkeypatch):
    monkeypatch.setenv(PLANS_FILE_ENV, str(write(tmp_path, "[apollo]\nmonthly_fee = 1\n")))
    health = {row.vendor: row for row in vendor_health(runtime)}
    # Health falls back to the registry plan, so it still shows the allowance.
    assert health["apollo"].credits_left == 1000
