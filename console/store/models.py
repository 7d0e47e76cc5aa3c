"""Tables of the console's store. Alembic migrations create them; see console/migrations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Upper bounds in milliseconds of the latency histogram kept in each rollup;
# p50 and p95 are read from it, so their precision is one bucket.
LATENCY_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000)
BUCKET_COLUMNS = tuple(f"le_{bound}" for bound in LATENCY_BUCKETS_MS) + ("le_inf",)


class Base(DeclarativeBase):
    pass


class CallRecordRow(Base):
    """Raw call records, kept 30 days; pages read rollups instead."""

    __tablename__ = "call_records"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    vendor: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer)
    credits: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    breaker_failure: Mapped[bool] = mapped_column(Boolean, default=False)
    request_id: Mapped[str | None] = mapped_column(String(128))
    error_message: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_call_records_vendor_started", "vendor", "started_at"),)


class Rollup(Base):
    """Calls per minute, vendor, operation and outcome."""

    __tablename__ = "rollups"

    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(32), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    breaker_failures: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms_sum: Mapped[float] = mapped_column(Float, default=0.0)
    credits: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    le_50: Mapped[int] = mapped_column(Integer, default=0)
    le_100: Mapped[int] = mapped_column(Integer, default=0)
    le_250: Mapped[int] = mapped_column(Integer, default=0)
    le_500: Mapped[int] = mapped_column(Integer, default=0)
    le_1000: Mapped[int] = mapped_column(Integer, default=0)
    le_2500: Mapped[int] = mapped_column(Integer, default=0)
    le_5000: Mapped[int] = mapped_column(Integer, default=0)
    le_10000: Mapped[int] = mapped_column(Integer, default=0)
    le_inf: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_rollups_vendor_minute", "vendor", "minute"),)


class DailyRollup(Base):
    """Calls per day, vendor, operation and outcome, for month-long figures.

    Spend and credit figures sum a month; summing 30 of these per vendor is far
    cheaper than summing 43,200 minute rollups.
    """

    __tablename__ = "daily_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    vendor: Mapped[str] = mapped_column(String(32), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    breaker_failures: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms_sum: Mapped[float] = mapped_column(Float, default=0.0)
    credits: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)


class BreakerRow(Base):
    """pybreaker's state storage, shared by every process on this store."""

    __tablename__ = "breakers"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="closed")
    fail_counter: Mapped[int] = mapped_column(Integer, default=0)
    success_counter: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BreakerEvent(Base):
    __tablename__ = "breaker_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    vendor: Mapped[str] = mapped_column(String(32))
    old_state: Mapped[str] = mapped_column(String(16))
    new_state: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(Text, default="")


class VendorFlag(Base):
    """A vendor marked exhausted (out of credits) or misconfigured (auth failed)."""

    __tablename__ = "vendor_flags"

    vendor: Mapped[str] = mapped_column(String(32), primary_key=True)
    flag: Mapped[str] = mapped_column(String(32), primary_key=True)
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text, default="")


class ContactRow(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), index=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(String(16))
    linkedin_url: Mapped[str | None] = mapped_column(String(500))
    application_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (UniqueConstraint("domain", "email", name="uq_contacts_domain_email"),)


class ApplicationRow(Base):
    """A candidate's application to a company, the unit a backfill enriches."""

    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), index=True)
    titles: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
