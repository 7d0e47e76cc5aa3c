"""Tables of the enrichment backfill: one row per job and one per company to enrich.

Alembic revision 0002_backfill creates them; they share `Base` with the other
tables so that one metadata describes the whole store.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from console.store.models import Base

# Job states. A job is `running` from creation until every row has ended (`done`),
# unless staff pause it, the budget pauses it, or staff cancel it.
JOB_RUNNING = "running"
JOB_PAUSED = "paused"
JOB_CANCELLED = "cancelled"
JOB_DONE = "done"
JOB_STATES = (JOB_RUNNING, JOB_PAUSED, JOB_CANCELLED, JOB_DONE)

# Row states: `queued` and `running` are transient, the other four are final.
ROW_QUEUED = "queued"
ROW_RUNNING = "running"
ROW_DONE = "done"
ROW_NO_MATCH = "no_match"
ROW_FAILED = "failed"
ROW_SKIPPED = "skipped"
FINAL_ROW_STATES = (ROW_DONE, ROW_NO_MATCH, ROW_FAILED, ROW_SKIPPED)


class BackfillJob(Base):
    __tablename__ = "backfill_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200), default="")
    # "upload", "applications" or "retry"
    source: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(300), default="")
    parent_job_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=JOB_RUNNING)
    # Why the job is paused or cancelled, in words staff can act on.
    status_reason: Mapped[str] = mapped_column(Text, default="")
    # Caps; NULL means no cap.
    budget_credits: Mapped[float | None] = mapped_column(Float)
    budget_usd: Mapped[float | None] = mapped_column(Float)
    # Totals of finished rows, kept on the job so the budget check reads one row.
    credits_spent: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd_spent: Mapped[float] = mapped_column(Float, default=0.0)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    invalid_count: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    # The validation report of the upload: issues, notes and duplicates as dicts.
    report: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BackfillRow(Base):
    __tablename__ = "backfill_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("backfill_jobs.id", ondelete="CASCADE"))
    # Line of the uploaded file the row started on (header is line 1); NULL for
    # rows taken from the applications table.
    line: Mapped[int | None] = mapped_column(Integer)
    domain: Mapped[str] = mapped_column(String(253))
    titles: Mapped[list[str]] = mapped_column(JSON, default=list)
    application_id: Mapped[str | None] = mapped_column(String(64))
    domain_note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=ROW_QUEUED)
    # The claim: which worker has the row, a token unique to this claim, and
    # when the claim was last renewed. A claim older than the lease is taken over.
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str | None] = mapped_column(String(32))
    contacts: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    contacts_saved: Mapped[int] = mapped_column(Integer, default=0)
    # Per-provider skips and failures of the waterfall: [{"provider", "reason", "kind"}].
    skipped_providers: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    credits: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    error_class: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_backfill_rows_job_status", "job_id", "status"),)


class BackfillCharge(Base):
    """A paid vendor result obtained for a row, written as soon as the vendor responds.

    When a worker dies mid-row, the row runs again, and the paid calls it already
    made are read from here instead of being bought a second time.
    """

    __tablename__ = "backfill_charges"

    row_id: Mapped[int] = mapped_column(Integer, ForeignKey("backfill_rows.id", ondelete="CASCADE"),
                                        primary_key=True)
    vendor: Mapped[str] = mapped_column(String(32), primary_key=True)
    vendor_id: Mapped[str] = mapped_column(String(500), primary_key=True)
    # The contact as Contact.as_dict(), or NULL when the vendor had no e-mail.
    contact: Mapped[dict[str, object] | None] = mapped_column(JSON)
    credits: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
