"""Datadog client: API key validation, metric intake, monitors and the estimated cost.

Built on httpx rather than the `datadog` package's HTTP API (`datadog.api`). That
API keeps its keys and host in module globals (`api._api_key`, `api._api_host`),
so one process cannot hold two configurations and concurrent calls would race on
them. It also retries connections itself, swallows errors unless `_mute` is off,
and has no call for /api/v2/series or /api/v2/usage/estimated_cost. httpx takes
the configured base URL, so the same code talks to the sandbox and to Datadog.
DogStatsD, the package's other half, is what `clients.recording.Metrics` uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from clients.backoff import parse_retry_after
from clients.errors import MalformedResponse, NotConfigured, RateLimited
from clients.http import build_client, json_body, raise_for_status, request_id_of, transport_errors
from clients.pipeline import CallResult, Mode, Pipeline, Reply
from clients.registry.spec import VendorSpec

VENDOR = "datadog"
APP_KEY_SECRET = "DATADOG_APP_KEY"

MetricType = Literal["count", "rate", "gauge"]
# The intake type enum of /api/v2/series (0 is "unspecified").
METRIC_TYPE_CODES: dict[MetricType, int] = {"count": 1, "rate": 2, "gauge": 3}

PROBE_METRIC = "roleferry.integrations.probe"


@dataclass(frozen=True)
class Monitor:
    id: int
    name: str
    type: str
    query: str
    overall_state: str | None
    tags: tuple[str, ...] = ()
    # Kept so that a monitor push can tell a stored monitor from its definition.
    message: str = ""
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class EstimatedCost:
    """Datadog's own estimate of the month's cost, in USD."""

    month: str
    total_usd: float
    charges: list[dict[str, object]] = field(default_factory=list)


def rate_limit_wait(headers: Mapping[str, str]) -> float | None:
    """Return seconds to wait after a 429: X-RateLimit-Reset (seconds until reset) first."""
    reset = headers.get("x-ratelimit-reset")
    if reset is not None:
        try:
            return max(float(reset), 0.0)
        except ValueError:
            pass
    return parse_retry_after(headers)


def check_response(response: httpx.Response, operation: str) -> None:
    """Raise the taxonomy class for a non-2xx response."""
    if response.status_code == 429:
        raise RateLimited(
            "rate limit reached" + (f" ({response.headers['x-ratelimit-name']})"
                                    if "x-ratelimit-name" in response.headers else ""),
            retry_after=rate_limit_wait(response.headers),
            vendor=VENDOR, operation=operation, status_code=429,
            request_id=request_id_of(response.headers),
        )
    raise_for_status(response, VENDOR, operation)


def parse_monitor(raw: object, operation: str) -> Monitor:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), int) \
            or not isinstance(raw.get("name"), str):
        raise MalformedResponse("monitor without an integer id and a name", vendor=VENDOR,
                                operation=operation)
    return Monitor(
        id=raw["id"],
        name=raw["name"],
        type=str(raw.get("type") or ""),
        query=str(raw.get("query") or ""),
        overall_state=raw.get("overall_state"),
        tags=tuple(str(tag) for tag in raw.get("tags") or ()),
        message=str(raw.get("message") or ""),
        options=dict(raw["options"]) if isinstance(raw.get("options"), dict) else {},
    )


class DatadogClient:
    def __init__(self, pipeline: Pipeline, base_url: str) -> None:
        self.pipeline = pipeline
        self.spec: VendorSpec = pipeline.runtime(VENDOR).spec
        self.http: httpx.Client = build_client(self.spec, base_url)

    def close(self) -> None:
        self.http.close()

    def _app_key(self, operation: str) -> str:
        """Return the application key that reads and monitor calls need beside the API key."""
        app_key = self.pipeline.secrets.get(APP_KEY_SECRET)
        if app_key is None:
            raise NotConfigured(f"no {APP_KEY_SECRET} set; add it to the environment, .env "
                                "or secrets.toml", vendor=VENDOR, operation=operation)
        return app_key

    def _request(self, method: str, path: str, operation: str, api_key: str, *,
                 app_key: bool = False, json: object = None,
                 params: dict[str, str] | None = None) -> httpx.Response:
        headers = {"DD-API-KEY": api_key}
        if app_key:
            headers["DD-APPLICATION-KEY"] = self._app_key(operation)
        with transport_errors(VENDOR, operation):
            response = self.http.request(method, path, headers=headers, json=json, params=params)
        check_response(response, operation)
        return response

    def validate(self, *, mode: Mode = "interactive") -> CallResult[bool]:
        """GET /api/v1/validate: is the API key accepted (an invalid key is AuthFailed)."""
        operation = "validate"

        def send(key: str, attempt: int) -> Reply[bool]:
            response = self._request("GET", "/api/v1/validate", operation, key)
            body = json_body(response, VENDOR, operation)
            if not isinstance(body.get("valid"), bool):
                raise MalformedResponse("response has no boolean 'valid'", vendor=VENDOR,
                                        operation=operation, status_code=response.status_code)
            return Reply(body["valid"], response.status_code, request_id_of(response.headers))

        return self.pipeline.call(VENDOR, operation, send, mode=mode)

    def submit_metric(self, name: str, value: float, *, metric_type: MetricType = "gauge",
                      tags: list[str] | None = None, timestamp: int | None = None,
                      mode: Mode = "interactive") -> CallResult[None]:
        """POST one point to /api/v2/series; Datadog accepts it with 202."""
        operation = "submit_metric"
        point_time = timestamp if timestamp is not None else int(time.time())
        payload = {"series": [{
            "metric": name,
            "type": METRIC_TYPE_CODES[metric_type],
            "points": [{"timestamp": point_time, "value": value}],
            "tags": list(tags or []),
        }]}

        def send(key: str, attempt: int) -> Reply[None]:
            response = self._request("POST", "/api/v2/series", operation, key, json=payload)
            body = json_body(response, VENDOR, operation)
            errors = body.get("errors")
            if errors:
                raise MalformedResponse(f"intake accepted the request with errors: {errors}",
                                        vendor=VENDOR, operation=operation,
                                        status_code=response.status_code)
            return Reply(None, response.status_code, request_id_of(response.headers))

        # A gauge point sent twice with the same timestamp is the same point; a
        # count or rate sent twice would be added twice.
        return self.pipeline.call(VENDOR, operation, send, mode=mode,
                                  idempotent=(metric_type == "gauge"))

    def create_monitor(self, name: str, query: str, *, message: str = "",
                       monitor_type: str = "query alert", critical: float | None = None,
                       tags: list[str] | None = None, mode: Mode = "interactive"
                       ) -> CallResult[Monitor]:
        """POST /api/v1/monitor. `critical` must equal the threshold written in `query`."""
        operation = "create_monitor"
        payload: dict[str, object] = {"name": name, "type": monitor_type, "query": query,
                                      "message": message, "tags": list(tags or [])}
        if critical is not None:
            payload["options"] = {"thresholds": {"critical": critical}}

        def send(key: str, attempt: int) -> Reply[Monitor]:
            response = self._request("POST", "/api/v1/monitor", operation, key, app_key=True,
                                     json=payload)
            try:
                monitor = parse_monitor(json_body(response, VENDOR, operation), operation)
            except MalformedResponse as exc:
                # Datadog returned a response, so the monitor may exist. Marking the
                # request as delivered stops the pipeline from creating it a second time.
                exc.request_sent = True
                raise
            return Reply(monitor, response.status_code, request_id_of(response.headers))

        # Not idempotent: a repeated create after a lost response makes a second monitor.
        return self.pipeline.call(VENDOR, operation, send, mode=mode, idempotent=False)

    def update_monitor(self, monitor_id: int, changes: Mapping[str, object], *,
                       mode: Mode = "interactive") -> CallResult[Monitor]:
        """PUT /api/v1/monitor/{id}: replace the fields given in `changes` (name, query, options...).

        Idempotent: the same changes sent twice leave the monitor as one send does.
        """
        operation = "update_monitor"
        payload = dict(changes)

        def send(key: str, attempt: int) -> Reply[Monitor]:
            response = self._request("PUT", f"/api/v1/monitor/{monitor_id}", operation, key,
                                     app_key=True, json=payload)
            monitor = parse_monitor(json_body(response, VENDOR, operation), operation)
            return Reply(monitor, response.status_code, request_id_of(response.headers))

        return self.pipeline.call(VENDOR, operation, send, mode=mode)

    def list_monitors(self, *, mode: Mode = "interactive") -> CallResult[list[Monitor]]:
        """GET /api/v1/monitor: every monitor in the organisation (a JSON array)."""
        operation = "list_monitors"

        def send(key: str, attempt: int) -> Reply[list[Monitor]]:
            response = self._request("GET", "/api/v1/monitor", operation, key, app_key=True)
            try:
                body = response.json()
            except ValueError as exc:
                raise MalformedResponse(f"response is not JSON: {exc}", vendor=VENDOR,
                                        operation=operation, status_code=response.status_code,
                                        request_id=request_id_of(response.headers)) from exc
            if not isinstance(body, list):
                raise MalformedResponse(f"expected a JSON array, got {type(body).__name__}",
                                        vendor=VENDOR, operation=operation,
                                        status_code=response.status_code)
            monitors = [parse_monitor(raw, operation) for raw in body]
            return Reply(monitors, response.status_code, request_id_of(response.headers))

        return self.pipeline.call(VENDOR, operation, send, mode=mode)

    def estimated_cost(self, month: str | None = None, *, mode: Mode = "interactive"
                       ) -> CallResult[EstimatedCost]:
        """GET /api/v2/usage/estimated_cost for `month` (YYYY-MM, default this month)."""
        operation = "estimated_cost"
        month = month or datetime.now(UTC).strftime("%Y-%m")

        def send(key: str, attempt: int) -> Reply[EstimatedCost]:
            response = self._request("GET", "/api/v2/usage/estimated_cost", operation, key,
                                     app_key=True, params={"start_month": month})
            body = json_body(response, VENDOR, operation)
            data = body.get("data")
            if not isinstance(data, list):
                raise MalformedResponse("response has no data list", vendor=VENDOR,
                                        operation=operation, status_code=response.status_code)
            total = 0.0
            charges: list[dict[str, object]] = []
            for item in data:
                attributes = item.get("attributes") if isinstance(item, dict) else None
                cost = attributes.get("total_cost") if isinstance(attributes, dict) else None
                if not isinstance(cost, int | float):
                    raise MalformedResponse("cost item has no numeric total_cost", vendor=VENDOR,
                                            operation=operation, status_code=response.status_code)
                total += float(cost)
                charges.extend(attributes.get("charges") or [])  # type: ignore[union-attr]
            value = EstimatedCost(month, total, charges)
            return Reply(value, response.status_code, request_id_of(response.headers))

        return self.pipeline.call(VENDOR, operation, send, mode=mode)

    def run_probe(self, operation: str, mode: Mode = "interactive") -> CallResult[Any]:
        """Run one registry probe by operation name with small fixed inputs."""
        probes: dict[str, Callable[[], CallResult[Any]]] = {
            "validate": lambda: self.validate(mode=mode),
            "list_monitors": lambda: self.list_monitors(mode=mode),
            "estimated_cost": lambda: self.estimated_cost(mode=mode),
            "submit_metric": lambda: self.submit_metric(PROBE_METRIC, 1.0,
                                                        tags=["source:probe"], mode=mode),
        }
        known = [probe.operation for probe in self.spec.probes]
        if operation not in known or operation not in probes:
            raise ValueError(f"unknown Datadog probe {operation!r}; choose one of: "
                             f"{', '.join(known)}")
        return probes[operation]()
