"""Datadog export and push: the JSON shape, and a round trip through a loopback monitor API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clients.registry import REGISTRY
from console.access import PermissionDenied, User
from console.audit import AuditFilter, audit_entries
from console.datadog_monitors import HttpMonitorAPI, export_definitions, push_monitors
from console.monitors import list_monitors
from console.store.ops_models import MonitorRow

API_KEY = "test-dd-api-key"
APP_KEY = "test-dd-app-key"
QUERY_GRAMMAR = re.compile(r"^(avg|sum|max|min)\(last_\d+m\):.+ (>|<) [0-9.]+$")


class FakeDatadog:
    """The monitor endpoints of the Datadog API, in memory, on 127.0.0.1."""

    def __init__(self) -> None:
        self.monitors: dict[int, dict[str, object]] = {}
        self.calls: list[tuple[str, str]] = []
        self.next_id = 1000
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if self.headers.get("DD-API-KEY") != API_KEY or self.headers.get("DD-APPLICATION-KEY") != APP_KEY:
                    self._reply(403, {"errors": ["Forbidden"]})
                    return False
                return True

            def _body(self) -> dict[str, object]:
                return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def do_GET(self) -> None:
                fake.calls.append(("GET", self.path))
                if self._authorised() and self.path.startswith("/api/v1/monitor"):
                    self._reply(200, list(fake.monitors.values()))

            def do_POST(self) -> None:
                fake.calls.append(("POST", self.path))
                if not self._authorised():
                    return
                body = self._body()
                monitor = {**body, "id": fake.next_id, "overall_state": "No Data"}
                fake.monitors[fake.next_id] = monitor
                fake.next_id += 1
                self._reply(200, monitor)

            def do_PUT(self) -> None:
                fake.calls.append(("PUT", self.path))
                if not self._authorised():
                    return
                monitor_id = int(self.path.rsplit("/", 1)[1])
                if monitor_id not in fake.monitors:
                    self._reply(404, {"errors": ["Monitor not found"]})
                    return
                fake.monitors[monitor_id] = {**fake.monitors[monitor_id], **self._body()}
                self._reply(200, fake.monitors[monitor_id])

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def writes(self) -> list[str]:
        return [method for method, _ in self.calls if method != "GET"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def datadog() -> Iterator[FakeDatadog]:
    fake = FakeDatadog()
    yield fake
    fake.stop()


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


def test_push_round_trip(runtime, datadog):
    definitions = export_definitions(list_monitors(runtime.store))
    api = HttpMonitorAPI(datadog.url, API_KEY, APP_KEY)
    try:
        first = push_monitors(api, definitions, store=runtime.store, user=OPS)
        assert {r.action for r in first} == {"created"}
        stored = {m["name"]: m for m in datadog.monitors.values()}
        for definition in definitions:
            pushed = stored[definition["name"]]
            assert {key: pushed[key] for key in definition} == definition

        writes = len(datadog.writes())
        again = push_monitors(api, definitions, store=runtime.store, user=OPS)
        assert {r.action for r in again} == {"unchanged"}
        assert len(datadog.writes()) == writes

        with runtime.store.session() as session:
            session.get(MonitorRow, "Apollo error rate high").critical = 0.2
        changed = export_definitions(list_monitors(runtime.store))
        third = push_monitors(api, changed, store=runtime.store, user=OPS)
        assert [r.name for r in third if r.action == "updated"] == ["Apollo error rate high"]
        assert datadog.writes()[-1] == "PUT"
        updated = next(m for m in datadog.monitors.values() if m["name"] == "Apollo error rate high")
        assert updated["query"].endswith("> 0.2")
        assert len(datadog.monitors) == len(definitions)
    finally:
        api.close()
    entries = audit_entries(runtime.store, AuditFilter(action="monitors.push"))
    assert [e["outcome"] for e in entries] == ["ok", "ok", "ok"]
    assert entries[-1]["user"] == OPS.name
    assert f"{len(definitions)} created" in entries[-1]["detail"]


def test_push_needs_ops_role(runtime, datadog):
    api = HttpMonitorAPI(datadog.url, API_KEY, APP_KEY)
    support = User(name="sam@roleferry.com", roles=frozenset({"support"}))
    try:
        with pytest.raises(PermissionDenied, match="needs the ops role"):
            push_monitors(api, export_definitions(list_monitors(runtime.store)), store=runtime.store, user=support)
    finally:
        api.close()
    assert datadog.calls == []
    entries = audit_entries(runtime.store, AuditFilter(action="monitors.push"))
    assert entries[0]["outcome"].startswith("denied")


def cli(tmp_path, *args, env=None):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("SANDBOX_URL", "DATABASE_URL", "ROLEFERRY_SANDBOX_FAULTS", "ROLEFERRY_ROLES_FILE",
                                  "ROLEFERRY_ALERT_WEBHOOK_URL", "ROLEFERRY_SANDBOX_ROLES")
                   and not any(key in spec.secret_names for spec in REGISTRY.values())}
    environment.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}", **(env or {})})
    return subprocess.run([sys.executable, "-m", "console.cli.main", *args], env=environment,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_cli_export_then_push(tmp_path, datadog):
    exported = cli(tmp_path, "monitors", "export")
    assert exported.returncode == 0, exported.stderr
    definitions = json.loads(exported.stdout)
    assert any(d["name"] == "Apollo error rate high" for d in definitions)

    env = {"DATADOG_API_KEY": API_KEY, "DATADOG_APP_KEY": APP_KEY}
    pushed = cli(tmp_path, "monitors", "push", "--api-url", datadog.url, "--json", env=env)
    assert pushed.returncode == 0, pushed.stderr
    results = json.loads(pushed.stdout)
    assert {r["action"] for r in results} == {"created"}
    assert sorted(m["name"] for m in datadog.monitors.values()) == sorted(d["name"] for d in definitions)

    again = cli(tmp_path, "monitors", "push", "--api-url", datadog.url, "--json", env=env)
    assert {r["action"] for r in json.loads(again.stdout)} == {"unchanged"}


def test_cli_push_without_keys(tmp_path, datadog):
    completed = cli(tmp_path, "monitors", "push", "--api-url", datadog.url,
                    env={"DATADOG_API_KEY": "", "DATADOG_APP_KEY": ""})
    assert completed.returncode == 2
    assert "DATADOG_API_KEY is not set" in completed.stderr


def test_cli_push_rejected_key(tmp_path, datadog):
    completed = cli(tmp_path, "monitors", "push", "--api-url", datadog.url,
                    env={"DATADOG_API_KEY": "wrong", "DATADOG_APP_KEY": APP_KEY})
    assert completed.returncode == 1
    assert "HTTP 403" in completed.stderr
