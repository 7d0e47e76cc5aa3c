"""`spend` and `sandbox seed-history` as separate processes, as ops run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

from clients.registry import REGISTRY
from console.cli.main import build_parser

VENDOR_KEYS = {"vendor", "fixed_usd", "metered_usd", "total_usd", "budget_usd", "projected_usd",
               "credits_used", "credits_left", "exhausted_on", "vendor_reported_usd"}
MONEY_KEYS = {"fixed_usd", "metered_usd", "total_usd", "budget_usd", "projected_usd"}


def cli(tmp_path, *args, env=None):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("SANDBOX_URL", "DATABASE_URL", "ROLEFERRY_PLANS_FILE")
                   and not any(key in spec.secret_names for spec in REGISTRY.values())}
    environment.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}", **(env or {})})
    return subprocess.run([sys.executable, "-m", "console.cli.main", *args], env=environment,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_seed_then_spend_json(tmp_path):
    seeded = cli(tmp_path, "sandbox", "seed-history", "--days", "45")
    assert seeded.returncode == 0, seeded.stderr
    assert "outage day" in seeded.stdout

    completed = cli(tmp_path, "spend", "--json")
    assert completed.returncode == 0, completed.stderr
    out = json.loads(completed.stdout)
    assert out["month"] == f"{date.today():%Y-%m}"
    assert [vendor["vendor"] for vendor in out["vendors"]] == list(REGISTRY)
    for vendor in out["vendors"]:
        assert VENDOR_KEYS <= set(vendor)
        assert vendor["total_usd"] == round(vendor["fixed_usd"] + vendor["metered_usd"], 2)
    assert set(out["total"]) == MONEY_KEYS
    for key in MONEY_KEYS:
        assert out["total"][key] == round(sum(vendor[key] for vendor in out["vendors"]), 2)


def test_seed_refuses_twice(tmp_path):
    assert cli(tmp_path, "sandbox", "seed-history", "--days", "3").returncode == 0
    again = cli(tmp_path, "sandbox", "seed-history", "--days", "3")
    assert again.returncode == 2
    assert "empty store" in again.stderr


def test_seed_refuses_live_keys(tmp_path):
    completed = cli(tmp_path, "sandbox", "seed-history", "--days", "3", env={"APOLLO_API_KEY": "live-key"})
    assert completed.returncode == 2
    assert "runs only against the sandbox" in completed.stderr


def test_bad_month_exits_two(tmp_path):
    for month in ("2026-13", "last month", "2999-01"):
        completed = cli(tmp_path, "spend", "--month", month)
        assert completed.returncode == 2, month
        assert "month" in completed.stderr
        assert completed.stdout == ""


def test_empty_month_fixed_fees_only(tmp_path):
    completed = cli(tmp_path, "spend", "--month", "2025-02", "--json")
    assert completed.returncode == 0, completed.stderr
    out = json.loads(completed.stdout)
    for vendor in out["vendors"]:
        assert vendor["metered_usd"] == 0.0
        assert vendor["total_usd"] == vendor["fixed_usd"] == vendor["projected_usd"]
        assert vendor["exhausted_on"] is None


def test_bad_plans_file_exits_two(tmp_path):
    plans = tmp_path / "plans.toml"
    plans.write_text("[apollo]\nmonthly_budget = 800\n")
    completed = cli(tmp_path, "spend", env={"ROLEFERRY_PLANS_FILE": str(plans)})
    assert completed.returncode == 2
    assert "unknown key apollo.monthly_budget" in completed.stderr


def test_plans_file_override_applies(tmp_path):
    plans = tmp_path / "plans.toml"
    plans.write_text("[clay]\nmonthly_budget_usd = 900\n")
    completed = cli(tmp_path, "spend", "--json", env={"ROLEFERRY_PLANS_FILE": str(plans)})
    assert completed.returncode == 0, completed.stderr
    vendors = {vendor["vendor"]: vendor for vendor in json.loads(completed.stdout)["vendors"]}
    assert vendors["clay"]["budget_usd"] == 900.0


def test_sandbox_serves_without_action():
    args = build_parser().parse_args(["sandbox", "--port", "9123"])
    assert args.handler.__name__ == "handle_serve"
    assert args.port == 9123
    seed = build_parser().parse_args(["sandbox", "seed-history", "--days", "7"])
    assert seed.handler.__name__ == "handle_seed"
    assert seed.days == 7


def test_reconcile_fills_vendor_figure(tmp_path):
    # No key and no SANDBOX_URL: the command starts its own sandbox, which reports no usage yet.
    completed = cli(tmp_path, "spend", "--reconcile", "--json")
    assert completed.returncode == 0, completed.stderr
    vendors = {vendor["vendor"]: vendor for vendor in json.loads(completed.stdout)["vendors"]}
    assert list(vendors) == list(REGISTRY)
    assert vendors["apollo"]["vendor_reported_usd"] == 99.0
    assert vendors["apollo"]["drift_usd"] == 0.0
    assert vendors["clay"]["vendor_reported_usd"] == 349.0
    assert vendors["sendgrid"]["vendor_reported_usd"] == 20.0
    assert vendors["stripe"]["vendor_reported_usd"] == 0.0
    assert vendors["anthropic"]["vendor_reported_usd"] == 0.0
    assert vendors["datadog"]["vendor_reported_usd"] == 310.0
    for vendor in vendors.values():
        assert vendor["drift_usd"] == 0.0, vendor["vendor"]
