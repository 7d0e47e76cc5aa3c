"""The ops pages through AppTest: breaker controls on Health, roles, Alerts and Audit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from clients.recording import SUCCESS, CallRecord
from clients.registry import REGISTRY
from console.access import PermissionDenied, User
from console.audit import AuditFilter, audit_entries, record_audit
from console.breaker_control import change_breaker
from console.recorder import write_records
from console.store.times import floor_minute, utcnow
from console.ui import get_runtime
from tests.test_pages import PAGES, run_page


@pytest.fixture
def ops_env(tmp_path, sandbox, monkeypatch):
    """A store of its own and the test sandbox, with no vendor key and no role narrowing."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'console.db'}")
    monkeypatch.setenv("SANDBOX_URL", sandbox.url)
    monkeypatch.setenv("ROLEFERRY_RATE_LIMITS", ",".join(f"{name}=1000/1" for name in REGISTRY))
    monkeypatch.delenv("ROLEFERRY_SANDBOX_ROLES", raising=False)
    for spec in REGISTRY.values():
        for name in spec.secret_names:
            monkeypatch.delenv(name, raising=False)
    return sandbox


def force_from_health(app, label: str, reason: str):
    form_radio = next(radio for radio in app.radio if radio.label == "Action")
    form_radio.set_value(label)
    next(box for box in app.text_input if box.label == "Reason").input(reason)
    next(button for button in app.button if button.label == "Apply").click()
    app.run()
    assert not app.exception, app.exception
    return app


def texts(elements) -> str:
    return "\n".join(str(element.value) for element in elements)


def test_force_open_shows_and_reroutes(ops_env):
    health = run_page("health.py")
    assert "No breaker is overridden" in texts(health.caption)
    force_from_health(health, "Force open", "Apollo outage drill")
    warnings = texts(health.warning)
    assert "Apollo breaker forced open by local sandbox user" in warnings
    assert "Apollo outage drill" in warnings

    again = run_page("health.py")
    assert "Apollo outage drill" in texts(again.warning)

    enrich_page = run_page("enrich.py")
    enrich_page.text_input[0].input("acme.com")
    enrich_page.button[0].click().run()
    assert "Skipped apollo: breaker forced open: Apollo outage drill" in enrich_page.warning[0].value
    assert "from clay" in enrich_page.success[0].value

    entries = audit_entries(get_runtime().store, AuditFilter(action="breaker.open"))
    assert [(e["user"], e["vendor"], e["detail"], e["outcome"]) for e in entries] == [
        ("local sandbox user", "apollo", "Apollo outage drill", "ok")]
    enrich_entries = audit_entries(get_runtime().store, AuditFilter(action="enrich"))
    assert "provider clay" in enrich_entries[0]["detail"]


def test_reset_lifts_override(ops_env):
    health = run_page("health.py")
    force_from_health(health, "Force open", "drill")
    force_from_health(health, "Reset (lift override)", "drill over")
    assert "No breaker is overridden" in texts(health.caption)
    assert get_runtime().breaker("apollo").state == "closed"


def test_reason_required(ops_env):
    health = run_page("health.py")
    force_from_health(health, "Force open", "   ")
    assert "a reason is required" in texts(health.error)
    assert "No breaker is overridden" in texts(health.caption)


@pytest.mark.parametrize("role", ["leadership", "support"])
def test_role_without_ops_sees_no_controls(ops_env, monkeypatch, role):
    monkeypatch.setenv("ROLEFERRY_SANDBOX_ROLES", role)
    health = run_page("health.py")
    assert f"with the role {role}" in texts(health.caption)
    assert [button.label for button in health.button if button.label == "Apply"] == []
    assert [radio for radio in health.radio if radio.label == "Action"] == []
    assert "needs the ops role" in texts(health.info)

    user = User(name=f"{role}@roleferry.com", roles=frozenset({role}))
    with pytest.raises(PermissionDenied, match="needs the ops role"):
        change_breaker(get_runtime(), user, "apollo", "open", "I want to")
    assert get_runtime().breaker("apollo").override() is None
    denied = audit_entries(get_runtime().store, AuditFilter(action="breaker.open"))
    assert denied[0]["outcome"].startswith("denied")


def test_leadership_cannot_enrich(ops_env, monkeypatch):
    monkeypatch.setenv("ROLEFERRY_SANDBOX_ROLES", "leadership")
    app = run_page("enrich.py")
    assert "needs the ops or support role" in texts(app.warning)
    assert len(app.text_input) == 0


def write_failures(store, vendor: str, count: int) -> None:
    now = floor_minute(utcnow())
    write_records(store, [CallRecord(vendor=vendor, operation="people_search", outcome="VendorUnavailable",
                                     mode="interactive", started_at=now, latency_ms=90.0, attempts=3,
                                     breaker_failure=True) for _ in range(count)]
                  + [CallRecord(vendor=vendor, operation="people_search", outcome=SUCCESS, mode="interactive",
                                started_at=now, latency_ms=90.0, attempts=1) for _ in range(count)])


def test_alerts_page_lists_firing_and_history(ops_env):
    app = run_page("alerts.py")
    assert "Nothing is firing." in texts(app.success)
    assert "No monitor fired in the last 7 days" in texts(app.info)

    write_failures(get_runtime().store, "clay", 15)
    app = run_page("alerts.py")
    firing = texts(app.error)
    assert "Clay error rate high" in firing
    assert "error rate 50.0%" in firing
    assert "/runbooks?vendor=clay" in firing
    every = app.dataframe[0].value
    assert set(every["state"]) >= {"alert", "OK"}
    assert "/runbooks?vendor=apollo" in set(every["runbook"])
    history = app.dataframe[1].value
    assert ("Clay error rate high", "alert") in set(zip(history["monitor"], history["to"], strict=True))


def test_health_shows_firing_alerts(ops_env):
    write_failures(get_runtime().store, "apollo", 15)
    health = run_page("health.py")
    assert "Apollo error rate high" in texts(health.error)


def test_audit_page_filters_and_exports(ops_env):
    store = get_runtime().store
    now = utcnow()
    record_audit(store, "ana@roleferry.com", "breaker.open", vendor="apollo", detail="outage", at=now)
    record_audit(store, "sam@roleferry.com", "enrich", detail="=HYPERLINK(\"x\")", at=now)
    record_audit(store, "old@roleferry.com", "enrich", detail="long ago", at=now - timedelta(days=30))
    app = run_page("audit.py")
    frame = app.dataframe[0].value
    assert set(frame["user"]) == {"ana@roleferry.com", "sam@roleferry.com"}

    next(box for box in app.selectbox if box.label == "Action").set_value("breaker.open").run()
    frame = app.dataframe[0].value
    assert list(frame["user"]) == ["ana@roleferry.com"]

    next(box for box in app.selectbox if box.label == "Action").set_value("(any)").run()
    next(box for box in app.selectbox if box.label == "User").set_value("sam@roleferry.com").run()
    assert list(app.dataframe[0].value["action"]) == ["enrich"]

    assert app.get("download_button")[0].proto.label == "Download CSV"


def test_audit_page_admin_only(ops_env, monkeypatch):
    monkeypatch.setenv("ROLEFERRY_SANDBOX_ROLES", "ops,support")
    app = run_page("audit.py")
    assert "needs the admin role" in texts(app.warning)
    assert len(app.dataframe) == 0


APP = Path(__file__).resolve().parent.parent / "console" / "app.py"


def run_app() -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.run()
    assert not app.exception, app.exception
    return app


def test_app_runs_health_for_leadership(ops_env, monkeypatch):
    monkeypatch.setenv("ROLEFERRY_SANDBOX_ROLES", "leadership")
    app = run_app()
    assert "with the role leadership" in texts(app.sidebar.caption)
    assert "Vendor health" in texts(app.title)
    assert [button.label for button in app.button if button.label == "Apply"] == []


def production_env(monkeypatch, tmp_path, roles_text: str | None = None) -> None:
    """Live-looking keys and no SANDBOX_URL, so the console takes the sign-in path; no page
    load calls a vendor, so the placeholder keys are never sent anywhere."""
    monkeypatch.delenv("SANDBOX_URL")
    for spec in REGISTRY.values():
        monkeypatch.setenv(spec.secret_names[0], f"placeholder-{spec.name}")
    if roles_text is not None:
        path = tmp_path / "roles.toml"
        path.write_text(roles_text)
        monkeypatch.setenv("ROLEFERRY_ROLES_FILE", str(path))


def test_production_without_auth_config(ops_env, monkeypatch, tmp_path):
    production_env(monkeypatch, tmp_path)
    app = run_page("health.py")
    assert "Sign-in is not configured" in texts(app.error)
    assert len(app.metric) == 0


def test_production_asks_to_sign_in(ops_env, monkeypatch, tmp_path):
    production_env(monkeypatch, tmp_path, '[roles]\n"ana@roleferry.com" = ["ops"]\n')
    app = AppTest.from_file(str(PAGES / "health.py"), default_timeout=30)
    app.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test",
                           "client_id": "console", "client_secret": "test",
                           "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
    app.run()
    assert not app.exception, app.exception
    assert [button.label for button in app.button] == ["Sign in"]
    assert len(app.metric) == 0


@pytest.mark.parametrize(("email", "controls"), [("ana@roleferry.com", True), ("lee@roleferry.com", False)])
def test_signed_in_roles_from_map(ops_env, monkeypatch, tmp_path, email, controls):
    role_map = '[roles]\n"ana@roleferry.com" = ["ops"]\n"lee@roleferry.com" = ["leadership"]\n'
    production_env(monkeypatch, tmp_path, role_map)
    app = AppTest.from_file(str(PAGES / "health.py"), default_timeout=30)
    app.secrets["auth"] = {"client_id": "console"}
    app.user = {"is_logged_in": True, "email": email}
    app.run()
    assert not app.exception, app.exception
    assert f"Signed in as {email}" in texts(app.caption)
    assert bool([button for button in app.button if button.label == "Apply"]) is controls


def test_signed_in_without_role_stopped(ops_env, monkeypatch, tmp_path):
    production_env(monkeypatch, tmp_path, '[roles]\n"ana@roleferry.com" = ["ops"]\n')
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.secrets["auth"] = {"client_id": "console"}
    app.user = {"is_logged_in": True, "email": "stranger@example.com"}
    app.run()
    assert not app.exception, app.exception
    assert "You are signed in as stranger@example.com (no role)" in texts(app.warning)
    assert len(app.title) == 0
