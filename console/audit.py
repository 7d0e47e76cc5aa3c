"""The audit log: who changed state, spent credits or money, or sent mail, and the outcome."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from console.access import PermissionDenied, User, require_role
from console.store import Store
from console.store.ops_models import AuditEntry
from console.store.times import as_utc, utcnow

log = logging.getLogger(__name__)

# Leading characters that make a spreadsheet treat a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class AuditFilter:
    user: str | None = None
    action: str | None = None
    vendor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def record_audit(store: Store, user: str, action: str, *, vendor: str | None = None, detail: str = "",
                 outcome: str = "ok", at: datetime | None = None) -> None:
    with store.session() as session:
        session.add(AuditEntry(at=at or utcnow(), user=user, action=action, vendor=vendor,
                               detail=detail[:4000], outcome=outcome[:1000]))


def require_role_audited(store: Store, user: User, roles: tuple[str, ...], audit_action: str, description: str,
                         *, vendor: str | None = None, detail: str = "") -> None:
    """`require_role`, writing a "denied" audit entry before raising PermissionDenied."""
    try:
        require_role(user, roles, description)
    except PermissionDenied as exc:
        record_audit(store, user.name, audit_action, vendor=vendor, detail=detail, outcome=f"denied: {exc}")
        raise


@contextmanager
def audited(store: Store, user: str, action: str, *, vendor: str | None = None,
            detail: str = "") -> Iterator[list[str]]:
    """Write one audit entry for the block: "ok", or "failed: <error>" and re-raise.

    The block may append text to the yielded list to add to the entry's detail.
    """
    notes: list[str] = []
    try:
        yield notes
    except Exception as exc:
        record_audit(store, user, action, vendor=vendor, detail=_join(detail, notes),
                     outcome=f"failed: {type(exc).__name__}: {exc}")
        raise
    record_audit(store, user, action, vendor=vendor, detail=_join(detail, notes))


def _join(detail: str, notes: list[str]) -> str:
    return "; ".join(part for part in (detail, *notes) if part)


def audit_entries(store: Store, where: AuditFilter | None = None, limit: int = 5000) -> list[dict[str, object]]:
    """Entries newest first, narrowed by the filter's user, action, vendor and time range."""
    where = where or AuditFilter()
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if where.user:
        query = query.where(AuditEntry.user == where.user)
    if where.action:
        query = query.where(AuditEntry.action == where.action)
    if where.vendor:
        query = query.where(AuditEntry.vendor == where.vendor)
    if where.since:
        query = query.where(AuditEntry.at >= where.since)
    if where.until:
        query = query.where(AuditEntry.at < where.until)
    with store.session() as session:
        rows = session.scalars(query).all()
    return [{"at": as_utc(row.at), "user": row.user, "action": row.action, "vendor": row.vendor or "",
             "detail": row.detail, "outcome": row.outcome} for row in rows]


def audit_choices(store: Store) -> dict[str, list[str]]:
    """Distinct users, actions and vendors, for the Audit page's filters."""
    with store.session() as session:
        return {
            "user": sorted(session.scalars(select(AuditEntry.user).distinct())),
            "action": sorted(session.scalars(select(AuditEntry.action).distinct())),
            "vendor": sorted(v for v in session.scalars(select(AuditEntry.vendor).distinct()) if v),
        }


def neutralise_cell(value: object) -> object:
    """Prefix text a spreadsheet would run as a formula with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def audit_csv(entries: list[dict[str, object]]) -> str:
    columns = ["at", "user", "action", "vendor", "detail", "outcome"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for entry in entries:
        row = {column: entry[column] for column in columns}
        row["at"] = as_utc(entry["at"]).isoformat()  # type: ignore[arg-type]
        writer.writerow({column: neutralise_cell(value) for column, value in row.items()})
    return buffer.getvalue()
