"""Console monitors as Datadog monitor definitions, and pushing them idempotently by name.

The definitions follow the Datadog monitors API (`POST /api/v1/monitor`): `name`,
`type`, `query`, `message`, `tags`, `options.thresholds`. They query the DogStatsD
metrics the clients send (`roleferry.integrations.<vendor>.calls`, `.error` with
tag `error:<class>`, a timer per operation) and two gauges that each console
evaluation sends (`.breaker_open`, `.credits_left_ratio`).

Differences from the console's own evaluation, which Datadog cannot express:
`min_calls` is not exported, and `.error` counts every failed call, while the
console's error rate counts only the failures that trip the breaker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from clients.datadog import DatadogClient
from clients.datadog import Monitor as DatadogMonitor
from clients.errors import VendorError
from clients.registry import REGISTRY
from console.access import PUSH_MONITORS_ROLES, User
from console.audit import audited, require_role_audited
from console.monitors import Monitor, runbook_url
from console.store import Store

log = logging.getLogger(__name__)

METRIC_PREFIX = "roleferry.integrations"
MANAGED_TAG = "managed_by:roleferry-console"
DEFAULT_API_URL = "https://api.datadoghq.com"
# Keys of a definition that push compares with the monitor stored in Datadog.
COMPARED_KEYS = ("type", "query", "message", "tags")


def _number(value: float) -> str:
    return f"{value:g}"


def _operations(vendor: str) -> list[str]:
    spec = REGISTRY[vendor]
    operations = list(spec.credits_per_call)
    operations += [probe.operation for probe in spec.probes if probe.operation not in operations]
    return operations


def _thresholds(monitor: Monitor) -> dict[str, float]:
    thresholds = {"critical": monitor.critical}
    if monitor.warning is not None:
        thresholds["warning"] = monitor.warning
    return thresholds


def to_datadog(monitor: Monitor, notify: str = "") -> list[dict[str, object]]:
    """Build one monitor's Datadog definitions: one per operation for latency, else exactly one.

    Latency is split because each operation has its own timer metric, and a
    Datadog metric query cannot take the maximum over several metric names.
    """
    base = f"{METRIC_PREFIX}.{monitor.vendor}"
    window = f"last_{monitor.window_minutes}m"
    operator = ">" if monitor.comparison == "above" else "<"
    critical = _number(monitor.critical)
    message = f"{monitor.description}\n\nRunbook: {runbook_url(monitor.vendor)}"
    if notify:
        message += f"\n\n{notify}"
    tags = ["service:roleferry-console", f"vendor:{monitor.vendor}", f"monitor_kind:{monitor.kind}", MANAGED_TAG]
    options: dict[str, object] = {"thresholds": _thresholds(monitor), "notify_no_data": False,
                                  "require_full_window": False, "include_tags": True}

    queries: list[tuple[str, str, str]] = []  # (name, type, query)
    if monitor.kind == "error_rate":
        queries.append((monitor.name, "query alert",
                        f"avg({window}):sum:{base}.error{{*}}.as_count() / sum:{base}.calls{{*}}.as_count() "
                        f"{operator} {critical}"))
    elif monitor.kind == "p95_latency":
        for operation in _operations(monitor.vendor):
            queries.append((f"{monitor.name} ({operation})", "metric alert",
                            f"avg({window}):max:{base}.{operation}.95percentile{{*}} {operator} {critical}"))
    elif monitor.kind == "breaker_open":
        queries.append((monitor.name, "metric alert",
                        f"max(last_5m):max:{base}.breaker_open{{*}} {operator} {critical}"))
    elif monitor.kind == "credits_low":
        queries.append((monitor.name, "metric alert",
                        f"avg({window}):min:{base}.credits_left_ratio{{*}} {operator} {critical}"))
    elif monitor.kind == "auth_failures":
        queries.append((monitor.name, "metric alert",
                        f"sum({window}):sum:{base}.error{{error:authfailed}}.as_count() {operator} {critical}"))
    else:
        raise ValueError(f"monitor {monitor.name!r} has unknown kind {monitor.kind!r}")
    return [{"name": name, "type": kind, "query": query, "message": message, "tags": list(tags),
             "options": dict(options)} for name, kind, query in queries]


def export_definitions(monitors: list[Monitor], notify: str = "") -> list[dict[str, object]]:
    return [definition for monitor in monitors if monitor.enabled for definition in to_datadog(monitor, notify)]


class MonitorAPI(Protocol):
    """The three Datadog monitor calls that push needs."""

    def list_monitors(self) -> list[dict[str, object]]: ...

    def create_monitor(self, definition: dict[str, object]) -> dict[str, object]: ...

    def update_monitor(self, monitor_id: int, definition: dict[str, object]) -> dict[str, object]: ...


class DatadogAPIError(RuntimeError):
    pass


def _as_definition(monitor: DatadogMonitor) -> dict[str, object]:
    return {"id": monitor.id, "name": monitor.name, "type": monitor.type, "query": monitor.query,
            "message": monitor.message, "tags": list(monitor.tags), "options": dict(monitor.options),
            "overall_state": monitor.overall_state}


class ClientMonitorAPI:
    """The monitor calls of clients.datadog.DatadogClient, so a push goes through the shared
    pipeline (rate limit, breaker, retries, call records) with keys from the secrets chain.

    A failed call raises DatadogAPIError carrying the vendor error's text, status and request id.
    """

    def __init__(self, client: DatadogClient) -> None:
        self.client = client

    def _failed(self, exc: VendorError) -> DatadogAPIError:
        return DatadogAPIError(f"Datadog {exc.operation} failed ({exc.error_class}): {exc}")

    def list_monitors(self) -> list[dict[str, object]]:
        try:
            monitors = self.client.list_monitors().value
        except VendorError as exc:
            raise self._failed(exc) from exc
        return [_as_definition(monitor) for monitor in monitors]

    def create_monitor(self, definition: dict[str, object]) -> dict[str, object]:
        """Create the monitor, then set the options that create_monitor has no parameter for.

        DatadogClient.create_monitor sends only the critical threshold, so a
        definition with more options takes a second call. A failure between the
        two leaves a monitor with partial options, which the next push updates.
        """
        options = definition.get("options")
        thresholds = options.get("thresholds") if isinstance(options, dict) else None
        critical = thresholds.get("critical") if isinstance(thresholds, dict) else None
        tags = definition.get("tags")
        try:
            created = self.client.create_monitor(
                str(definition["name"]), str(definition["query"]), message=str(definition.get("message") or ""),
                monitor_type=str(definition["type"]), critical=critical if isinstance(critical, int | float) else None,
                tags=[str(tag) for tag in tags] if isinstance(tags, list) else None,
            ).value
            if options and _as_definition(created)["options"] != options:
                created = self.client.update_monitor(created.id, {"options": options}).value
        except VendorError as exc:
            raise self._failed(exc) from exc
        return _as_definition(created)

    def update_monitor(self, monitor_id: int, definition: dict[str, object]) -> dict[str, object]:
        try:
            updated = self.client.update_monitor(monitor_id, definition).value
        except VendorError as exc:
            raise self._failed(exc) from exc
        return _as_definition(updated)


@dataclass
class PushResult:
    name: str
    action: str  # "created", "updated" or "unchanged"
    monitor_id: int | None

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "action": self.action, "id": self.monitor_id}


def _differs(existing: dict[str, object], definition: dict[str, object]) -> bool:
    if any(existing.get(key) != definition[key] for key in COMPARED_KEYS):
        return True
    current_options = existing.get("options") or {}
    expected_options = definition["options"]
    assert isinstance(current_options, dict) and isinstance(expected_options, dict)
    return any(current_options.get(key) != value for key, value in expected_options.items())


def push_monitors(api: MonitorAPI, definitions: list[dict[str, object]], *, store: Store,
                  user: User) -> list[PushResult]:
    """Create each definition missing from Datadog and update each that differs, matched by name.

    Raises PermissionDenied without the ops role and DatadogAPIError when a call
    fails; definitions pushed before the failure stay pushed, and a rerun carries on.
    """
    require_role_audited(store, user, PUSH_MONITORS_ROLES, "monitors.push", "a monitor push to Datadog")
    results: list[PushResult] = []
    with audited(store, user.name, "monitors.push", detail=f"{len(definitions)} definitions") as notes:
        by_name: dict[str, dict[str, object]] = {}
        for existing in api.list_monitors():
            name = existing.get("name")
            if isinstance(name, str):
                if name in by_name:
                    log.warning("several Datadog monitors are named %r; using id %s and ignoring the others",
                                name, by_name[name].get("id"))
                    continue
                by_name[name] = existing
        for definition in definitions:
            name = str(definition["name"])
            existing = by_name.get(name)
            if existing is None:
                created = api.create_monitor(definition)
                results.append(PushResult(name, "created", _id(created)))
            elif _differs(existing, definition):
                monitor_id = _id(existing)
                assert monitor_id is not None, f"Datadog monitor {name!r} has no id"
                api.update_monitor(monitor_id, definition)
                results.append(PushResult(name, "updated", monitor_id))
            else:
                results.append(PushResult(name, "unchanged", _id(existing)))
        counts = {action: sum(r.action == action for r in results) for action in ("created", "updated", "unchanged")}
        notes.append(", ".join(f"{count} {action}" for action, count in counts.items()))
    return results


def _id(monitor: dict[str, object]) -> int | None:
    value = monitor.get("id")
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None
