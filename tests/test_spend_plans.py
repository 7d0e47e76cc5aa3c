"""Plans file loading: shipped defaults, per-deployment overrides, and clear errors."""

from __future__ import annotations

import pytest

from console.spend.plans import PLANS_FILE_ENV, PlanError, load_plans


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
