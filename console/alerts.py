"""Evaluating monitors into alert states, their history, and one notification per change.

Each monitor's state is stored in `monitor_states`. An evaluation changes it in
one transaction that also inserts the `alert_events` row, and only the process
whose transaction made the change sends the notification. So the console's
pages, several browser tabs and the `alerts` CLI can all evaluate at once
without sending a message twice, and repeated evaluations in one state send
nothing.

A change notifies when either side is warning or alert; OK <-> no data is kept
in the history only, because it pages no one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from datadog.dogstatsd import DogStatsd
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from console.monitors import (
    ALERT,
    NO_DATA,
    WARNING,
    Measurements,
    Monitor,
    describe_value,
    list_monitors,
    runbook_url,
)
from console.notify import notifier_from_env
from console.runtime import Runtime
from console.store.ops_models import AlertEvent, MonitorState
from console.store.times import as_utc, utcnow

log = logging.getLogger(__name__)

NOTIFYING_STATES = (WARNING, ALERT)
GAUGE_PREFIX = "roleferry.integrations"


class Notifier(Protocol):
    """Sends one alert message and returns the outcome ("sent" or "failed: ...")."""

    def send(self, text: str) -> str: ...


@dataclass
class MonitorStatus:
    monitor: str
    vendor: str
    kind: str
    state: str
    value: float | None
    since: datetime
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"monitor": self.monitor, "vendor": self.vendor, "state": self.state,
                "value": self.value, "since": self.since}


def alert_text(monitor: Monitor, old: str, new: str, detail: str) -> str:
    # The description explains what a firing monitor means, so a recovery leaves it out.
    meaning = f"{monitor.description} " if new in (WARNING, ALERT) else ""
    return (f"[{new.upper()}] {monitor.name}: {detail} (was {old}). "
            f"{meaning}Runbook: {runbook_url(monitor.vendor)}")


def _store_state(runtime: Runtime, monitor: Monitor, state: str, value: float | None, detail: str,
                 now: datetime) -> AlertEvent | None:
    """Store the monitor's state; return the new event when this call changed it."""
    store = runtime.store
    insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
    with store.session() as session:
        # Writing first takes SQLite's write lock before the read below, so two
        # processes cannot both read the old state and both record the change.
        session.execute(insert(MonitorState).values(
            monitor=monitor.name, state=NO_DATA, value=None, since=now, evaluated_at=now,
        ).on_conflict_do_nothing(index_elements=["monitor"]))
        row = session.get(MonitorState, monitor.name, with_for_update=True, populate_existing=True)
        assert row is not None, f"monitor state {monitor.name} vanished"
        row.value = value
        row.evaluated_at = now
        if row.state == state:
            return None
        old = row.state
        row.state = state
        row.since = now
        notify = old in NOTIFYING_STATES or state in NOTIFYING_STATES
        event = AlertEvent(at=now, monitor=monitor.name, vendor=monitor.vendor, old_state=old, new_state=state,
                           value=value, message=alert_text(monitor, old, state, detail),
                           notification="pending" if notify else "not needed")
        session.add(event)
        session.flush()
        session.expunge(event)
        return event


def _deliver(runtime: Runtime, event: AlertEvent, notifier: Notifier | None) -> None:
    outcome = notifier.send(event.message) if notifier is not None else "not configured"
    with runtime.store.session() as session:
        stored = session.get(AlertEvent, event.id)
        if stored is not None:
            stored.notification = outcome
    event.notification = outcome


def _publish_gauges(runtime: Runtime, values: dict[tuple[str, str], float | None]) -> None:
    """Send the breaker and credit values as DogStatsD gauges, which the exported
    Datadog monitors of those kinds query; best effort, like every metric."""
    statsd = DogStatsd(host=runtime.settings.statsd_host, port=runtime.settings.statsd_port,
                       disable_telemetry=True)
    names = {"breaker_open": "breaker_open", "credits_low": "credits_left_ratio"}
    try:
        for (vendor, kind), value in values.items():
            if kind in names and value is not None:
                statsd.gauge(f"{GAUGE_PREFIX}.{vendor}.{names[kind]}", value)
    except OSError as exc:
        log.debug("dogstatsd gauge failed: %s", exc)
    finally:
        statsd.close_socket()


def evaluate(runtime: Runtime, now: datetime | None = None,
             notifier: Notifier | None = None) -> list[MonitorStatus]:
    """Evaluate every enabled monitor at `now`, store the states and notify each change.

    The notifier defaults to the webhook in `ROLEFERRY_ALERT_WEBHOOK_URL`, if set.
    """
    now = now or utcnow()
    runtime.recorder.flush()
    if notifier is None:
        notifier = notifier_from_env(runtime.store)
    measurements = Measurements(runtime, now)
    statuses: list[MonitorStatus] = []
    gauges: dict[tuple[str, str], float | None] = {}
    for monitor in list_monitors(runtime.store):
        if not monitor.enabled:
            continue
        value = measurements.value(monitor)
        gauges[(monitor.vendor, monitor.kind)] = value
        state = monitor.state_for(value)
        detail = describe_value(monitor, value)
        if monitor.kind == "breaker_open":
            override = runtime.breaker(monitor.vendor).override()
            if override is not None:
                detail += f" (forced {override[0]}: {override[1]})"
        event = _store_state(runtime, monitor, state, value, detail, now)
        if event is not None and event.notification == "pending":
            log.warning("monitor %s: %s -> %s (%s)", monitor.name, event.old_state, state, detail)
            _deliver(runtime, event, notifier)
        elif event is not None:
            log.info("monitor %s: %s -> %s (%s)", monitor.name, event.old_state, state, detail)
        statuses.append(MonitorStatus(monitor.name, monitor.vendor, monitor.kind, state, value, now, detail))
    _publish_gauges(runtime, gauges)
    # `since` is read back from the store, because another process may have made the change.
    since = {status.monitor: status.since for status in current_states(runtime)}
    for status in statuses:
        status.since = since.get(status.monitor, now)
    return statuses


def current_states(runtime: Runtime) -> list[MonitorStatus]:
    """Stored states of enabled monitors, firing first (alert, warning, no data, OK)."""
    order = {ALERT: 0, WARNING: 1, NO_DATA: 2}
    monitors = {monitor.name: monitor for monitor in list_monitors(runtime.store) if monitor.enabled}
    with runtime.store.session() as session:
        rows = session.scalars(select(MonitorState)).all()
    statuses = [
        MonitorStatus(row.monitor, monitors[row.monitor].vendor, monitors[row.monitor].kind, row.state,
                      row.value, as_utc(row.since), describe_value(monitors[row.monitor], row.value))
        for row in rows if row.monitor in monitors
    ]
    return sorted(statuses, key=lambda status: (order.get(status.state, 3), status.vendor, status.monitor))


def alert_history(runtime: Runtime, days: int = 7, now: datetime | None = None, *,
                  firing_only: bool = False) -> list[dict[str, object]]:
    """State changes of the last `days` days, newest first; with `firing_only`, only
    changes into or out of warning or alert."""
    since = (now or utcnow()) - timedelta(days=days)
    query = select(AlertEvent).where(AlertEvent.at >= since)
    if firing_only:
        query = query.where(AlertEvent.old_state.in_(NOTIFYING_STATES) | AlertEvent.new_state.in_(NOTIFYING_STATES))
    with runtime.store.session() as session:
        rows = session.scalars(query.order_by(AlertEvent.at.desc(), AlertEvent.id.desc())).all()
    return [{"at": as_utc(row.at), "monitor": row.monitor, "vendor": row.vendor, "from": row.old_state,
             "to": row.new_state, "value": row.value, "notification": row.notification} for row in rows]
