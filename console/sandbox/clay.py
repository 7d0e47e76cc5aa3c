"""Clay Public API v0 in its wire format: filters-mode search and async routines."""

from __future__ import annotations

import base64
import itertools
import json
import time

from console.sandbox.base import SandboxRequest, SandboxResponse, SandboxVendor
from console.sandbox.people import people_at, person_from_id, person_id

ACTIONS_PER_PERIOD = 40000
DATA_CREDITS = 6000


class ClaySandbox(SandboxVendor):
    name = "clay"
    prefix = "/clay/public/v0"

    def __init__(self, limit: int, window: float, data_credits: int = DATA_CREDITS) -> None:
        super().__init__(limit, window)
        self.data_credits_total = data_credits
        self.data_credits_used = 0
        self.actions_used = 0
        self._runs: dict[str, dict[str, object]] = {}
        self._run_ids = itertools.count(1)

    def authenticate(self, request: SandboxRequest) -> bool:
        return bool(request.header("clay-api-key"))

    def error(self, status: int, message: str) -> SandboxResponse:
        return SandboxResponse(status, {"message": message})

    def route(self, request: SandboxRequest) -> SandboxResponse:
        parts = [part for part in request.path.split("/") if part]
        if request.method == "GET" and parts == ["me"]:
            return SandboxResponse(200, {"user": {"id": "u_sandbox", "name": "Sandbox User",
                                                  "cli_onboarded": True},
                                         "workspace": {"id": "ws_sandbox"}})
        if request.method == "POST" and parts == ["search", "filters-mode"]:
            return self._create_search(request)
        if request.method == "POST" and len(parts) == 4 and parts[:2] == ["search", "filters-mode"] \
                and parts[3] == "run":
            return self._run_search(parts[2], request)
        if request.method == "POST" and len(parts) == 3 and parts[0] == "routines" and parts[2] == "run":
            return self._start_routine(request)
        if request.method == "GET" and len(parts) == 4 and parts[:2] == ["routines", "run"] \
                and parts[3] == "results":
            return self._routine_results(parts[2])
        return self.error(404, f"no route {request.method} {request.path}")

    def _quota(self) -> dict[str, object]:
        # Clay's own period_quota counts actions only. `data_credits` is a sandbox
        # addition, so that spend reconciliation has a data-credit figure to compare.
        with self.lock:
            data_credits = {"limit": self.data_credits_total, "used": self.data_credits_used,
                            "remaining": self.data_credits_total - self.data_credits_used}
        return {"limit": ACTIONS_PER_PERIOD, "used": self.actions_used,
                "remaining": ACTIONS_PER_PERIOD - self.actions_used,
                "resets_at": "2027-01-01T00:00:00Z", "data_credits": data_credits}

    def set_credits_used(self, credits: int) -> None:
        """Set the data credits this workspace has used, as if spent outside this console."""
        with self.lock:
            self.data_credits_used = credits

    def _create_search(self, request: SandboxRequest) -> SandboxResponse:
        body = request.json()
        if body.get("source_type") != "people":
            return self.error(400, "source_type must be people or companies")
        filters = body.get("filters") or {}
        search_id = "s_" + base64.urlsafe_b64encode(json.dumps(filters).encode()).decode().rstrip("=")
        return SandboxResponse(200, {"search_id": search_id})

    def _run_search(self, search_id: str, request: SandboxRequest) -> SandboxResponse:
        encoded = search_id[2:]
        try:
            filters = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        except ValueError:
            return self.error(404, f"unknown search {search_id}")
        limit = int(request.json().get("limit") or 20)
        if not 1 <= limit <= 500:
            return self.error(400, "limit must be between 1 and 500")
        domains = filters.get("company_domains") or []
        titles = filters.get("job_titles") or []
        people = [p for d in domains for p in people_at("clay", str(d), titles)][:limit]
        with self.lock:
            self.actions_used += 1
        rows = [{
            "clay_profile_id": person_id("cp_", p),
            "name": p.name,
            "first_name": p.first_name,
            "last_name": p.last_name,
            "location": {"name": "Remote", "city": None, "state_or_province": None},
            "matched_experiences": [{"company": p.domain, "title": p.title, "location": None,
                                     "start_date": "2022-01-01", "end_date": None}],
            "_email": p.email,
        } for p in people]
        return SandboxResponse(200, {"data": [{k: v for k, v in row.items() if k != "_email"}
                                              for row in rows],
                                     "has_more": False, "period_quota": self._quota()})

    def _start_routine(self, request: SandboxRequest) -> SandboxResponse:
        items = request.json().get("items") or []
        if not isinstance(items, list) or not 1 <= len(items) <= 100:
            return self.error(400, "items must hold between 1 and 100 entries")
        results = []
        for item in items:
            inputs = item.get("inputs") or {}
            profile = str(inputs.get("clay_profile_id") or "")
            match = person_from_id("clay", "cp_", profile)
            if match is None:
                results.append({"id": item.get("id"), "status": "failed",
                                "error": {"message": "no e-mail found"}})
                continue
            with self.lock:
                exhausted = self.data_credits_used >= self.data_credits_total
                if not exhausted:
                    self.data_credits_used += 1
            if exhausted:
                return self.error(402, "workspace is out of data credits")
            self.charge(profile)
            results.append({"id": item.get("id"), "status": "complete", "result": {"email": match.email}})
        run_id = f"run_{next(self._run_ids)}_{int(time.time())}"
        with self.lock:
            self._runs[run_id] = {"data": results}
        return SandboxResponse(202, {"routine_run_id": run_id, "status": "in_progress"})

    def _routine_results(self, run_id: str) -> SandboxResponse:
        with self.lock:
            run = self._runs.get(run_id)
        if run is None:
            return self.error(404, f"unknown routine run {run_id}")
        data = run["data"]
        return SandboxResponse(200, {"status": "complete", "total": len(data),  # type: ignore[arg-type]
                                     "finished": len(data), "data": data})  # type: ignore[arg-type]

    def stats(self) -> dict[str, object]:
        data = super().stats()
        with self.lock:
            data["credits_total"] = self.data_credits_total
            data["credits_left"] = self.data_credits_total - self.data_credits_used
            data["actions_used"] = self.actions_used
        return data

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.data_credits_used = 0
            self.actions_used = 0

