"""Tables of the Spend figures, on the store's one declarative Base."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from console.store.models import Base


class VendorUsageSnapshot(Base):
    """A vendor's own usage report for a month, beside our metering at the same moment.

    The vendor's figures are authoritative; ours are kept to show the drift.
    A vendor that reports only credits leaves `vendor_usd` empty, and the other way round.
    """

    __tablename__ = "vendor_usage_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vendor: Mapped[str] = mapped_column(String(32))
    # The billing month the figures cover, as YYYY-MM.
    month: Mapped[str] = mapped_column(String(7))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    vendor_credits: Mapped[float | None] = mapped_column(Float)
    vendor_usd: Mapped[float | None] = mapped_column(Float)
    metered_credits: Mapped[float] = mapped_column(Float)
    metered_usd: Mapped[float] = mapped_column(Float)
    # Where the vendor's figure came from, e.g. the endpoint and field read.
    source: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_vendor_usage_snapshots_vendor_month", "vendor", "month", "fetched_at"),)
