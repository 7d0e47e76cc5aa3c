"""Deleting raw call records past their retention, in batches."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from console.store import Store
from console.store.models import CallRecordRow
from console.store.times import utcnow

log = logging.getLogger(__name__)

RETENTION = timedelta(days=30)
BATCH_SIZE = 5000


def purge_call_records(store: Store, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Delete call records older than RETENTION and return how many went.

    Small batches keep each transaction short, so recording and the console's
    reads wait at most one batch. Rollups are kept, because pages read only those.
    """
    cutoff = (now or utcnow()) - RETENTION
    total = 0
    while True:
        with store.session() as session:
            ids = session.scalars(select(CallRecordRow.id).where(CallRecordRow.started_at < cutoff)
                                  .limit(batch_size)).all()
            if not ids:
                break
            session.execute(delete(CallRecordRow).where(CallRecordRow.id.in_(ids)))
        total += len(ids)
    if total:
        log.info("deleted %d call records older than %s", total, cutoff.isoformat())
    return total
