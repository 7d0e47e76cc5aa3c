"""Apollo in its wire format: header key, api_search (free), people/match (credits)."""

from __future__ import annotations

import json
import time

from console.sandbox.base import SandboxRequest, SandboxResponse, SandboxVendor
from console.sandbox.people import people_at, person_from_id, person_id

GROWTH_PLAN_CREDITS = 1000


class ApolloSandbox(SandboxVendor):
    name = "apollo"
    prefix = "/apollo/api/v1"

    def __init__(self, limit: int, window: float, credits: int = GROWTH_PLAN_CREDITS) -> None:
        super().__init__(limit, window)
        self.credits_total = credits
        self.credits_used = 0

    def authenticate(self, request: SandboxRequest) -> bool:
        return bool(request.header("x-api-key"))

    def error(self, status: int, message: str) -> SandboxResponse:
        if status == 401:
            return SandboxResponse(401, raw=b"Invalid access credentials.", content_type="text/plain")
        return SandboxResponse(status, {"error": message, "error_code": status})

    def rate_headers(self, remaining: int, reset_in: float) -> dict[str, str]:
        limit = self.window.limit
        used = limit - remaining
        return {
            "x-rate-limit-minute": str(limit),
            "x-minute-usage": str(used),
            "x-minute-requests-left": str(remaining),
            "x-rate-limit-hourly": str(limit * 60),
            "x-hourly-usage": str(used),
            "x-hourly-requests-left": str(limit * 60 - used),
            "x-rate-limit-daily": str(limit * 60 * 24),
            "x-daily-usage": str(used),
            "x-daily-requests-left": str(limit * 60 * 24 - used),
        }

    def credits_left(self) -> int:
        with self.lock:
            return self.credits_total - self.credits_used

    def route(self, request: SandboxRequest) -> SandboxResponse:
        if request.method == "GET" and request.path == "/auth/health":
            return SandboxResponse(200, {"healthy": True, "is_logged_in": True})
        if request.method == "POST" and request.path in ("/mixed_people/api_search", "/mixed_people/search"):
            return self._search(request)
        if request.method == "POST" and request.path == "/people/match":
            return self._match(request)
        if request.method == "POST" and request.path == "/usage_stats/api_usage_stats":
            return self._usage()
        return self.error(404, f"no route {request.method} {request.path}")

    def _search(self, request: SandboxRequest) -> SandboxResponse:
        body = request.json()
        domains = body.get("q_organization_domains_list") or []
        titles = body.get("person_titles") or []
        if not isinstance(domains, list) or not isinstance(titles, list):
            return self.error(422, "q_organization_domains_list and person_titles must be arrays")
        per_page = min(int(body.get("per_page") or 10), 100)
        people = [p for domain in domains for p in people_at("apollo", str(domain), titles)][:per_page]
        teasers = [
            {
                "id": person_id("ap_", p),
                "first_name": p.first_name,
                "last_name_obfuscated": p.last_name[0] + "***",
                "title": p.title,
                "last_refreshed_at": "2026-11-01T00:00:00Z",
                "has_email": True,
                "organization": {"name": p.domain.split(".")[0].title()},
            }
            for p in people
        ]
        pagination = {"page": 1, "per_page": per_page, "total_entries": len(teasers), "total_pages": 1}
        return SandboxResponse(200, {"people": teasers, "pagination": pagination,
                                     "total_entries": len(teasers)})

    def _match(self, request: SandboxRequest) -> SandboxResponse:
        body = request.json()
        person = person_from_id("apollo", "ap_", str(body.get("id") or ""))
        if person is None:
            return SandboxResponse(200, {"person": None})
        with self.lock:
            if self.credits_used >= self.credits_total:
                exhausted = True
            else:
                exhausted = False
                self.credits_used += 1
        if exhausted:
            return self.error(402, "insufficient credits")
        self.charge(str(body.get("id")))
        return SandboxResponse(200, {"person": {
            "id": str(body.get("id")),
            "first_name": person.first_name,
            "last_name": person.last_name,
            "name": person.name,
            "title": person.title,
            "email": person.email,
            "email_status": "verified",
            "linkedin_url": person.linkedin_url,
            "organization": {"primary_domain": person.domain},
        }})

    def _usage(self) -> SandboxResponse:
        left = self.credits_left()
        window = {"limit": self.credits_total, "consumed": self.credits_total - left, "left_over": left}
        key = json.dumps(["api/v1/people", "match"])
        return SandboxResponse(200, {key: {"day": window, "hour": window, "minute": window},
                                     "generated_at": int(time.time())})

    def set_credits_used(self, credits: int) -> None:
        """Set the credits this account has used, as if spent outside this console."""
        with self.lock:
            self.credits_used = credits

    def stats(self) -> dict[str, object]:
        data = super().stats()
        data["credits_total"] = self.credits_total
        data["credits_left"] = self.credits_left()
        return data

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.credits_used = 0
