"""Apollo.io client: free people search, then enrichment that reveals e-mails.

The key travels in the `x-api-key` header. Older Apollo examples put `api_key` in
the JSON body, which leaks it wherever payloads are logged; this client never does.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from clients.contacts import Contact, Lookup
from clients.errors import MalformedResponse
from clients.http import (
    build_client,
    json_body,
    raise_for_status,
    request_id_of,
    require,
    transport_errors,
)
from clients.pipeline import CallResult, Mode, Pipeline, Reply

VENDOR = "apollo"


@dataclass(frozen=True)
class ApolloPerson:
    """A search hit: a teaser without e-mail, to be enriched by id."""

    id: str
    first_name: str
    title: str
    has_email: bool


class ApolloClient:
    def __init__(self, pipeline: Pipeline, base_url: str) -> None:
        self.pipeline = pipeline
        self.spec = pipeline.runtime(VENDOR).spec
        self.http: httpx.Client = build_client(self.spec, base_url)

    def close(self) -> None:
        self.http.close()

    def _post(self, path: str, key: str, operation: str, payload: dict[str, object]) -> httpx.Response:
        with transport_errors(VENDOR, operation):
            response = self.http.post(path, json=payload, headers={"x-api-key": key})
        raise_for_status(response, VENDOR, operation)
        return response

    def health(self, *, mode: Mode = "interactive") -> CallResult[dict[str, object]]:
        """GET /auth/health: proves the key is accepted; costs nothing."""

        def send(key: str, attempt: int) -> Reply[dict[str, object]]:
            with transport_errors(VENDOR, "health"):
                response = self.http.get("/auth/health", headers={"x-api-key": key})
            raise_for_status(response, VENDOR, "health")
            body = json_body(response, VENDOR, "health")
            return Reply(body, response.status_code, request_id_of(response.headers))

        return self.pipeline.call(VENDOR, "health", send, mode=mode)

    def search_people(
        self, domain: str, titles: list[str], *, per_page: int = 10, mode: Mode = "interactive"
    ) -> CallResult[list[ApolloPerson]]:
        """People API search: free, returns teasers without e-mails."""
        payload: dict[str, object] = {
            "q_organization_domains_list": [domain],
            "person_titles": titles,
            "include_similar_titles": True,
            "page": 1,
            "per_page": per_page,
        }

        def send(key: str, attempt: int) -> Reply[list[ApolloPerson]]:
            response = self._post("/mixed_people/api_search", key, "people_search", payload)
            body = json_body(response, VENDOR, "people_search")
            raw_people = require(body, "people", list, VENDOR, "people_search")
            people = [self._teaser(raw) for raw in raw_people]  # type: ignore[union-attr]
            return Reply(people, response.status_code, request_id_of(response.headers))

        return self.pipeline.call(VENDOR, "people_search", send, mode=mode)

    def _teaser(self, raw: object) -> ApolloPerson:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise MalformedResponse("person without an id in search results",
                                    vendor=VENDOR, operation="people_search")
        return ApolloPerson(
            id=raw["id"],
            first_name=str(raw.get("first_name") or ""),
            title=str(raw.get("title") or ""),
            has_email=bool(raw.get("has_email")),
        )

    def enrich_person(self, person_id: str, *, mode: Mode = "interactive") -> CallResult[Contact | None]:
        """People enrichment by Apollo id: one credit when a record with an e-mail comes back.

        Apollo returns 200 with no person when it has no match, so None is a normal result.
        """
        payload: dict[str, object] = {"id": person_id, "reveal_personal_emails": False}

        def send(key: str, attempt: int) -> Reply[Contact | None]:
            response = self._post("/people/match", key, "people_enrich", payload)
            body = json_body(response, VENDOR, "people_enrich")
            person = body.get("person")
            request_id = request_id_of(response.headers)
            if not isinstance(person, dict):
                return Reply(None, response.status_code, request_id)
            email = person.get("email") or None
            contact = Contact(
                name=str(person.get("name") or "").strip(),
                title=str(person.get("title") or ""),
                email=email,
                source=VENDOR,
                linkedin_url=person.get("linkedin_url"),
                vendor_id=person_id,
            )
            credits = float(self.spec.credits_per_call["people_enrich"]) if email else 0.0
            return Reply(contact, response.status_code, request_id, credits,
                         credits * self.spec.usd_per_credit)

        # Enrichment is a read on Apollo's side, so repeating it after a lost
        # response is safe; at worst Apollo charges a credit twice.
        return self.pipeline.call(VENDOR, "people_enrich", send, mode=mode, idempotent=True)

    def run_probe(self, operation: str, *, mode: Mode = "interactive") -> CallResult[object]:
        """Run one registry probe with fixed inputs: acme.com, VP Engineering."""
        if operation == "health":
            return self.health(mode=mode)  # type: ignore[return-value]
        if operation == "people_search":
            return self.search_people("acme.com", ["VP Engineering"], mode=mode)  # type: ignore[return-value]
        if operation == "people_enrich":
            people = self.search_people("acme.com", ["VP Engineering"], mode=mode).value
            if not people:
                raise MalformedResponse("probe search for acme.com returned no person to enrich",
                                        vendor=VENDOR, operation="people_enrich")
            return self.enrich_person(people[0].id, mode=mode)  # type: ignore[return-value]
        raise KeyError(f"apollo has no probe {operation!r}")

    def find_contacts(self, domain: str, titles: list[str], *, limit: int = 3,
                      mode: Mode = "interactive") -> Lookup:
        """Search, then enrich up to `limit` people who have an e-mail."""
        people = self.search_people(domain, titles, mode=mode).value
        contacts: list[Contact] = []
        credits = 0.0
        cost = 0.0
        for person in [p for p in people if p.has_email][:limit]:
            result = self.enrich_person(person.id, mode=mode)
            credits += result.record.credits
            cost += result.record.cost_usd
            if result.value is not None and result.value.email:
                contacts.append(result.value)
        return Lookup(contacts, credits, cost)
