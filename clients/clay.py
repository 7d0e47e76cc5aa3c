"""Clay Public API client: people search by domain and titles, then an e-mail routine.

Search runs in two steps (create a filters-mode search, then run it) and costs
actions, not data credits. E-mails come from an asynchronous routine run that
charges data credits per found e-mail; Clay has no idempotency key, so that call
is not repeated when its response is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from clients.contacts import Contact, Lookup
from clients.errors import MalformedResponse, VendorTimeout
from clients.http import (
    build_client,
    json_body,
    raise_for_status,
    request_id_of,
    require,
    transport_errors,
)
from clients.pipeline import CallResult, Mode, Pipeline, Reply

VENDOR = "clay"
# The workspace routine that finds a work e-mail from a Clay profile and a domain.
EMAIL_ROUTINE = "work-email-finder"
POLL_INTERVAL = 0.2
POLL_LIMIT = 25


@dataclass(frozen=True)
class ClayPerson:
    profile_id: str
    name: str
    title: str


class ClayClient:
    def __init__(self, pipeline: Pipeline, base_url: str,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.pipeline = pipeline
        self.spec = pipeline.runtime(VENDOR).spec
        self.http: httpx.Client = build_client(self.spec, base_url)
        self._sleep = sleep

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, key: str, operation: str,
                 payload: dict[str, object] | None = None) -> httpx.Response:
        with transport_errors(VENDOR, operation):
            response = self.http.request(method, path, json=payload, headers={"clay-api-key": key})
        raise_for_status(response, VENDOR, operation)
        return response

    def me(self, *, mode: Mode = "interactive") -> CallResult[dict[str, object]]:
        def send(key: str, attempt: int) -> Reply[dict[str, object]]:
            response = self._request("GET", "/me", key, "me")
            body = json_body(response, VENDOR, "me")
            return Reply(body, response.status_code, request_id_of(response.headers))

        return self.pipeline.call(VENDOR, "me", send, mode=mode)

    def search_people(self, domain: str, titles: list[str], *, limit: int = 10,
                      mode: Mode = "interactive") -> CallResult[list[ClayPerson]]:
        filters = {"company_domains": [domain], "job_titles": titles}

        def send(key: str, attempt: int) -> Reply[list[ClayPerson]]:
            created = self._request("POST", "/search/filters-mode", key, "people_search",
                                    {"source_type": "people", "filters": filters})
            search_id = require(json_body(created, VENDOR, "people_search"), "search_id", str,
                                VENDOR, "people_search")
            ran = self._request("POST", f"/search/filters-mode/{search_id}/run", key,
                                "people_search", {"limit": limit})
            body = json_body(ran, VENDOR, "people_search")
            rows = require(body, "data", list, VENDOR, "people_search")
            people = [self._person(row) for row in rows]  # type: ignore[union-attr]
            return Reply(people, ran.status_code, request_id_of(ran.headers),
                         extra={"period_quota": body.get("period_quota")})

        return self.pipeline.call(VENDOR, "people_search", send, mode=mode)

    def _person(self, row: object) -> ClayPerson:
        if not isinstance(row, dict) or not isinstance(row.get("clay_profile_id"), str):
            raise MalformedResponse("search row without clay_profile_id",
                                    vendor=VENDOR, operation="people_search")
        experiences = row.get("matched_experiences") or []
        title = ""
        if isinstance(experiences, list) and experiences and isinstance(experiences[0], dict):
            title = str(experiences[0].get("title") or "")
        return ClayPerson(row["clay_profile_id"], str(row.get("name") or ""), title)

    def lookup_emails(self, people: list[ClayPerson], domain: str, *,
                      mode: Mode = "interactive") -> CallResult[list[Contact]]:
        """Run the e-mail routine for `people` and wait for its results."""
        items = [{"id": person.profile_id,
                  "inputs": {"clay_profile_id": person.profile_id, "domain": domain}}
                 for person in people]
        by_id = {person.profile_id: person for person in people}

        def send(key: str, attempt: int) -> Reply[list[Contact]]:
            started = self._request("POST", f"/routines/{EMAIL_ROUTINE}/run", key, "email_lookup",
                                    {"items": items})
            run_id = require(json_body(started, VENDOR, "email_lookup"), "routine_run_id", str,
                             VENDOR, "email_lookup")
            body = self._wait_for_results(str(run_id), key)
            contacts = []
            for item in require(body, "data", list, VENDOR, "email_lookup"):  # type: ignore[union-attr]
                if not isinstance(item, dict) or item.get("status") != "complete":
                    continue
                result = item.get("result") or {}
                email = result.get("email") if isinstance(result, dict) else None
                person = by_id.get(str(item.get("id")))
                if email and person is not None:
                    contacts.append(Contact(person.name, person.title, email, VENDOR,
                                            vendor_id=person.profile_id))
            credits = float(len(contacts) * self.spec.credits_per_call["email_lookup"])
            return Reply(contacts, 200, request_id_of(started.headers), credits,
                         credits * self.spec.usd_per_credit)

        return self.pipeline.call(VENDOR, "email_lookup", send, mode=mode, idempotent=False)

    def _wait_for_results(self, run_id: str, key: str) -> dict[str, object]:
        for _ in range(POLL_LIMIT):
            response = self._request("GET", f"/routines/run/{run_id}/results", key, "email_lookup")
            body = json_body(response, VENDOR, "email_lookup")
            if response.status_code == 200 and body.get("status") == "complete":
                return body
            self._sleep(POLL_INTERVAL)
        raise VendorTimeout(f"routine run {run_id} not complete after {POLL_LIMIT} polls",
                            vendor=VENDOR, operation="email_lookup", request_sent=True)

    def run_probe(self, operation: str, *, mode: Mode = "interactive") -> CallResult[object]:
        """Run one registry probe with fixed inputs: acme.com, VP Engineering."""
        if operation == "me":
            return self.me(mode=mode)  # type: ignore[return-value]
        if operation == "people_search":
            return self.search_people("acme.com", ["VP Engineering"], mode=mode)  # type: ignore[return-value]
        if operation == "email_lookup":
            people = self.search_people("acme.com", ["VP Engineering"], mode=mode).value[:1]
            return self.lookup_emails(people, "acme.com", mode=mode)  # type: ignore[return-value]
        raise KeyError(f"clay has no probe {operation!r}")

    def find_contacts(self, domain: str, titles: list[str], *, limit: int = 3,
                      mode: Mode = "interactive") -> Lookup:
        people = self.search_people(domain, titles, mode=mode).value[:limit]
        if not people:
            return Lookup([], 0.0, 0.0)
        result = self.lookup_emails(people, domain, mode=mode)
        return Lookup(result.value, result.record.credits, result.record.cost_usd)
