"""Breaker overrides, roles and the audit log, through the services and the CLI."""

from __future__ import annotations

import csv
import getpass
import io
import json
from datetime import UTC, datetime

import pytest

from clients.breaker import VendorBreaker
from clients.errors import CircuitOpen, VendorUnavailable
from clients.registry.spec import BreakerPolicy
from console.access import PermissionDenied, User, cli_user, load_role_map, require_role, user_for_email
from console.audit import AuditFilter, audit_csv, audit_entries
from console.breaker_control import InvalidBreakerAction, active_overrides, change_breaker
from console.config import ConfigError
from console.contacts import add_manual_contact
from console.enrichment import enrich
from console.runtime import open_runtime
from tests.conftest import sandbox_stats, set_fault
from tests.test_ops_monitors import cli

OPS = User(name="ana@roleferry.com", roles=frozenset({"ops"}))
LEADERSHIP = User(name="lee@roleferry.com", roles=frozenset({"leadership"}))


def failure() -> VendorUnavailable:
    return VendorUnavailable("down", vendor="apollo", operation="people_search")


def test_breaker_honours_override_lookup():
    overrides: dict[str, tuple[str, str]] = {}
    breaker = VendorBreaker("apollo", BreakerPolicy(fail_max=1, reset_timeout=60), override_lookup=overrides.get)
    breaker.before_request("people_search")

    overrides["apollo"] = ("open", "vendor outage")
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen, match="forced open: vendor outage"):
        breaker.before_request("people_search")

    del overrides["apollo"]
    breaker.record_failure(failure())
    assert breaker.state == "open"
    overrides["apollo"] = ("closed", "false alarm")
    assert breaker.state == "closed"
    assert breaker.stored_state == "open"
    breaker.before_request("people_search")


def test_forced_open_sends_enrichment_to_clay(runtime, sandbox):
    override = change_breaker(runtime, OPS, "apollo", "open", "Apollo outage")
    assert override is not None
    assert override.set_by == OPS.name
    result = enrich(runtime, "acme.com", ["CTO"])
    assert result.provider == "clay"
    assert result.skipped[0].reason == "breaker forced open: Apollo outage"
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == 0
    assert [(o.vendor, o.mode, o.reason) for o in active_overrides(runtime.store)] == [
        ("apollo", "open", "Apollo outage")]
    entries = audit_entries(runtime.store, AuditFilter(vendor="apollo"))
    assert [(e["action"], e["user"], e["outcome"]) for e in entries] == [("breaker.open", OPS.name, "ok")]


def test_override_seen_by_other_process(runtime, settings):
    other = open_runtime(settings)
    clock = [1000.0]
    other.overrides._clock = lambda: clock[0]
    try:
        change_breaker(runtime, OPS, "apollo", "open", "drill")
        with pytest.raises(CircuitOpen, match="drill"):
            other.breaker("apollo").before_request("people_search")
        change_breaker(runtime, OPS, "apollo", "reset", "drill over")
        # The other process keeps its read for the cache's lifetime, then notices the reset.
        with pytest.raises(CircuitOpen, match="drill"):
            other.breaker("apollo").before_request("people_search")
        clock[0] += other.overrides.CACHE_SECONDS + 0.01
        other.breaker("apollo").before_request("people_search")
    finally:
        other.close()


def test_forced_closed_lets_calls_through(runtime, sandbox, no_sleep):
    set_fault(sandbox, "apollo", "down")
    enrich(runtime, "acme.com", ["CTO"])
    enrich(runtime, "acme.com", ["CTO"])
    assert runtime.breaker("apollo").state == "open"
    set_fault(sandbox, "apollo", "normal")

    change_breaker(runtime, OPS, "apollo", "close", "Apollo is back, confirmed on status page")
    sent = sandbox_stats(sandbox)["apollo"]["requests_total"]
    result = enrich(runtime, "acme.com", ["CTO"])
    assert result.provider == "apollo"
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] > sent

    change_breaker(runtime, OPS, "apollo", "reset", "done")
    assert active_overrides(runtime.store) == []
    assert runtime.breaker("apollo").stored_state == "closed"


def test_breaker_input_checked(runtime):
    with pytest.raises(InvalidBreakerAction, match="unknown vendor"):
        change_breaker(runtime, OPS, "acme", "open", "x")
    with pytest.raises(InvalidBreakerAction, match="unknown breaker action"):
        change_breaker(runtime, OPS, "apollo", "explode", "x")
    with pytest.raises(InvalidBreakerAction, match="reason is required"):
        change_breaker(runtime, OPS, "apollo", "open", "  ")


def test_leadership_refused_by_services(runtime, sandbox):
    with pytest.raises(PermissionDenied, match="needs the ops role"):
        change_breaker(runtime, LEADERSHIP, "apollo", "open", "curious")
    assert active_overrides(runtime.store) == []
    with pytest.raises(PermissionDenied, match="ops or support"):
        enrich(runtime, "acme.com", ["CTO"], actor=LEADERSHIP)
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == 0
    with pytest.raises(PermissionDenied):
        add_manual_contact(runtime.store, "acme.com", "Jo Doe", "CTO", "jo@acme.com", created_by=LEADERSHIP.name,
                           actor=LEADERSHIP)
    denied = audit_entries(runtime.store, AuditFilter(action="breaker.open"))
    assert denied[0]["outcome"].startswith("denied")


def test_require_role_backfill_rule():
    require_role(OPS, "ops", "a backfill")
    require_role(User("root", frozenset({"admin"})), "ops", "a backfill")
    with pytest.raises(PermissionDenied, match="lee@roleferry.com .leadership. may not do a backfill"):
        require_role(LEADERSHIP, "ops", "a backfill")


def test_enrich_and_contact_audited(runtime):
    support = User(name="sam@roleferry.com", roles=frozenset({"support"}))
    enrich(runtime, "nobody-here.com", ["CTO"], actor=support)
    add_manual_contact(runtime.store, "nobody-here.com", "Jo Doe", "CTO", "jo@nobody-here.com",
                       created_by=support.name, actor=support)
    entries = audit_entries(runtime.store, AuditFilter(user=support.name))
    assert [e["action"] for e in entries] == ["contact.add", "enrich"]
    assert entries[1]["detail"].startswith("nobody-here.com: CTO; provider none, 0 contacts")
    assert entries[0]["outcome"] == "ok"


def test_role_map_parsing(tmp_path):
    path = tmp_path / "roles.toml"
    path.write_text('[roles]\n"Ana@RoleFerry.com" = ["ops", "support"]\n"lee@roleferry.com" = "leadership"\n')
    role_map = load_role_map(path)
    assert user_for_email("ana@roleferry.com", role_map).roles == {"ops", "support"}
    assert user_for_email("lee@roleferry.com", role_map).roles == {"leadership"}
    assert user_for_email("stranger@example.com", role_map).roles == frozenset()

    path.write_text('[roles]\n"ana@roleferry.com" = ["superuser"]\n')
    with pytest.raises(ConfigError, match="unknown role 'superuser'"):
        load_role_map(path)
    path.write_text("[roles\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_role_map(path)


def test_cli_user_admin_unless_mapped(tmp_path, monkeypatch):
    monkeypatch.delenv("ROLEFERRY_ROLES_FILE", raising=False)
    assert cli_user(tmp_path).roles == {"admin"}
    path = tmp_path / "roles.toml"
    path.write_text(f'[roles]\n"cli:{getpass.getuser()}" = ["support"]\n')
    monkeypatch.setenv("ROLEFERRY_ROLES_FILE", str(path))
    assert cli_user(tmp_path).roles == {"support"}


def test_audit_csv_neutralises_formulas():
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    text = audit_csv([{"at": at, "user": "=cmd|' /C calc'!A0", "action": "enrich", "vendor": "",
                       "detail": "+1", "outcome": "ok"}])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["user"].startswith("'=")
    assert rows[0]["detail"] == "'+1"
    assert rows[0]["at"] == "2026-03-02T09:00:00+00:00"


def test_cli_breaker_open_then_reset(tmp_path):
    opened = cli(tmp_path, "breaker", "apollo", "open", "--reason", "planned maintenance", "--json")
    assert opened.returncode == 0, opened.stderr
    data = json.loads(opened.stdout)
    assert data["state"] == "open"
    assert data["override"]["reason"] == "planned maintenance"
    assert data["override"]["set_by"] == f"cli:{getpass.getuser()}"

    health = json.loads(cli(tmp_path, "health", "--json").stdout)
    assert next(row for row in health if row["vendor"] == "apollo")["status"] == "down"

    enriched = json.loads(cli(tmp_path, "enrich", "--domain", "acme.com", "--title", "CTO", "--json").stdout)
    assert enriched["provider"] == "clay"
    assert enriched["skipped"][0]["reason"] == "breaker forced open: planned maintenance"

    reset = cli(tmp_path, "breaker", "apollo", "reset", "--reason", "maintenance over")
    assert reset.returncode == 0, reset.stderr
    assert "override lifted, breaker closed" in reset.stdout


def test_cli_breaker_refused_by_role_map(tmp_path):
    path = tmp_path / "roles.toml"
    path.write_text(f'[roles]\n"cli:{getpass.getuser()}" = ["support"]\n')
    completed = cli(tmp_path, "breaker", "apollo", "open", "--reason", "x",
                    env={"ROLEFERRY_ROLES_FILE": str(path)})
    assert completed.returncode == 2
    assert "needs the ops role" in completed.stderr


def test_cli_breaker_needs_reason(tmp_path):
    completed = cli(tmp_path, "breaker", "apollo", "open")
    assert completed.returncode == 2
    assert "--reason" in completed.stderr


def test_cli_alerts_json(tmp_path):
    completed = cli(tmp_path, "alerts", "--json")
    assert completed.returncode == 0, completed.stderr
    statuses = json.loads(completed.stdout)
    assert statuses
    for status in statuses:
        assert set(status) == {"monitor", "vendor", "state", "value", "since"}
        assert status["state"] in ("OK", "warning", "alert", "no data")
    error = next(s for s in statuses if s["monitor"] == "Apollo error rate high")
    assert error["state"] == "no data"
    assert error["vendor"] == "apollo"
