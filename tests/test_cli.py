"""The command line, run as separate processes over one store, as ops would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from clients.registry import REGISTRY
from tests.conftest import sandbox_stats


def cli(tmp_path, *args, env=None, check=True):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("SANDBOX_URL", "DATABASE_URL", "ROLEFERRY_SANDBOX_FAULTS")
                   and not any(key in spec.secret_names for spec in REGISTRY.values())}
    environment.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}", **(env or {})})
    completed = subprocess.run([sys.executable, "-m", "console.cli.main", *args], env=environment,
                               capture_output=True, text=True, timeout=120, cwd=tmp_path)
    if check:
        assert completed.returncode == 0, completed.stderr
    return completed


def test_enrich_json_shape(tmp_path):
    out = json.loads(cli(tmp_path, "enrich", "--domain", "acme.com", "--title", "VP Engineering", "--json").stdout)
    assert set(out) == {"domain", "provider", "contacts", "skipped", "credits", "cost_usd"}
    assert out["domain"] == "acme.com"
    assert out["provider"] == "apollo"
    assert out["contacts"]
    assert set(out["contacts"][0]) == {"name", "title", "email", "source"}


def test_apollo_down_then_health_shows_open_breaker(tmp_path):
    env = {"ROLEFERRY_SANDBOX_FAULTS": "apollo=down"}
    for _ in range(2):
        cli(tmp_path, "enrich", "--domain", "acme.com", "--title", "CTO", "--json", env=env)
    out = json.loads(cli(tmp_path, "enrich", "--domain", "acme.com", "--title", "CTO", "--json", env=env).stdout)
    assert out["provider"] == "clay"
    assert out["skipped"][0]["provider"] == "apollo"
    assert out["skipped"][0]["reason"].startswith("breaker open")

    health = json.loads(cli(tmp_path, "health", "--json").stdout)
    apollo = next(row for row in health if row["vendor"] == "apollo")
    assert set(apollo) == {"vendor", "status", "breaker", "calls", "error_rate", "p95_ms", "credits_left"}
    assert apollo["breaker"] == "open"
    assert apollo["status"] == "down"
    assert apollo["calls"] >= 2


@pytest.mark.parametrize("domain", ["", "not a domain", "acme"])
def test_bad_domain_exit_code_two(tmp_path, sandbox, domain):
    completed = cli(tmp_path, "enrich", "--domain", domain, "--title", "CTO", check=False,
                    env={"SANDBOX_URL": sandbox.url})
    assert completed.returncode == 2
    assert "domain" in completed.stderr
    assert completed.stdout == ""
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == 0


def test_bad_fault_spec_exit_code_two(tmp_path):
    completed = cli(tmp_path, "health", check=False, env={"ROLEFERRY_SANDBOX_FAULTS": "apollo=sideways"})
    assert completed.returncode == 2
    assert "unknown fault mode 'sideways'" in completed.stderr


def test_probe_all_json(tmp_path):
    out = json.loads(cli(tmp_path, "probe", "all", "--json").stdout)
    assert [row["vendor"] for row in out] == list(REGISTRY)
    for row in out:
        assert row["outcome"] == "success"
        assert row["attempts"] == 1
        assert set(row) == {"vendor", "operation", "outcome", "status_code", "latency_ms", "attempts"}


def test_probe_failure_exit_code_one(tmp_path):
    completed = cli(tmp_path, "probe", "apollo", "--json", check=False,
                    env={"ROLEFERRY_SANDBOX_FAULTS": "apollo=auth_failure"})
    assert completed.returncode == 1
    assert json.loads(completed.stdout)[0]["outcome"] == "AuthFailed"


def test_probe_all_with_anthropic_overloaded(tmp_path):
    completed = cli(tmp_path, "probe", "all", "--json", check=False,
                    env={"ROLEFERRY_SANDBOX_FAULTS": "anthropic=overloaded"})
    assert completed.returncode == 1
    rows = {row["vendor"]: row for row in json.loads(completed.stdout)}
    assert rows["anthropic"]["outcome"] == "VendorUnavailable"
    assert rows["anthropic"]["attempts"] == REGISTRY["anthropic"].retry.attempts
    others = [row["outcome"] for vendor, row in rows.items() if vendor != "anthropic"]
    assert others == ["success"] * (len(REGISTRY) - 1)


def test_removed_key_is_misconfigured(tmp_path):
    env = {"APOLLO_API_KEY": ""}
    enrich = json.loads(cli(tmp_path, "enrich", "--domain", "acme.com", "--title", "CTO", "--json", env=env).stdout)
    assert enrich["provider"] == "clay"
    assert enrich["skipped"][0]["reason"].startswith("NotConfigured")
    health = {row["vendor"]: row for row in json.loads(cli(tmp_path, "health", "--json", env=env).stdout)}
    assert health["apollo"]["status"] == "misconfigured"
    assert health["clay"]["status"] == "healthy"
