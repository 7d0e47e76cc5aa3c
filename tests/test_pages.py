"""The Health and Enrich pages through Streamlit's AppTest, against the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from clients.registry import REGISTRY
from console.contacts import contacts_for
from console.ui import get_runtime
from tests.conftest import set_fault

PAGES = Path(__file__).resolve().parent.parent / "pages"


@pytest.fixture
def page_env(tmp_path, sandbox, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'console.db'}")
    monkeypatch.setenv("SANDBOX_URL", sandbox.url)
    monkeypatch.setenv("ROLEFERRY_RATE_LIMITS", ",".join(f"{name}=1000/1" for name in REGISTRY))
    for spec in REGISTRY.values():
        for name in spec.secret_names:
            monkeypatch.delenv(name, raising=False)
    return sandbox


def run_page(name: str) -> AppTest:
    app = AppTest.from_file(str(PAGES / name), default_timeout=30)
    app.run()
    assert not app.exception, app.exception
    return app


def test_health_cards_for_every_vendor(page_env):
    app = run_page("health.py")
    text = "\n".join(m.value for m in app.markdown)
    for spec in REGISTRY.values():
        assert spec.display_name in text
    assert "idle" in text
    assert "No calls in the last hour" in "\n".join(i.value for i in app.info)


def test_enrich_then_health_counts_calls(page_env):
    app = run_page("enrich.py")
    app.text_input[0].input("acme.com")
    app.button[0].click().run()
    assert not app.exception
    assert "from apollo" in app.success[0].value
    frame = app.dataframe[0].value
    assert list(frame["source"].unique()) == ["apollo"]
    assert all(frame["email"].str.endswith("@acme.com"))

    health = run_page("health.py")
    metrics = {m.label: m.value for m in health.metric}
    assert "Calls" in metrics
    calls = [m.value for m in health.metric if m.label == "Calls"]
    assert calls[0] != "0"


def test_enrich_shows_skip_reason(page_env):
    set_fault(page_env, "apollo", "out_of_credits")
    app = run_page("enrich.py")
    app.text_input[0].input("acme.com")
    app.button[0].click().run()
    assert "Skipped apollo: OutOfCredits" in app.warning[0].value
    assert "from clay" in app.success[0].value


def test_enrich_invalid_domain_message(page_env):
    app = run_page("enrich.py")
    app.text_input[0].input("not a domain")
    app.button[0].click().run()
    assert "is not a valid domain" in app.error[0].value


def test_manual_contact_when_nobody_found(page_env):
    app = run_page("enrich.py")
    app.text_input[0].input("nobody-home.com")
    app.button[0].click().run()
    assert "Add contacts by hand" in app.error[0].value
    name, title, email = app.text_input[2], app.text_input[3], app.text_input[4]
    name.input("Jane Roe")
    title.input("CTO")
    email.input("jane@nobody-home.com")
    app.button[1].click().run()
    assert not app.exception
    assert "with source manual" in app.success[0].value
    stored = contacts_for(get_runtime().store, "nobody-home.com")
    assert [(c.name, c.source) for c in stored] == [("Jane Roe", "manual")]


def test_test_call_free_probe(page_env):
    app = run_page("test_calls.py")
    assert "****" in app.caption[-1].value
    app.button[0].click().run()
    assert not app.exception
    assert "apollo.health succeeded" in app.success[0].value
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Outcome"] == "success"
    assert metrics["Attempts"] == "1"


def test_test_call_paid_probe_needs_confirmation(page_env):
    app = run_page("test_calls.py")
    app.selectbox[1].set_value(REGISTRY["apollo"].probes[2]).run()
    assert "spends vendor credits" in app.warning[0].value
    assert app.button[0].disabled
    app.checkbox[0].check().run()
    assert not app.button[0].disabled
    app.button[0].click().run()
    assert "apollo.people_enrich succeeded" in app.success[0].value


def test_test_call_failure_shown(page_env):
    set_fault(page_env, "apollo", "auth_failure")
    app = run_page("test_calls.py")
    app.button[0].click().run()
    assert "ended in AuthFailed" in app.error[0].value


def test_runbook_renders_registry(page_env):
    app = AppTest.from_file(str(PAGES / "runbooks.py"), default_timeout=30)
    app.query_params["vendor"] = "clay"
    app.run()
    assert not app.exception
    assert app.header[0].value == "Clay"
    text = "\n".join(m.value for m in app.markdown)
    assert REGISTRY["clay"].support_contact in text
    assert "Escalation" in text
    codes = app.dataframe[0].value
    assert 402 in list(codes["status"])
