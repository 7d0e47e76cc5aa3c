"""Tables of the ops features: monitors, alert states and events, breaker overrides, audit log.

They live on the same `Base` as the core tables; migration 0004_ops creates them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from console.store.models import Base


class MonitorRow(Base):
    """A monitor evaluated on the rollups; defaults are inserted on first use."""

    __tablename__ = "monitors"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    vendor: Mapped[str] = mapped_column(String(32), index=True)
    # "above" alerts when the value exceeds the threshold, "below" when it falls under it.
    comparison: Mapped[str] = mapped_column(String(8))
    critical: Mapped[float] = mapped_column(Float)
    warning: Mapped[float | None] = mapped_column(Float)
    window_minutes: Mapped[int] = mapped_column(Integer, default=10)
    # Fewer calls than this in the window gives "no data" instead of a state.
    min_calls: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text, default="")


class MonitorState(Base):
    """The stored state of each monitor; evaluations change it with a conditional UPDATE."""

    __tablename__ = "monitor_states"

    monitor: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AlertEvent(Base):
    """One state change of a monitor, and whether its notification went out."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    monitor: Mapped[str] = mapped_column(String(200), index=True)
    vendor: Mapped[str] = mapped_column(String(32))
    old_state: Mapped[str] = mapped_column(String(16))
    new_state: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text, default="")
    # "sent", "failed: <error>", "not configured" or "not needed".
    notification: Mapped[str] = mapped_column(Text, default="")


class BreakerOverride(Base):
    """A breaker forced open or closed by a person, in force until lifted."""

    __tablename__ = "breaker_overrides"

    vendor: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(320))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """An action that changed state, spent credits or money, or sent mail."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user: Mapped[str] = mapped_column(String(320), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    vendor: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    # "ok", "denied" or "failed: <error>".
    outcome: Mapped[str] = mapped_column(Text)
