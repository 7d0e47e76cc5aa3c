"""Datadog in its wire format: key validation, metric intake v2, monitors, estimated cost.

Monitors live in memory, so a monitor created or updated through the API is in the next list.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from console.sandbox.base import SandboxRequest, SandboxResponse, SandboxVendor

PRO_PLAN_USD = 310.0
# Metric intake type enum of /api/v2/series: unspecified, count, rate, gauge.
METRIC_TYPES = (0, 1, 2, 3)


class DatadogSandbox(SandboxVendor):
    name = "datadog"
    prefix = "/datadog"

    def __init__(self, limit: int, window: float) -> None:
        super().__init__(limit, window)
        self.monitors: dict[int, dict[str, object]] = {}
        self._monitor_ids = itertools.count(1001)
        self.points_received = 0
        self.metric_names: set[str] = set()
        # On-demand cost on top of the committed Pro fee, set through /_admin/usage.
        self.on_demand_usd = 0.0

    def authenticate(self, request: SandboxRequest) -> bool:
        return bool(request.header("dd-api-key"))

    def error(self, status: int, message: str) -> SandboxResponse:
        if status == 401:
            # Datadog rejects a missing or invalid API key with 403 Forbidden.
            status, message = 403, "Forbidden"
        elif status == 529:
            # Datadog has no 529, so an overloaded intake returns 503.
            status = 503
        # NOTE: Datadog documents no out-of-credits status; the out_of_credits fault
        # returns 402 so the fault still reaches the client's OutOfCredits path.
        return SandboxResponse(status, {"errors": [message]})

    def rate_headers(self, remaining: int, reset_in: float) -> dict[str, str]:
        # Datadog's X-RateLimit-Reset counts seconds until the reset, not an epoch time.
        return {
            "X-RateLimit-Limit": str(self.window.limit),
            "X-RateLimit-Period": str(int(self.window.window) or 1),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(max(int(reset_in + 0.999), 1)),
            "X-RateLimit-Name": "sandbox",
        }

    def route(self, request: SandboxRequest) -> SandboxResponse:
        parts = [part for part in request.path.split("/") if part]
        if request.method == "GET" and parts == ["api", "v1", "validate"]:
            return SandboxResponse(200, {"valid": True})
        if request.method == "POST" and parts == ["api", "v2", "series"]:
            return self._series(request)
        if parts[:3] == ["api", "v1", "monitor"] or parts[:3] == ["api", "v2", "usage"]:
            # Reads and monitor management need the application key as well.
            if not request.header("dd-application-key"):
                return self.error(403, "Forbidden: application key required")
        if request.method == "POST" and parts == ["api", "v1", "monitor"]:
            return self._create_monitor(request)
        if request.method == "GET" and parts == ["api", "v1", "monitor"]:
            with self.lock:
                return SandboxResponse(200, list(self.monitors.values()))
        if request.method == "GET" and len(parts) == 4 and parts[:3] == ["api", "v1", "monitor"]:
            return self._get_monitor(parts[3])
        if request.method == "PUT" and len(parts) == 4 and parts[:3] == ["api", "v1", "monitor"]:
            return self._update_monitor(parts[3], request)
        if request.method == "GET" and parts == ["api", "v2", "usage", "estimated_cost"]:
            return self._estimated_cost(request)
        return self.error(404, f"no route {request.method} {request.path}")

    def _series(self, request: SandboxRequest) -> SandboxResponse:
        series = request.json().get("series")
        if not isinstance(series, list) or not series:
            return self.error(400, "series: at least one series is required")
        points = 0
        for item in series:
            if not isinstance(item, dict) or not isinstance(item.get("metric"), str):
                return self.error(400, "series: each series needs a metric name")
            if item.get("type", 0) not in METRIC_TYPES:
                return self.error(400, f"series: type {item.get('type')!r} is not 0, 1, 2 or 3")
            item_points = item.get("points")
            if not isinstance(item_points, list) or not item_points:
                return self.error(400, f"series {item['metric']}: points are required")
            for point in item_points:
                if not isinstance(point, dict) or "timestamp" not in point or "value" not in point:
                    return self.error(400, "points: each point needs timestamp and value")
            points += len(item_points)
        with self.lock:
            self.points_received += points
            self.metric_names.update(str(item["metric"]) for item in series)
        return SandboxResponse(202, {"errors": []})

    def _create_monitor(self, request: SandboxRequest) -> SandboxResponse:
        body = request.json()
        missing = [key for key in ("name", "type", "query") if not body.get(key)]
        if missing:
            return self.error(400, f"missing required fields: {', '.join(missing)}")
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        with self.lock:
            monitor_id = next(self._monitor_ids)
            monitor: dict[str, object] = {
                "id": monitor_id,
                "name": body["name"],
                "type": body["type"],
                "query": body["query"],
                "message": body.get("message", ""),
                "tags": list(body.get("tags") or []),
                "priority": body.get("priority"),
                "options": dict(body.get("options") or {}),
                "created": now,
                "modified": now,
                "creator": {"email": "sandbox@roleferry.example", "name": "Sandbox"},
                "overall_state": "No Data",
                "multi": False,
            }
            self.monitors[monitor_id] = monitor
        return SandboxResponse(200, monitor)

    def _update_monitor(self, raw_id: str, request: SandboxRequest) -> SandboxResponse:
        """Replace the editable fields the body names; the id, creator and created time stay."""
        body = request.json()
        if not isinstance(body, dict):
            return self.error(400, "request body must be a JSON object")
        empty = [key for key in ("name", "type", "query") if key in body and not body[key]]
        if empty:
            return self.error(400, f"fields must not be empty: {', '.join(empty)}")
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        with self.lock:
            monitor = self.monitors.get(int(raw_id)) if raw_id.isdigit() else None
            if monitor is None:
                return self.error(404, "Monitor not found")
            for key in ("name", "type", "query", "message", "priority"):
                if key in body:
                    monitor[key] = body[key]
            if "tags" in body:
                monitor["tags"] = list(body["tags"] or [])
            if "options" in body:
                monitor["options"] = dict(body["options"] or {})
            monitor["modified"] = now
            return SandboxResponse(200, dict(monitor))

    def _get_monitor(self, raw_id: str) -> SandboxResponse:
        with self.lock:
            monitor = self.monitors.get(int(raw_id)) if raw_id.isdigit() else None
        if monitor is None:
            return self.error(404, "Monitor not found")
        return SandboxResponse(200, monitor)

    def _estimated_cost(self, request: SandboxRequest) -> SandboxResponse:
        month = request.first("start_month") or (request.first("start_date") or "")[:7]
        if not month:
            return self.error(400, "start_month or start_date is required")
        try:
            datetime.strptime(month, "%Y-%m")
        except ValueError:
            return self.error(400, f"start_month {month!r} is not YYYY-MM")
        with self.lock:
            on_demand = self.on_demand_usd
        charges = [
            {"product_name": "infra_host", "charge_type": "committed", "cost": PRO_PLAN_USD},
            {"product_name": "custom_metrics", "charge_type": "on_demand", "cost": on_demand},
        ]
        total = sum(float(charge["cost"]) for charge in charges)  # type: ignore[arg-type]
        return SandboxResponse(200, {"data": [{
            "type": "cost_by_org",
            "id": "sbx-org",
            "attributes": {"org_name": "RoleFerry (sandbox)", "public_id": "sbx-org",
                           "region": "us", "date": f"{month}-01T00:00:00+00:00",
                           "total_cost": total, "charges": charges},
        }]})

    def set_cost_usd(self, usd: float) -> None:
        """Set the month's estimated cost; what exceeds the Pro fee is billed as custom metrics."""
        if usd < PRO_PLAN_USD:
            raise ValueError(f"cost_usd {usd!r} is below the committed Pro fee of {PRO_PLAN_USD:g} USD")
        with self.lock:
            self.on_demand_usd = usd - PRO_PLAN_USD

    def stats(self) -> dict[str, object]:
        data = super().stats()
        with self.lock:
            data["monitors"] = len(self.monitors)
            data["points_received"] = self.points_received
            data["metric_names"] = sorted(self.metric_names)
        return data

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.monitors.clear()
            self.points_received = 0
            self.metric_names.clear()
            self.on_demand_usd = 0.0

