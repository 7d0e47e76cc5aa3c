"""Backfill jobs: create, pause, resume, cancel, retry failed rows, summarise.

These functions only change the store. Rows are processed by
`console.backfill.worker`, in a huey worker or in the CLI's own process.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select, update

from console.access import START_BACKFILL_ROLES, User
from console.audit import record_audit, require_role_audited
from console.backfill.upload import Issue, ParsedUpload, UploadRow
from console.domains import InvalidDomain, clean_titles, normalise_domain
from console.enrichment import PROVIDERS
from console.store import Store
from console.store.backfill_models import (
    FINAL_ROW_STATES,
    JOB_CANCELLED,
    JOB_DONE,
    JOB_PAUSED,
    JOB_RUNNING,
    ROW_DONE,
    ROW_FAILED,
    ROW_NO_MATCH,
    ROW_QUEUED,
    ROW_RUNNING,
    ROW_SKIPPED,
    BackfillJob,
    BackfillRow,
)
from console.store.models import ApplicationRow, ContactRow
from console.store.times import utcnow


class JobNotFound(LookupError):
    pass


class InvalidJobRequest(ValueError):
    """A request that the job's state or the given values do not allow."""


def new_job_id() -> str:
    return uuid.uuid4().hex


def check_budget(budget_credits: float | None, budget_usd: float | None) -> None:
    for name, value in (("credit budget", budget_credits), ("dollar budget", budget_usd)):
        if value is not None and not value >= 0:
            raise InvalidJobRequest(f"{name} {value} is negative; give a number of 0 or more, or none for no cap")


def _authorise(store: Store, actor: User | None, action: str, detail: str) -> None:
    """Raise PermissionDenied (and audit the attempt) unless `actor` may run backfills.

    `actor` None is the worker and internal callers, which act on jobs a person started.
    """
    if actor is not None:
        require_role_audited(store, actor, START_BACKFILL_ROLES, action, f"{action}, which spends credits",
                             detail=detail)


def _audit(store: Store, actor: User | None, action: str, detail: str) -> None:
    if actor is not None:
        record_audit(store, actor.name, action, detail=detail)


def create_job(store: Store, parsed: ParsedUpload, *, source: str = "upload", created_by: str = "",
               budget_credits: float | None = None, budget_usd: float | None = None,
               parent_job_id: str | None = None, actor: User | None = None) -> str:
    """Store a job with one queued row per valid, distinct row of `parsed`; return its id.

    With `actor` set, raises PermissionDenied unless they hold a backfill role,
    and writes the start to the audit log.
    """
    _authorise(store, actor, "backfill.start", f"{len(parsed.rows)} rows from {parsed.filename or source}")
    if actor is not None:
        created_by = actor.name
    check_budget(budget_credits, budget_usd)
    if not parsed.rows:
        raise InvalidJobRequest("no valid rows to backfill; fix the rows listed in the validation report")
    job_id = new_job_id()
    now = utcnow()
    with store.session() as session:
        session.add(BackfillJob(
            id=job_id, created_at=now, updated_at=now, created_by=created_by, source=source,
            filename=parsed.filename[:300], parent_job_id=parent_job_id, status=JOB_RUNNING,
            status_reason="", budget_credits=budget_credits, budget_usd=budget_usd,
            credits_spent=0.0, cost_usd_spent=0.0, rows_total=len(parsed.rows),
            invalid_count=parsed.invalid_count, duplicate_count=parsed.duplicate_count,
            report=parsed.report(),
        ))
        session.flush()
        session.execute(BackfillRow.__table__.insert(), [
            {"job_id": job_id, "line": row.line or None, "domain": row.domain, "titles": row.titles,
             "application_id": row.application_id, "domain_note": row.domain_note, "status": ROW_QUEUED,
             "attempts": 0, "contacts": [], "contacts_saved": 0, "skipped_providers": [],
             "credits": 0.0, "cost_usd": 0.0}
            for row in parsed.rows
        ])
    _audit(store, actor, "backfill.start", f"job {job_id}: {len(parsed.rows)} rows, budget "
           f"{budget_credits if budget_credits is not None else 'none'} credits / "
           f"{budget_usd if budget_usd is not None else 'none'} USD")
    return job_id


def applications_without_contacts(store: Store) -> ParsedUpload:
    """Check every application that has no stored contact, as an upload would be checked.

    Issues carry line 0 because the rows come from the store, not a file; the
    message names the application.
    """
    parsed = ParsedUpload(filename="applications without contacts", delimiter="", title_separator="")
    has_contacts = exists().where(ContactRow.application_id == ApplicationRow.id)
    with store.session() as session:
        applications = list(session.scalars(select(ApplicationRow).where(~has_contacts)
                                             .order_by(ApplicationRow.created_at, ApplicationRow.id)))
    seen: set[tuple[str, tuple[str, ...], str | None]] = set()
    for application in applications:
        try:
            domain = normalise_domain(application.domain)
        except InvalidDomain as exc:
            parsed.issues.append(Issue(0, "domain", f"application {application.id}: {exc}"))
            continue
        titles = clean_titles([str(title) for title in application.titles or []])
        if not titles:
            parsed.issues.append(Issue(0, "titles", f"application {application.id}: has no job titles"))
            continue
        row = UploadRow(0, domain.value, titles, application.id, domain.note)
        if row.key() in seen:
            continue  # application ids are primary keys, so only a titles-and-domain repeat lands here
        seen.add(row.key())
        parsed.rows.append(row)
    return parsed


def get_job(store: Store, job_id: str) -> BackfillJob:
    with store.session() as session:
        job = session.get(BackfillJob, job_id)
        if job is None:
            raise JobNotFound(f"no backfill job {job_id!r}; list jobs on the Backfill page")
        return job


def list_jobs(store: Store, limit: int = 50) -> list[BackfillJob]:
    with store.session() as session:
        return list(session.scalars(select(BackfillJob).order_by(BackfillJob.created_at.desc()).limit(limit)))


def _set_status(store: Store, job_id: str, allowed: tuple[str, ...], status: str, reason: str,
                **values: object) -> None:
    with store.session() as session:
        job = session.get(BackfillJob, job_id, with_for_update=True)
        if job is None:
            raise JobNotFound(f"no backfill job {job_id!r}")
        if job.status not in allowed:
            raise InvalidJobRequest(f"job {job_id} is {job.status}; only a job that is "
                                    f"{' or '.join(allowed)} can become {status}")
        job.status = status
        job.status_reason = reason
        job.updated_at = utcnow()
        for name, value in values.items():
            setattr(job, name, value)


def pause(store: Store, job_id: str, *, by: str = "", actor: User | None = None) -> None:
    """Stop claiming rows; rows already running finish and are recorded."""
    _authorise(store, actor, "backfill.pause", f"job {job_id}")
    by = actor.name if actor is not None else by
    _set_status(store, job_id, (JOB_RUNNING,), JOB_PAUSED, f"paused by {by or 'a user'}")
    _audit(store, actor, "backfill.pause", f"job {job_id}")


def resume(store: Store, job_id: str, *, budget_credits: float | None = None,
           budget_usd: float | None = None, actor: User | None = None) -> None:
    """Let a paused job claim rows again, with new budget caps when given.

    The caller enqueues the job on a worker afterwards (`worker.enqueue_job`).
    """
    _authorise(store, actor, "backfill.resume", f"job {job_id}")
    check_budget(budget_credits, budget_usd)
    values: dict[str, object] = {}
    if budget_credits is not None:
        values["budget_credits"] = budget_credits
    if budget_usd is not None:
        values["budget_usd"] = budget_usd
    _set_status(store, job_id, (JOB_PAUSED,), JOB_RUNNING, "", **values)
    _audit(store, actor, "backfill.resume", f"job {job_id}")


def cancel(store: Store, job_id: str, *, by: str = "", actor: User | None = None) -> int:
    """Cancel the job: every queued row ends `skipped`. Return how many rows were skipped.

    Rows running at that moment finish and keep their real outcome, because the
    vendor may already have charged for them.
    """
    _authorise(store, actor, "backfill.cancel", f"job {job_id}")
    by = actor.name if actor is not None else by
    reason = f"job cancelled by {by or 'a user'} before this row ran"
    now = utcnow()
    _set_status(store, job_id, (JOB_RUNNING, JOB_PAUSED), JOB_CANCELLED, f"cancelled by {by or 'a user'}",
                finished_at=now)
    with store.session() as session:
        result = session.execute(
            update(BackfillRow)
            .where(BackfillRow.job_id == job_id, BackfillRow.status == ROW_QUEUED)
            .values(status=ROW_SKIPPED, skip_reason=reason, finished_at=now)
        )
        skipped = max(result.rowcount or 0, 0)
    _audit(store, actor, "backfill.cancel", f"job {job_id}: {skipped} queued rows skipped")
    return skipped


def retry_failed(store: Store, job_id: str, *, created_by: str = "", budget_credits: float | None = None,
                 budget_usd: float | None = None, actor: User | None = None) -> str:
    """Create a new job from the failed rows of `job_id`; return the new job's id."""
    job = get_job(store, job_id)
    with store.session() as session:
        failed = list(session.scalars(select(BackfillRow).where(BackfillRow.job_id == job_id,
                                                                BackfillRow.status == ROW_FAILED)
                                      .order_by(BackfillRow.id)))
    if not failed:
        raise InvalidJobRequest(f"job {job_id} has no failed rows to retry")
    parsed = ParsedUpload(filename=f"retry of {job.filename or job_id}", delimiter="", title_separator="")
    parsed.rows = [UploadRow(row.line or 0, row.domain, list(row.titles), row.application_id, row.domain_note)
                   for row in failed]
    return create_job(store, parsed, source="retry", created_by=created_by, budget_credits=budget_credits,
                      budget_usd=budget_usd, parent_job_id=job_id, actor=actor)


@dataclass
class JobSummary:
    job_id: str
    status: str
    status_reason: str
    rows: int
    invalid: int
    duplicates: int
    counts: dict[str, int]
    # Row counts per provider: contacts found (`answered`), no contacts (no_match),
    # skipped without a call (skipped), and call failed (failed).
    providers: dict[str, dict[str, int]]
    credits: float
    cost_usd: float
    budget_credits: float | None
    budget_usd: float | None
    notes: list[str]

    @property
    def finished_rows(self) -> int:
        return sum(self.counts[state] for state in FINAL_ROW_STATES)

    @property
    def progress(self) -> float:
        return self.finished_rows / self.rows if self.rows else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "status_reason": self.status_reason,
            "rows": self.rows,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            **{state: self.counts[state] for state in FINAL_ROW_STATES},
            "queued": self.counts[ROW_QUEUED],
            "running": self.counts[ROW_RUNNING],
            "credits": self.credits,
            "cost_usd": round(self.cost_usd, 4),
            "budget_credits": self.budget_credits,
            "budget_usd": self.budget_usd,
            "providers": self.providers,
            "notes": self.notes,
        }


def summary(store: Store, job_id: str) -> JobSummary:
    """Count rows per state and per provider outcome; cheap enough to poll every second."""
    job = get_job(store, job_id)
    counts: Counter[str] = Counter()
    providers = {name: {"answered": 0, "no_match": 0, "skipped": 0, "failed": 0} for name in PROVIDERS}
    with store.session() as session:
        for status, number in session.execute(
                select(BackfillRow.status, func.count()).where(BackfillRow.job_id == job_id)
                .group_by(BackfillRow.status)):
            counts[status] = number
        for provider, number in session.execute(
                select(BackfillRow.provider, func.count())
                .where(BackfillRow.job_id == job_id, BackfillRow.status == ROW_DONE)
                .group_by(BackfillRow.provider)):
            if provider in providers:
                providers[provider]["answered"] = number
        for skipped in session.scalars(select(BackfillRow.skipped_providers)
                                       .where(BackfillRow.job_id == job_id,
                                              BackfillRow.status.in_(FINAL_ROW_STATES))):
            for entry in skipped or []:
                bucket = providers.setdefault(str(entry.get("provider")),
                                              {"answered": 0, "no_match": 0, "skipped": 0, "failed": 0})
                bucket[str(entry.get("kind", "failed"))] += 1
    notes = _notes(job, providers)
    return JobSummary(job_id=job.id, status=job.status, status_reason=job.status_reason, rows=job.rows_total,
                      invalid=job.invalid_count, duplicates=job.duplicate_count,
                      counts={state: counts[state] for state in (*FINAL_ROW_STATES, ROW_QUEUED, ROW_RUNNING)},
                      providers=providers, credits=job.credits_spent, cost_usd=job.cost_usd_spent,
                      budget_credits=job.budget_credits, budget_usd=job.budget_usd, notes=notes)


def _notes(job: BackfillJob, providers: dict[str, dict[str, int]]) -> list[str]:
    notes = []
    if job.status in (JOB_PAUSED, JOB_CANCELLED) and job.status_reason:
        notes.append(f"job {job.status}: {job.status_reason}")
    for name, figures in providers.items():
        if figures["skipped"] or figures["failed"]:
            notes.append(f"{name} was skipped without a call for {figures['skipped']} rows and failed for "
                         f"{figures['failed']} rows; {name} answered {figures['answered']} rows")
    answered = {name: figures["answered"] for name, figures in providers.items() if figures["answered"]}
    if answered:
        notes.append("rows answered per provider: " + ", ".join(f"{name} {n}" for name, n in answered.items()))
    if job.status == JOB_DONE:
        notes.append("every row has ended")
    return notes


RESULT_COLUMNS = ("line", "domain", "titles", "application_id", "status", "provider", "contacts",
                  "contacts_saved", "credits", "cost_usd", "error_class", "error_message", "skip_reason",
                  "skipped_providers", "domain_note", "attempts")


def results(store: Store, job_id: str, *, status: str | None = None) -> list[dict[str, object]]:
    """Return one flat dict per row, in upload order, with the columns of RESULT_COLUMNS."""
    get_job(store, job_id)
    query = select(BackfillRow).where(BackfillRow.job_id == job_id).order_by(BackfillRow.id)
    if status is not None:
        query = query.where(BackfillRow.status == status)
    with store.session() as session:
        rows = list(session.scalars(query))
    return [{
        "line": row.line,
        "domain": row.domain,
        "titles": "; ".join(row.titles),
        "application_id": row.application_id,
        "status": row.status,
        "provider": row.provider,
        "contacts": "; ".join(f"{c.get('name')} <{c.get('email')}> ({c.get('title')})" for c in row.contacts),
        "contacts_saved": row.contacts_saved,
        "credits": row.credits,
        "cost_usd": round(row.cost_usd, 4),
        "error_class": row.error_class,
        "error_message": row.error_message,
        "skip_reason": row.skip_reason,
        "skipped_providers": "; ".join(f"{s.get('provider')}: {s.get('reason')}" for s in row.skipped_providers),
        "domain_note": row.domain_note,
        "attempts": row.attempts,
    } for row in rows]


__all__ = [
    "JOB_CANCELLED", "JOB_DONE", "JOB_PAUSED", "JOB_RUNNING", "ROW_FAILED", "ROW_NO_MATCH",
    "InvalidJobRequest", "JobNotFound", "JobSummary", "applications_without_contacts", "cancel",
    "create_job", "get_job", "list_jobs", "pause", "results", "resume", "retry_failed", "summary",
]
