"""Normalising what staff type or upload where a company domain belongs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class InvalidDomain(ValueError):
    pass


@dataclass(frozen=True)
class Domain:
    value: str
    # What was changed to get there, e.g. "taken from the URL", for validation reports.
    note: str | None = None


def normalise_domain(text: str | None) -> Domain:
    """Return the bare, lower-case, ASCII (IDNA) domain, or raise InvalidDomain.

    Accepts a URL (`https://www.acme.com/jobs`) or an e-mail address
    (`jane@acme.com`) and keeps only the domain; `www.` is dropped because
    vendors index companies by their bare domain.
    """
    raw = (text or "").strip()
    if not raw:
        raise InvalidDomain("domain is empty; enter a company domain such as acme.com")
    note = None
    candidate = raw
    if "@" in candidate and "://" not in candidate:
        candidate = candidate.rsplit("@", 1)[1]
        note = f"took the domain from the e-mail address {raw!r}"
    elif "://" in candidate or "/" in candidate:
        parsed = urlsplit(candidate if "://" in candidate else f"//{candidate}")
        candidate = parsed.hostname or ""
        note = f"took the domain from the URL {raw!r}"
    candidate = candidate.strip().strip(".").lower()
    if candidate.startswith("www."):
        candidate = candidate[4:]
        note = note or f"dropped 'www.' from {raw!r}"
    try:
        ascii_domain = candidate.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidDomain(f"{raw!r} is not a valid domain; check for stray characters") from None
    if ascii_domain != candidate and note is None:
        note = f"encoded the internationalised domain {raw!r} as {ascii_domain}"
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise InvalidDomain(f"{raw!r} is not a valid domain; expected something like acme.com")
    if ascii_domain != raw and note is None:
        note = f"normalised {raw!r} to {ascii_domain}"
    return Domain(ascii_domain, note)


def clean_titles(titles: list[str]) -> list[str]:
    """Strip, drop empties and collapse repeats, keeping the first spelling."""
    seen: set[str] = set()
    cleaned = []
    for title in titles:
        title = " ".join(title.split())
        if title and title.lower() not in seen:
            seen.add(title.lower())
            cleaned.append(title)
    return cleaned
