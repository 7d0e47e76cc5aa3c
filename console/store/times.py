"""UTC helpers: SQLite hands datetimes back without a zone, PostgreSQL with one."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def floor_minute(value: datetime) -> datetime:
    return as_utc(value).replace(second=0, microsecond=0)
