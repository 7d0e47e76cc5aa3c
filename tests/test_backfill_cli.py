"""`roleferry-console backfill` through the CLI entry point, against the sandbox."""

from __future__ import annotations

import json

import pytest

from clients.registry import REGISTRY
from console.cli.main import main
from tests.conftest import sandbox_stats, set_fault


@pytest.fixture
def cli_env(tmp_path, sandbox, monkeypatch):
    for spec in REGISTRY.values():
        for name in spec.secret_names:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("SANDBOX_URL", sandbox.url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'console.db'}")
    monkeypatch.setenv("ROLEFERRY_RATE_LIMITS", "apollo=1000/1,clay=1000/1")
    monkeypatch.setenv("DD_DOGSTATSD_PORT", "9")
    return tmp_path


def write_csv(path, rows: int, *, extra: str = "") -> str:
    text = "domain,titles,application_id\n" + "".join(
        f"cli{i}.com,VP Engineering;Head of Engineering,APP-{i}\n" for i in range(rows)) + extra
    path.write_text(text)
    return str(path)


def test_backfill_json_summary(cli_env, capsys):
    path = write_csv(cli_env / "in.csv", 20, extra="bad,CTO,X\ncli0.com,VP Engineering;Head of Engineering,APP-0\n")
    assert main(["backfill", path, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"] == 20
    assert data["invalid"] == 1
    assert data["duplicates"] == 1
    assert data["done"] + data["no_match"] + data["failed"] + data["skipped"] == 20
    assert data["credits"] > 0
    assert data["cost_usd"] > 0
    assert data["job_id"]


def test_backfill_text_output_reports_rows(cli_env, capsys):
    path = write_csv(cli_env / "in.csv", 3, extra="https://www.cli9.com/about,CTO,APP-9\n")
    assert main(["backfill", path]) == 0
    captured = capsys.readouterr()
    assert "done" in captured.out
    assert "line 5, domain: took the domain from the URL" in captured.err


def test_dry_run_calls_no_vendor(cli_env, sandbox, capsys):
    path = write_csv(cli_env / "in.csv", 10, extra="bad,CTO,X\n")
    assert main(["backfill", path, "--dry-run", "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["dry_run"] is True
    assert data["rows"] == 10
    assert data["invalid"] == 1
    # With --json the per-row report still goes to stderr, line number first.
    assert "invalid: line 12, domain:" in captured.err
    assert data["duplicates"] == 0
    assert data["estimated_credits"] == 30
    assert data["estimated_cost_usd"] == pytest.approx(6.0)
    assert data["estimated_seconds"] > 0
    assert all(stats["requests_total"] == 0 for stats in sandbox_stats(sandbox).values())


def test_budget_credits_stops_at_100(cli_env, capsys):
    path = write_csv(cli_env / "in.csv", 80)
    assert main(["backfill", path, "--budget-credits", "100", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["credits"] <= 100
    assert data["status"] == "paused"
    assert "credit budget reached" in data["status_reason"]
    assert data["queued"] > 0


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", b"", "empty"),
    ("nodomain.csv", b"company,titles\nacme.com,CTO\n", "no 'domain' column"),
    ("book.xlsx", b"PK\x03\x04", "not a CSV"),
    ("allbad.csv", b"domain,titles\nbad,CTO\n", "no valid rows"),
])
def test_bad_input_exits_2(cli_env, capsys, name, content, message):
    path = cli_env / name
    path.write_bytes(content)
    assert main(["backfill", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_missing_file_and_bad_budget_exit_2(cli_env, capsys):
    assert main(["backfill", str(cli_env / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    path = write_csv(cli_env / "in.csv", 1)
    assert main(["backfill", path, "--budget-usd", "-5"]) == 2
    assert "negative" in capsys.readouterr().err
    assert main(["backfill"]) == 2
    assert "no input" in capsys.readouterr().err


def test_vendor_failure_exits_1(cli_env, sandbox, capsys):
    set_fault(sandbox, "apollo", "auth_failure")
    set_fault(sandbox, "clay", "auth_failure")
    path = write_csv(cli_env / "in.csv", 3)
    assert main(["backfill", path, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["failed"] == 3
