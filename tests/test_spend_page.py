"""The Spend page through Streamlit's AppTest, against a seeded store and the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from clients.registry import REGISTRY
from console.spend.figures import month_label, month_options, parse_month, spend_report
from console.spend.plans import load_plans
from console.spend.seed import seed_history
from console.store import Store
from console.store.times import utcnow

PAGE = Path(__file__).resolve().parent.parent / "pages" / "spend.py"
MONEY_KEYS = ("fixed_usd", "metered_usd", "total_usd", "budget_usd", "projected_usd")


@pytest.fixture
def page_env(tmp_path, sandbox, monkeypatch):
    database_url = f"sqlite:///{tmp_path / 'console.db'}"
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SANDBOX_URL", sandbox.url)
    monkeypatch.setenv("ROLEFERRY_RATE_LIMITS", ",".join(f"{name}=1000/1" for name in REGISTRY))
    monkeypatch.delenv("ROLEFERRY_PLANS_FILE", raising=False)
    for spec in REGISTRY.values():
        for name in spec.secret_names:
            monkeypatch.delenv(name, raising=False)
    return database_url


@pytest.fixture
def seeded(page_env):
    store = Store(page_env)
    store.migrate()
    seed_history(store, 45)
    store.dispose()
    return page_env


def run_page() -> AppTest:
    app = AppTest.from_file(str(PAGE), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def spend_json(database_url: str, *args: str) -> dict[str, object]:
    environment = {key: value for key, value in os.environ.items() if key != "SANDBOX_URL"}
    environment["DATABASE_URL"] = database_url
    completed = subprocess.run([sys.executable, "-m", "console.cli.main", "spend", "--json", *args],
                               env=environment, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_page_agrees_with_cli_to_the_cent(seeded):
    cli = spend_json(seeded)
    app = run_page()
    figures = app.dataframe[0].value
    assert list(figures["vendor"]) == [vendor["vendor"] for vendor in cli["vendors"]]
    for row, vendor in zip(figures.to_dict("records"), cli["vendors"], strict=True):
        for key in MONEY_KEYS:
            assert round(row[key] * 100) == round(vendor[key] * 100), (vendor["vendor"], key)
        assert row["credits_used"] == vendor["credits_used"]
    shown = metrics(app)
    assert shown["Month to date, all vendors"] == f"${cli['total']['total_usd']:,.2f}"
    assert shown["Projected to month end"] == f"${cli['total']['projected_usd']:,.2f}"
    assert shown["Budget, all vendors"] == f"${cli['total']['budget_usd']:,.2f}"


def test_page_has_charts_and_csv(seeded):
    app = run_page()
    assert len(app.get("plotly_chart")) == 3
    labels = [button.label for button in app.get("download_button")]
    assert labels == ["Download figures (CSV)", "Download daily figures (CSV)"]
    cards = "\n".join(markdown.value for markdown in app.markdown)
    for spec in REGISTRY.values():
        assert spec.display_name in cards


def test_month_picker_shows_that_month(seeded):
    app = run_page()
    previous = (utcnow().date().replace(day=1) - timedelta(days=1)).replace(day=1)
    app.selectbox[0].select(month_label(previous)).run()
    assert not app.exception
    store = Store(seeded)
    expected = spend_report(store, load_plans(), month=parse_month(app.selectbox[0].value))
    store.dispose()
    assert expected.month == previous
    shown = metrics(app)
    assert shown["Month to date, all vendors"] == f"${expected.total['total_usd']:,.2f}"
    # A finished month projects exactly what it spent.
    assert shown["Projected to month end"] == shown["Month to date, all vendors"]


def test_empty_month_shows_fixed_fees(seeded):
    app = run_page()
    # The oldest month offered lies eleven months back, before the 45 seeded days.
    store = Store(seeded)
    oldest = month_options(store)[-1]
    store.dispose()
    app.selectbox[0].select(month_label(oldest)).run()
    assert not app.exception
    assert "only fixed fees are shown" in app.info[0].value
    fixed = sum(plan.plan.monthly_fee_usd for plan in load_plans().values())
    assert metrics(app)["Month to date, all vendors"] == f"${fixed:,.2f}"


def test_new_store_shows_fixed_fees(page_env):
    app = run_page()
    assert app.selectbox[0].value == f"{utcnow():%Y-%m}"
    assert app.selectbox[0].options[0] == f"{utcnow():%B %Y}"
    assert "No calls recorded" in app.info[0].value
    assert metrics(app)["Cost per successful enrichment"] == "–"


def test_fetch_reports_shows_drift(page_env, sandbox):
    httpx.post(f"{sandbox.url}/_admin/usage", json={"vendor": "apollo", "credits_used": 1100}).raise_for_status()
    app = run_page()
    app.button[0].click().run()
    assert not app.exception
    text = "\n".join(markdown.value for markdown in app.markdown)
    assert "Apollo reports **$119.00 (1,100 credits)** (authoritative)" in text
    assert "drift +20.00 USD, +1,100 credits" in text


def test_overrun_and_exhaustion_highlighted(seeded, tmp_path, monkeypatch):
    plans = tmp_path / "tight.toml"
    plans.write_text("[apollo]\nmonthly_budget_usd = 50\nincluded_credits = 5\n")
    monkeypatch.setenv("ROLEFERRY_PLANS_FILE", str(plans))
    app = run_page()
    assert any("Over budget" in error.value for error in app.error)
    assert any("Credits ran out on" in warning.value for warning in app.warning)


def test_bad_plans_file_shown(page_env, tmp_path, monkeypatch):
    plans = tmp_path / "bad.toml"
    plans.write_text("[apollo]\nmonthly_fee_usd = 'ninety'\n")
    monkeypatch.setenv("ROLEFERRY_PLANS_FILE", str(plans))
    app = run_page()
    assert "apollo.monthly_fee_usd must be a number" in app.error[0].value
