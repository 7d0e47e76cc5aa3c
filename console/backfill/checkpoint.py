"""Paid vendor results saved per row, so a row run again after a crash buys nothing twice.

The backfill's runtime uses these subclasses of the real Apollo and Clay clients.
Outside a row (`row_context`) they behave exactly like their parents. Inside
one, each paid result is written to `backfill_charges` as soon as the vendor
responds, and a rerun of the same row reads it back instead of calling again.
A call is still charged twice when the worker dies after the vendor charged it
and before this write. That is at most one paid call per row in flight when a
worker dies (for Clay, one e-mail routine, which covers every contact of the row).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from clients.apollo import ApolloClient
from clients.clay import ClayClient, ClayPerson
from clients.contacts import Contact
from clients.pipeline import CallResult, Mode
from clients.recording import SUCCESS, CallRecord, utcnow
from console.runtime import Runtime
from console.store import Store
from console.store.backfill_models import BackfillCharge

_current = threading.local()
_install_lock = threading.Lock()


@contextmanager
def row_context(row_id: int) -> Iterator[None]:
    """Mark this thread's vendor calls as made for backfill row `row_id`."""
    _current.row_id = row_id
    try:
        yield
    finally:
        _current.row_id = None


def _row_id() -> int | None:
    return getattr(_current, "row_id", None)


def _saved(store: Store, row_id: int, vendor: str, vendor_ids: list[str]) -> dict[str, BackfillCharge]:
    with store.session() as session:
        found = session.scalars(select(BackfillCharge).where(
            BackfillCharge.row_id == row_id, BackfillCharge.vendor == vendor,
            BackfillCharge.vendor_id.in_(vendor_ids)))
        return {charge.vendor_id: charge for charge in found}


def _save(store: Store, row_id: int, vendor: str, entries: list[dict[str, object]]) -> None:
    if not entries:
        return
    rows = [{"row_id": row_id, "vendor": vendor, "created_at": utcnow(), **entry} for entry in entries]
    insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
    with store.session() as session:
        session.execute(insert(BackfillCharge).values(rows).on_conflict_do_nothing())


def _replayed(vendor: str, operation: str, mode: Mode, value: object, credits: float,
              cost_usd: float) -> CallResult[object]:
    """Build a call result from stored data, reporting the credits of the original call."""
    record = CallRecord(vendor=vendor, operation=operation, outcome=SUCCESS, mode=mode, started_at=utcnow(),
                        latency_ms=0.0, attempts=0, credits=credits, cost_usd=cost_usd,
                        extra={"replayed": True})
    return CallResult(value, record)


def _contact(data: dict[str, object] | None) -> Contact | None:
    return Contact(**data) if data else None  # type: ignore[arg-type]


class CheckpointedApolloClient(ApolloClient):
    def __init__(self, pipeline: object, base_url: str, store: Store) -> None:
        super().__init__(pipeline, base_url)  # type: ignore[arg-type]
        self.store = store

    def enrich_person(self, person_id: str, *, mode: Mode = "interactive") -> CallResult[Contact | None]:
        row_id = _row_id()
        if row_id is None:
            return super().enrich_person(person_id, mode=mode)
        saved = _saved(self.store, row_id, "apollo", [person_id]).get(person_id)
        if saved is not None:
            return _replayed("apollo", "people_enrich", mode, _contact(saved.contact),  # type: ignore[return-value]
                             saved.credits, saved.cost_usd)
        result = super().enrich_person(person_id, mode=mode)
        _save(self.store, row_id, "apollo", [{
            "vendor_id": person_id, "contact": result.value.as_dict() if result.value else None,
            "credits": result.record.credits, "cost_usd": result.record.cost_usd}])
        return result


class CheckpointedClayClient(ClayClient):
    def __init__(self, pipeline: object, base_url: str, store: Store) -> None:
        super().__init__(pipeline, base_url)  # type: ignore[arg-type]
        self.store = store

    def lookup_emails(self, people: list[ClayPerson], domain: str, *,
                      mode: Mode = "interactive") -> CallResult[list[Contact]]:
        row_id = _row_id()
        if row_id is None or not people:
            return super().lookup_emails(people, domain, mode=mode)
        ids = [person.profile_id for person in people]
        saved = _saved(self.store, row_id, "clay", ids)
        if len(saved) == len(ids):
            contacts = [contact for vendor_id in ids if (contact := _contact(saved[vendor_id].contact))]
            return _replayed("clay", "email_lookup", mode, contacts,  # type: ignore[return-value]
                             sum(charge.credits for charge in saved.values()),
                             sum(charge.cost_usd for charge in saved.values()))
        result = super().lookup_emails(people, domain, mode=mode)
        by_id = {contact.vendor_id: contact for contact in result.value}
        # The routine's credits are split evenly over the contacts it found.
        share = 1 / len(by_id) if by_id else 0.0
        _save(self.store, row_id, "clay", [{
            "vendor_id": vendor_id, "contact": by_id[vendor_id].as_dict() if vendor_id in by_id else None,
            "credits": result.record.credits * share if vendor_id in by_id else 0.0,
            "cost_usd": result.record.cost_usd * share if vendor_id in by_id else 0.0,
        } for vendor_id in ids])
        return result


def install(runtime: Runtime) -> None:
    """Swap the runtime's Apollo and Clay clients for their checkpointing subclasses, once."""
    with _install_lock:
        for name, cls in (("apollo", CheckpointedApolloClient), ("clay", CheckpointedClayClient)):
            current = runtime.clients.get(name)
            if isinstance(current, cls):
                continue
            runtime.clients[name] = cls(runtime.pipeline, runtime.base_urls[name], runtime.store)
            if current is not None:
                # NOTE: a thread of another feature could still be using the old client here.
                current.close()
