"""pybreaker state storage on the store, so every process shares each breaker."""

from __future__ import annotations

from datetime import datetime

import pybreaker
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from console.store import Store
from console.store.models import BreakerEvent, BreakerRow
from console.store.times import as_utc, utcnow


class StoreBreakerStorage(pybreaker.CircuitBreakerStorage):
    """One `breakers` row per vendor; counters change by UPDATE ... + 1, so
    failures from several processes add up instead of overwriting each other."""

    def __init__(self, store: Store, name: str) -> None:
        super().__init__(name)
        self.store = store
        self._name = name
        with store.session() as session:
            if session.get(BreakerRow, name) is None:
                try:
                    with session.begin_nested():
                        session.add(BreakerRow(name=name, state=pybreaker.STATE_CLOSED))
                except IntegrityError:
                    pass  # another process created it first

    def _row(self) -> BreakerRow:
        with self.store.session() as session:
            row = session.get(BreakerRow, self._name)
            assert row is not None, f"breaker row {self._name} vanished"
            return row

    def _update(self, **values: object) -> None:
        with self.store.session() as session:
            session.execute(update(BreakerRow).where(BreakerRow.name == self._name).values(**values))

    @property
    def state(self) -> str:
        return self._row().state

    @state.setter
    def state(self, state: str) -> None:
        self._update(state=state)

    def increment_counter(self) -> None:
        self._update(fail_counter=BreakerRow.fail_counter + 1)

    def reset_counter(self) -> None:
        # Called after every success: read first so the common case writes nothing.
        with self.store.session() as session:
            counter = session.scalar(select(BreakerRow.fail_counter).where(BreakerRow.name == self._name))
            if counter:
                session.execute(update(BreakerRow).where(BreakerRow.name == self._name)
                                .values(fail_counter=0))

    def increment_success_counter(self) -> None:
        self._update(success_counter=BreakerRow.success_counter + 1)

    def reset_success_counter(self) -> None:
        self._update(success_counter=0)

    @property
    def counter(self) -> int:
        return self._row().fail_counter

    @property
    def success_counter(self) -> int:
        return self._row().success_counter

    @property
    def opened_at(self) -> datetime | None:
        value = self._row().opened_at
        return as_utc(value) if value is not None else None

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        self._update(opened_at=value)


def record_transition(store: Store, vendor: str, old: str, new: str, cause: str) -> None:
    with store.session() as session:
        session.add(BreakerEvent(at=utcnow(), vendor=vendor, old_state=old, new_state=new,
                                 cause=cause[:1000]))
