"""Forcing a vendor's breaker open or closed, and resetting it, from the console or CLI.

An override is a `breaker_overrides` row, so every process that shares the store
finds it within a quarter second: `VendorBreaker.before_request` reads it through
the cached lookup that `console.runtime` passes in. Every attempt is audited, refusals too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from console.access import FORCE_BREAKER_ROLES, User
from console.audit import audited, require_role_audited
from console.runtime import Runtime
from console.store import Store
from console.store.ops_models import BreakerOverride
from console.store.times import as_utc, utcnow

log = logging.getLogger(__name__)

ACTIONS = ("open", "close", "reset")
MAX_REASON = 500


class InvalidBreakerAction(ValueError):
    pass


@dataclass(frozen=True)
class Override:
    vendor: str
    mode: str
    reason: str
    set_by: str
    set_at: datetime

    def as_dict(self) -> dict[str, object]:
        return {"vendor": self.vendor, "mode": self.mode, "reason": self.reason,
                "set_by": self.set_by, "set_at": self.set_at}


def active_overrides(store: Store) -> list[Override]:
    with store.session() as session:
        rows = session.scalars(select(BreakerOverride).order_by(BreakerOverride.vendor)).all()
    return [Override(row.vendor, row.mode, row.reason, row.set_by, as_utc(row.set_at)) for row in rows]


def change_breaker(runtime: Runtime, user: User, vendor: str, action: str, reason: str) -> Override | None:
    """Force `vendor`'s breaker open or closed, or reset it; return the override now in force.

    `reset` lifts any override and closes the breaker with its failure count
    cleared. Raises PermissionDenied without the ops role and
    InvalidBreakerAction for an unknown vendor or action or an empty reason.
    """
    reason = " ".join(reason.split())
    if vendor not in runtime.pipeline.vendors:
        raise InvalidBreakerAction(f"unknown vendor {vendor!r}; choose one of: {', '.join(runtime.pipeline.vendors)}")
    if action not in ACTIONS:
        raise InvalidBreakerAction(f"unknown breaker action {action!r}; choose one of: {', '.join(ACTIONS)}")
    if not reason:
        raise InvalidBreakerAction("a reason is required; say why the breaker is changed, e.g. 'Apollo outage'")
    audit_action = f"breaker.{action}"
    require_role_audited(runtime.store, user, FORCE_BREAKER_ROLES, audit_action, f"breaker {action} on {vendor}",
                         vendor=vendor, detail=reason[:MAX_REASON])

    with audited(runtime.store, user.name, audit_action, vendor=vendor, detail=reason[:MAX_REASON]):
        breaker = runtime.breaker(vendor)
        if action == "reset":
            with runtime.store.session() as session:
                session.execute(delete(BreakerOverride).where(BreakerOverride.vendor == vendor))
            if runtime.overrides is not None:
                runtime.overrides.clear()
            # Closing a closed breaker with no failures counted would only log a
            # closed -> closed transition.
            if breaker.stored_state != "closed" or breaker.fail_counter:
                breaker.force_close()
            log.warning("breaker %s reset by %s: %s", vendor, user.name, reason)
            return None
        mode = "open" if action == "open" else "closed"
        override = Override(vendor, mode, reason[:MAX_REASON], user.name, utcnow())
        with runtime.store.session() as session:
            session.merge(BreakerOverride(vendor=vendor, mode=mode, reason=override.reason,
                                          set_by=user.name, set_at=override.set_at))
        if runtime.overrides is not None:
            runtime.overrides.clear()
        log.warning("breaker %s forced %s by %s: %s", vendor, mode, user.name, reason)
        return override
