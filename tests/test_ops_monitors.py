"""Datadog export and push: the JSON shape, and a round trip through the sandbox Datadog over loopback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import select

from clients.registry import REGISTRY
from console.access import PermissionDenied, User
from console.audit import AuditFilter, audit_entries
from console.datadog_monitors import ClientMonitorAPI, DatadogAPIError, export_definitions, push_monitors
from console.monitors import list_monitors
from console.store.models import CallRecordRow
from console.store.ops_models import MonitorRow
from tests.conftest import sandbox_stats, set_fault

API_KEY = "test-dd-api-key"
APP_KEY = "test-dd-app-key"
QUERY_GRAMMAR = re.compile(r"^(avg|sum|max|min)\(last_\d+m\):.+ (>|<) [0-9.]+$")


def sandbox_monitors(sandbox) -> dict[str, dict[str, object]]:
    """Return the sandbox Datadog's monitors by name, as its API would list them."""
    response = httpx.get(f"{sandbox.url}/datadog/api/v1/monitor",
                         headers={"DD-API-KEY": API_KEY, "DD-APPLICATION-KEY": APP_KEY})
    response.raise_for_status()
    return {monitor["name"]: monitor for monitor in response.json()}


def monitor_writes(sandbox) -> list[str]:
    """Return the sandbox Datadog's monitor writes so far, as "METHOD path"."""
    requests = sandbox_stats(sandbox)["datadog"]["requests"]
    return sorted(request for request, count in requests.items() for _ in range(count)
                  if request.startswith(("POST /api/v1/monitor", "PUT /api/v1/monitor")))


OPS = User(name="ana@roleferry.com", roles=frozenset({"ops"}))


def test_export_shape(runtime):
    definitions = export_definitions(list_monitors(runtime.store), notify="@slack-engineering")
    names = [d["name"] for d in definitions]
    assert len(names) == len(set(names))
    for definition in definitions:
        assert set(definition) == {"name", "type", "query", "message", "tags", "options"}
        assert definition["type"] in ("metric alert", "query alert")
        assert QUERY_GRAMMAR.match(definition["query"]), definition["query"]
        critical = definition["options"]["thresholds"]["critical"]
        assert definition["query"].endswith(f" {critical:g}")
        assert "@slack-engineering" in definition["message"]
        assert "managed_by:roleferry-console" in definition["tags"]
    error = next(d for d in definitions if d["name"] == "Apollo error rate high")
    assert error["type"] == "query alert"
    assert error["query"] == ("avg(last_10m):sum:roleferry.integrations.apollo.error{*}.as_count() / "
                              "sum:roleferry.integrations.apollo.calls{*}.as_count() > 0.1")
    assert error["options"]["thresholds"] == {"critical": 0.1, "warning": 0.05}
    assert "/runbooks?vendor=apollo" in error["message"]
    for spec in REGISTRY.values():
        vendor_error = next(d for d in definitions if d["name"] == f"{spec.display_name} error rate high")
        assert vendor_error["query"].startswith(f"avg(last_10m):sum:roleferry.integrations.{spec.name}.error{{*}}")
    credits = next(d for d in definitions if d["name"] == "Apollo credits low")
    assert " < 0.1" in credits["query"]


def test_push_round_trip(runtime, sandbox):
    definitions = export_definitions(list_monitors(runtime.store))
    api = ClientMonitorAPI(runtime.client("datadog"))
    first = push_monitors(api, definitions, store=runtime.store, user=OPS)
    assert {r.action for r in first} == {"created"}
    stored = sandbox_monitors(sandbox)
    assert len(stored) == len(definitions)
    for definition in definitions:
        pushed = stored[definition["name"]]
        assert {key: pushed[key] for key in definition} == definition

    writes = len(monitor_writes(sandbox))
    again = push_monitors(api, definitions, store=runtime.store, user=OPS)
    assert {r.action for r in again} == {"unchanged"}
    assert len(monitor_writes(sandbox)) == writes

    with runtime.store.session() as session:
        session.get(MonitorRow, "Apollo error rate high").critical = 0.2
    changed = export_definitions(list_monitors(runtime.store))
    third = push_monitors(api, changed, store=runtime.store, user=OPS)
    assert [r.name for r in third if r.action == "updated"] == ["Apollo error rate high"]
    apollo_id = next(r.monitor_id for r in third if r.name == "Apollo error rate high")
    assert len(monitor_writes(sandbox)) == writes + 1
    assert f"PUT /api/v1/monitor/{apollo_id}" in monitor_writes(sandbox)
    updated = sandbox_monitors(sandbox)["Apollo error rate high"]
    assert updated["id"] == apollo_id
    assert updated["query"].endswith("> 0.2")
    assert updated["options"]["thresholds"]["critical"] == 0.2
    assert len(sandbox_monitors(sandbox)) == len(definitions)

    entries = audit_entries(runtime.store, AuditFilter(action="monitors.push"))
    assert [e["outcome"] for e in entries] == ["ok", "ok", "ok"]
    assert entries[-1]["user"] == OPS.name
    assert f"{len(definitions)} created" in entries[-1]["detail"]


def test_push_records_calls(runtime, sandbox):
    definitions = export_definitions(list_monitors(runtime.store))[:2]
    push_monitors(ClientMonitorAPI(runtime.client("datadog")), definitions, store=runtime.store, user=OPS)
    runtime.recorder.flush()
    with runtime.store.session() as session:
        operations = session.scalars(select(CallRecordRow.operation).where(CallRecordRow.vendor == "datadog")).all()
    # Through the shared pipeline, every monitor call is a call record like any vendor call.
    assert operations.count("list_monitors") == 1
    assert operations.count("create_monitor") == 2


def test_push_needs_ops_role(runtime, sandbox):
    api = ClientMonitorAPI(runtime.client("datadog"))
    support = User(name="sam@roleferry.com", roles=frozenset({"support"}))
    with pytest.raises(PermissionDenied, match="needs the ops role"):
        push_monitors(api, export_definitions(list_monitors(runtime.store)), store=runtime.store, user=support)
    assert sandbox_stats(sandbox)["datadog"]["requests_total"] == 0
    entries = audit_entries(runtime.store, AuditFilter(action="monitors.push"))
    assert entries[0]["outcome"].startswith("denied")


def test_update_unknown_monitor_fails(runtime, sandbox):
    api = ClientMonitorAPI(runtime.client("datadog"))
    with pytest.raises(DatadogAPIError, match="HTTP 404"):
        api.update_monitor(999_999, {"name": "nothing here"})


def cli(tmp_path, *args, env=None):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("SANDBOX_URL", "DATABASE_URL", "ROLEFERRY_SANDBOX_FAULTS", "ROLEFERRY_ROLES_FILE",
                                  "ROLEFERRY_ALERT_WEBHOOK_URL", "ROLEFERRY_SANDBOX_ROLES")
                   and not any(key in spec.secret_names for spec in REGISTRY.values())}
    environment.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}", **(env or {})})
    return subprocess.run([sys.executable, "-m", "console.cli.main", *args], env=environment,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_cli_export_then_push(tmp_path, sandbox):
    exported = cli(tmp_path, "monitors", "export")
    assert exported.returncode == 0, exported.stderr
    definitions = json.loads(exported.stdout)
    assert any(d["name"] == "Apollo error rate high" for d in definitions)

    env = {"DATADOG_API_KEY": API_KEY, "DATADOG_APP_KEY": APP_KEY}
    url = f"{sandbox.url}/datadog"
    pushed = cli(tmp_path, "monitors", "push", "--api-url", url, "--json", env=env)
    assert pushed.returncode == 0, pushed.stderr
    results = json.loads(pushed.stdout)
    assert {r["action"] for r in results} == {"created"}
    assert sorted(sandbox_monitors(sandbox)) == sorted(d["name"] for d in definitions)

    again = cli(tmp_path, "monitors", "push", "--api-url", url, "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert {r["action"] for r in json.loads(again.stdout)} == {"unchanged"}


def test_cli_push_sandbox_keys(tmp_path, sandbox):
    # No key set anywhere: the secrets chain supplies the sandbox's keys for SANDBOX_URL.
    pushed = cli(tmp_path, "monitors", "push", "--json", env={"SANDBOX_URL": sandbox.url})
    assert pushed.returncode == 0, pushed.stderr
    created = [r for r in json.loads(pushed.stdout) if r["action"] == "created"]
    assert len(created) == len(sandbox_monitors(sandbox)) > 0


def test_cli_push_without_keys(tmp_path, sandbox):
    completed = cli(tmp_path, "monitors", "push", "--api-url", f"{sandbox.url}/datadog",
                    env={"DATADOG_API_KEY": "", "DATADOG_APP_KEY": ""})
    assert completed.returncode == 2
    assert "DATADOG_API_KEY is not set" in completed.stderr


def test_cli_push_rejected_key(tmp_path, sandbox):
    set_fault(sandbox, "datadog", "auth_failure")
    completed = cli(tmp_path, "monitors", "push", "--api-url", f"{sandbox.url}/datadog",
                    env={"DATADOG_API_KEY": "wrong", "DATADOG_APP_KEY": APP_KEY})
    assert completed.returncode == 1
    assert "HTTP 403" in completed.stderr
    assert sandbox_monitors_count(sandbox) == 0


def sandbox_monitors_count(sandbox) -> int:
    return int(sandbox_stats(sandbox)["datadog"]["monitors"])
