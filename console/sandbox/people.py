"""Deterministic people for any company domain.

The same domain and title always yield the same people, each with an e-mail at
that domain. Coverage differs by vendor so the waterfall has something to do:
each vendor has no people at roughly one domain in ten (by a hash of the domain
and the vendor's name), and nobody at all works at a domain whose first label
starts with `nobody`, which is how a demo reaches the manual-entry form.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

FIRST_NAMES = (
    "Ada", "Grace", "Alan", "Barbara", "Edsger", "Frances", "Donald", "Radia", "Ken",
    "Margaret", "Linus", "Hedy", "Dennis", "Katherine", "Guido", "Sophie", "Tim", "Joan",
    "Vint", "Lynn", "Bjarne", "Shafi", "John", "Anita",
)
LAST_NAMES = (
    "Lovelace", "Hopper", "Turing", "Liskov", "Dijkstra", "Allen", "Knuth", "Perlman",
    "Thompson", "Hamilton", "Torvalds", "Lamarr", "Ritchie", "Johnson", "Rossum", "Wilson",
    "Lee", "Clarke", "Cerf", "Conway", "Stroustrup", "Goldwasser", "McCarthy", "Borg",
)
DEFAULT_TITLES = ("VP Engineering", "Head of Talent", "CTO")


@dataclass(frozen=True)
class Person:
    key: str
    first_name: str
    last_name: str
    title: str
    domain: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def email(self) -> str:
        return f"{self.first_name}.{self.last_name}@{self.domain}".lower()

    @property
    def linkedin_url(self) -> str:
        return f"https://www.linkedin.com/in/{self.first_name}-{self.last_name}-{self.key[:6]}".lower()


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("|".join(parts).encode()).digest()


def knows_domain(vendor: str, domain: str) -> bool:
    if domain.split(".")[0].startswith("nobody"):
        return False
    return _digest(vendor, domain)[0] % 10 != 0


def people_at(vendor: str, domain: str, titles: list[str] | tuple[str, ...]) -> list[Person]:
    """Return one or two people per requested title, the same on every call."""
    if not knows_domain(vendor, domain):
        return []
    people = []
    for title in titles or DEFAULT_TITLES:
        digest = _digest(vendor, domain, title.lower())
        for index in range(1 + digest[1] % 2):
            first = FIRST_NAMES[digest[2 + index] % len(FIRST_NAMES)]
            last = LAST_NAMES[digest[4 + index] % len(LAST_NAMES)]
            key = hashlib.sha256(f"{domain}|{title}|{index}".encode()).hexdigest()[:16]
            people.append(Person(key, first, last, title, domain))
    return people


def person_id(prefix: str, person: Person) -> str:
    """Encode a stateless vendor id, from which the sandbox can rebuild the person after a restart."""
    packed = json.dumps([person.domain, person.title, person.key]).encode()
    return prefix + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def person_from_id(vendor: str, prefix: str, vendor_id: str) -> Person | None:
    if not vendor_id.startswith(prefix):
        return None
    encoded = vendor_id[len(prefix):]
    try:
        domain, title, key = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, TypeError):
        return None
    return next((p for p in people_at(vendor, str(domain), [str(title)]) if p.key == key), None)
