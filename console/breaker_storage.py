"""pybreaker state storage on the store, so every process shares each breaker."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

import pybreaker
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from console.store import Store
from console.store.models import BreakerEvent, BreakerRow
from console.store.times import as_utc, utcnow

log = logging.getLogger(__name__)


class _Row(NamedTuple):
    state: str
    fail_counter: int
    success_counter: int
    opened_at: datetime | None


class StoreBreakerStorage(pybreaker.CircuitBreakerStorage):
    """One `breakers` row per vendor; counters change by UPDATE ... + 1, so
    failures from several processes add up instead of overwriting each other.

    Reads are cached for CACHE_SECONDS because pybreaker reads the state several
    times per call. A change made by another process is therefore noticed up to
    that long after it happened. Writes from this process drop the cache at once.
    """

    CACHE_SECONDS = 0.25

    def __init__(self, store: Store, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name)
        self.store = store
        self._name = name
        self._clock = clock
        self._cached: _Row | None = None
        self._cached_at = 0.0
        self._lock = threading.Lock()
        with store.session() as session:
            if session.get(BreakerRow, name) is None:
                try:
                    with session.begin_nested():
                        session.add(BreakerRow(name=name, state=pybreaker.STATE_CLOSED))
                except IntegrityError:
                    pass  # another process created it first

    def _row(self) -> _Row:
        with self._lock:
            if self._cached is not None and self._clock() - self._cached_at < self.CACHE_SECONDS:
                return self._cached
        query = select(BreakerRow.state, BreakerRow.fail_counter, BreakerRow.success_counter,
                       BreakerRow.opened_at).where(BreakerRow.name == self._name)
        with self.store.engine.connect() as connection:
            found = connection.execute(query).one()
        row = _Row(found.state, found.fail_counter, found.success_counter,
                   as_utc(found.opened_at) if found.opened_at is not None else None)
        with self._lock:
            self._cached, self._cached_at = row, self._clock()
        return row

    def _update(self, **values: object) -> None:
        with self._lock:
            self._cached = None
        with self.store.engine.begin() as connection:
            connection.execute(update(BreakerRow).where(BreakerRow.name == self._name).values(**values))

    @property
    def state(self) -> str:
        return self._row().state

    @state.setter
    def state(self, state: str) -> None:
        self._update(state=state)

    def increment_counter(self) -> None:
        self._update(fail_counter=BreakerRow.fail_counter + 1)

    def reset_counter(self) -> None:
        # Called after every success, so the common case (already zero) writes nothing.
        if self._row().fail_counter:
            self._update(fail_counter=0)

    def increment_success_counter(self) -> None:
        self._update(success_counter=BreakerRow.success_counter + 1)

    def reset_success_counter(self) -> None:
        if self._row().success_counter:
            self._update(success_counter=0)

    @property
    def counter(self) -> int:
        return self._row().fail_counter

    @property
    def success_counter(self) -> int:
        return self._row().success_counter

    @property
    def opened_at(self) -> datetime | None:
        return self._row().opened_at

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        self._update(opened_at=value)


def record_transition(store: Store, vendor: str, old: str, new: str, cause: str) -> None:
    """Store a breaker transition once, however many processes notice it.

    Every process sharing a breaker notices the change (pybreaker notifies when its
    cached state differs from storage), so a repeat of the newest event is dropped.
    Touching the breaker's row first takes its write lock, so two processes that
    notice the same change at once check and insert one after the other. A
    failure is logged, never raised: the listener runs inside a vendor call.
    """
    try:
        with store.session() as session:
            session.execute(update(BreakerRow).where(BreakerRow.name == vendor)
                            .values(name=BreakerRow.name))
            latest = session.scalars(select(BreakerEvent).where(BreakerEvent.vendor == vendor)
                                     .order_by(BreakerEvent.id.desc()).limit(1)).first()
            if latest is not None and latest.new_state == new:
                return
            session.add(BreakerEvent(at=utcnow(), vendor=vendor, old_state=old, new_state=new,
                                     cause=cause[:1000]))
    except SQLAlchemyError:
        log.exception("failed to record breaker %s transition %s -> %s", vendor, old, new)
