"""Writes call records and rollups to the store, in batches, off the calling thread.

A vendor call only appends its record to a queue; a writer thread turns each
batch into raw rows, per-minute rollup upserts and vendor flags. `flush` waits
until everything queued so far is written; `close` flushes and stops the thread,
and runs at interpreter exit so a clean exit loses nothing.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from clients.errors import AuthFailed, OutOfCredits
from clients.recording import SUCCESS, CallRecord
from console.retention import purge_call_records
from console.store import Store
from console.store.models import (
    BUCKET_COLUMNS,
    LATENCY_BUCKETS_MS,
    CallRecordRow,
    DailyRollup,
    Rollup,
    VendorFlag,
)
from console.store.times import floor_minute, utcnow

log = logging.getLogger(__name__)

FLAG_FOR_OUTCOME = {OutOfCredits.__name__: "exhausted", AuthFailed.__name__: "misconfigured"}
BATCH_SIZE = 500
UPSERT_SLICE = 1000


def bucket_column(latency_ms: float) -> str:
    for bound, column in zip(LATENCY_BUCKETS_MS, BUCKET_COLUMNS, strict=False):
        if latency_ms <= bound:
            return column
    return "le_inf"


def rollup_rows(records: list[CallRecord]) -> list[dict[str, object]]:
    """Fold records into one row per (minute, vendor, operation, outcome)."""
    rows: dict[tuple[datetime, str, str, str], dict[str, object]] = {}
    for record in records:
        key = (floor_minute(record.started_at), record.vendor, record.operation, record.outcome)
        row = rows.get(key)
        if row is None:
            row = {"minute": key[0], "vendor": key[1], "operation": key[2], "outcome": key[3],
                   "calls": 0, "breaker_failures": 0, "latency_ms_sum": 0.0, "credits": 0.0,
                   "cost_usd": 0.0, **{column: 0 for column in BUCKET_COLUMNS}}
            rows[key] = row
        row["calls"] += 1  # type: ignore[operator]
        row["breaker_failures"] += int(record.breaker_failure)  # type: ignore[operator]
        row["latency_ms_sum"] += record.latency_ms  # type: ignore[operator]
        row["credits"] += record.credits  # type: ignore[operator]
        row["cost_usd"] += record.cost_usd  # type: ignore[operator]
        row[bucket_column(record.latency_ms)] += 1  # type: ignore[operator]
    return list(rows.values())


DAILY_COLUMNS = ("calls", "breaker_failures", "latency_ms_sum", "credits", "cost_usd")


def daily_rows(minute_rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Fold minute rollup rows into one row per (day, vendor, operation, outcome)."""
    days: dict[tuple[object, ...], dict[str, object]] = {}
    for row in minute_rows:
        key = (row["minute"].date(), row["vendor"], row["operation"], row["outcome"])  # type: ignore[attr-defined]
        day = days.setdefault(key, {"day": key[0], "vendor": key[1], "operation": key[2], "outcome": key[3],
                                    **{name: 0 for name in DAILY_COLUMNS}})
        for name in DAILY_COLUMNS:
            day[name] += row[name]  # type: ignore[operator]
    return list(days.values())


def _upsert(session: Session, table: type[Rollup] | type[DailyRollup], keys: list[str],
            summed: tuple[str, ...], rows: list[dict[str, object]]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # One statement binds every value, and SQLite allows at most 32,766 bound
    # variables, so large batches go in slices.
    for start in range(0, len(rows), UPSERT_SLICE):
        statement = insert(table).values(rows[start:start + UPSERT_SLICE])
        statement = statement.on_conflict_do_update(
            index_elements=keys,
            set_={name: getattr(table, name) + statement.excluded[name] for name in summed},
        )
        session.execute(statement)


def upsert_rollups(session: Session, rows: list[dict[str, object]]) -> None:
    """Add minute rows to the minute and daily rollups.

    The database does the addition, so concurrent writers from several
    processes lose no update.
    """
    if not rows:
        return
    _upsert(session, Rollup, ["minute", "vendor", "operation", "outcome"],
            (*DAILY_COLUMNS, *BUCKET_COLUMNS), rows)
    _upsert(session, DailyRollup, ["day", "vendor", "operation", "outcome"], DAILY_COLUMNS, daily_rows(rows))


def update_flags(session: Session, records: list[CallRecord]) -> None:
    """Mark a vendor exhausted or misconfigured on those errors; clear on success."""
    latest: dict[str, CallRecord] = {}
    for record in records:
        if record.outcome == SUCCESS or record.outcome in FLAG_FOR_OUTCOME:
            latest[record.vendor] = record
    for vendor, record in latest.items():
        if record.outcome == SUCCESS:
            session.execute(delete(VendorFlag).where(VendorFlag.vendor == vendor))
            continue
        flag = FLAG_FOR_OUTCOME[record.outcome]
        session.merge(VendorFlag(vendor=vendor, flag=flag, set_at=utcnow(),
                                 reason=record.error_message or record.outcome))


def write_records(store: Store, records: list[CallRecord]) -> None:
    with store.session() as session:
        session.add_all(
            CallRecordRow(
                started_at=record.started_at, vendor=record.vendor, operation=record.operation,
                outcome=record.outcome, mode=record.mode, status_code=record.status_code,
                latency_ms=record.latency_ms, attempts=record.attempts, credits=record.credits,
                cost_usd=record.cost_usd, breaker_failure=record.breaker_failure,
                request_id=record.request_id, error_message=record.error_message,
            )
            for record in records
        )
        upsert_rollups(session, rollup_rows(records))
        update_flags(session, records)


class BufferedRecorder:
    """A RecordSink that writes to the store from a background thread.

    The same thread deletes raw records past their retention once an hour.
    """

    PURGE_EVERY = 3600.0
    LINGER = 0.2

    def __init__(self, store: Store) -> None:
        self.store = store
        self._last_purge = 0.0
        self._queue: queue.Queue[CallRecord | threading.Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="call-recorder", daemon=True)
        self._closed = False
        self._thread.start()
        atexit.register(self.close)

    def record(self, record: CallRecord) -> None:
        if self._closed:
            write_records(self.store, [record])
            return
        self._queue.put(record)

    def flush(self, timeout: float = 30.0) -> None:
        if self._closed:
            return
        done = threading.Event()
        self._queue.put(done)
        if not done.wait(timeout):
            log.error("call records not flushed within %.0f s; %d still queued",
                      timeout, self._queue.qsize())

    def close(self) -> None:
        if self._closed:
            return
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._closed = True

    def _run(self) -> None:
        while True:
            batch, markers, stop = self._collect()
            self._write(batch)
            for marker in markers:
                marker.set()
            if stop:
                return
            self._purge_if_due()

    def _collect(self) -> tuple[list[CallRecord], list[threading.Event], bool]:
        """Gather one batch: wait for a first item, then linger up to LINGER seconds.

        Lingering turns a burst of calls into one transaction instead of one per
        call; a flush or close request ends the wait at once.
        """
        batch: list[CallRecord] = []
        markers: list[threading.Event] = []
        item = self._queue.get()
        deadline = time.monotonic() + self.LINGER
        while True:
            if item is None:
                return batch, markers, True
            if isinstance(item, threading.Event):
                markers.append(item)
            else:
                batch.append(item)
            if len(batch) >= BATCH_SIZE:
                return batch, markers, False
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get_nowait() if markers or remaining <= 0 else self._queue.get(timeout=remaining)
            except queue.Empty:
                return batch, markers, False

    def _purge_if_due(self) -> None:
        now = time.monotonic()
        if self._last_purge and now - self._last_purge < self.PURGE_EVERY:
            return
        self._last_purge = now
        try:
            purge_call_records(self.store)
        except Exception:
            log.exception("failed to delete expired call records; will try again in an hour")

    def _write(self, batch: list[CallRecord]) -> None:
        if not batch:
            return
        try:
            write_records(self.store, batch)
        except Exception:
            # Keep the calling threads running; the records are logged as lost.
            log.exception("failed to write %d call records", len(batch))
