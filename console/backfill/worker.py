"""Processing backfill rows: claims, the row loop, and the huey tasks around it.

Several loops (threads, processes, hosts) may work on one job. Each row is
claimed in the store under a lease: the claim sets `claimed_by`, a fresh
`claim_token` and `claimed_at`, and a heartbeat renews `claimed_at` while the
row runs. A claim whose `claimed_at` is older than the lease belongs to a
worker that died, and the next loop takes the row over. Only the holder of the
row's current token can finish it, so no row ends twice. Contacts are saved
with `save_contacts`, which ignores a (domain, e-mail) already stored, so a row
run again after a crash stores no contact twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

import clients.errors as vendor_errors
from console.backfill import checkpoint, estimate
from console.config import Settings
from console.contacts import save_contacts
from console.enrichment import PROVIDERS, run_waterfall
from console.runtime import Runtime, open_runtime
from console.store import Store
from console.store.backfill_models import (
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
from console.store.times import utcnow

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 60.0
# How long a loop sleeps when every open row is held by another live claim.
WAIT_INTERVAL = 0.25
DEFAULT_THREADS = 4
# The class names in the waterfall's skip reasons ("VendorUnavailable: ..."),
# which tell a failed call from a skip made without a call.
ERROR_CLASSES = frozenset(
    name for name, value in vars(vendor_errors).items()
    if isinstance(value, type) and issubclass(value, vendor_errors.VendorError)
)


def lease_seconds() -> float:
    """Return the claim lease in seconds, from ROLEFERRY_BACKFILL_LEASE_SECONDS (default 60)."""
    text = os.environ.get("ROLEFERRY_BACKFILL_LEASE_SECONDS", "")
    try:
        value = float(text) if text else DEFAULT_LEASE_SECONDS
    except ValueError:
        log.warning("ROLEFERRY_BACKFILL_LEASE_SECONDS=%r is not a number; using %g s", text, DEFAULT_LEASE_SECONDS)
        return DEFAULT_LEASE_SECONDS
    return max(value, 1.0)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Claim:
    row_id: int
    token: str
    job_id: str
    domain: str
    titles: list[str]
    application_id: str | None


# Results of `claim_next`: a row was claimed, or the reason no row is claimed now.
CLAIMED, WAIT, STOPPED, FINISHED = "claimed", "wait", "stopped", "finished"


def claim_next(store: Store, job_id: str, worker: str, lease: float) -> tuple[str, Claim | None]:
    """Claim the job's next open row, checking the budget first.

    The first statement writes the job row, which serialises claimers of one job
    (SQLite takes its write lock, PostgreSQL locks the row) so that the budget
    check and the claim see the same counts.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=lease)
    claimable = (BackfillRow.status == ROW_QUEUED) | (
        (BackfillRow.status == ROW_RUNNING) & (BackfillRow.claimed_at < cutoff))
    with store.session() as session:
        session.execute(update(BackfillJob).where(BackfillJob.id == job_id).values(updated_at=now))
        job = session.get(BackfillJob, job_id, populate_existing=True)
        if job is None:
            return STOPPED, None
        if job.status == JOB_CANCELLED:
            _skip_abandoned(session, job_id, cutoff, job.status_reason)
            return STOPPED, None
        if job.status != JOB_RUNNING:
            return STOPPED, None
        live = session.scalar(select(func.count()).select_from(BackfillRow).where(
            BackfillRow.job_id == job_id, BackfillRow.status == ROW_RUNNING, BackfillRow.claimed_at >= cutoff)) or 0
        row = session.scalars(select(BackfillRow).where(BackfillRow.job_id == job_id, claimable)
                              .order_by(BackfillRow.id).limit(1)).first()
        if row is None:
            if live:
                return WAIT, None
            job.status = JOB_DONE
            job.finished_at = now
            return FINISHED, None
        reason = _over_budget(job, reserved_rows=live)
        if reason is not None:
            if live:
                return WAIT, None
            job.status = JOB_PAUSED
            job.status_reason = reason
            log.info("backfill job %s paused: %s", job_id, reason)
            return STOPPED, None
        token = uuid.uuid4().hex
        previous_owner = row.claimed_by if row.status == ROW_RUNNING else None
        claimed = session.execute(
            update(BackfillRow)
            .where(BackfillRow.id == row.id, claimable)
            .values(status=ROW_RUNNING, claimed_by=worker, claim_token=token, claimed_at=now,
                    attempts=BackfillRow.attempts + 1)
            # SQLite returns naive datetimes, which Python cannot compare with the
            # aware cutoff, so the session's copy of the row is not updated in place.
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return WAIT, None
        if previous_owner is not None:
            log.warning("backfill job %s: row %s taken over from %s after its lease of %g s ran out",
                        job_id, row.id, previous_owner, lease)
        return CLAIMED, Claim(row.id, token, job_id, row.domain, list(row.titles), row.application_id)


def _over_budget(job: BackfillJob, reserved_rows: int) -> str | None:
    """Return why the next row would exceed a budget, counting rows still running as spent in full."""
    provider = PROVIDERS[0]
    row_credits = estimate.credits_per_row(provider)
    row_usd = estimate.usd_per_row(provider)
    if job.budget_credits is not None:
        expected = job.credits_spent + (reserved_rows + 1) * row_credits
        if expected > job.budget_credits + 1e-9:
            return (f"credit budget reached: {job.credits_spent:g} of {job.budget_credits:g} credits spent and "
                    f"the next row may cost up to {row_credits:g}; "
                    "resume it on the Backfill page with a higher credit budget")
    if job.budget_usd is not None:
        expected_usd = job.cost_usd_spent + (reserved_rows + 1) * row_usd
        if expected_usd > job.budget_usd + 1e-9:
            return (f"dollar budget reached: ${job.cost_usd_spent:.2f} of ${job.budget_usd:.2f} spent and "
                    f"the next row may cost up to ${row_usd:.2f}; "
                    "resume it on the Backfill page with a higher dollar budget")
    return None


def _skip_abandoned(session: object, job_id: str, cutoff: object, reason: str) -> None:
    """End the rows of a cancelled job whose worker died before finishing them."""
    session.execute(  # type: ignore[attr-defined]
        update(BackfillRow)
        .where(BackfillRow.job_id == job_id, BackfillRow.status == ROW_RUNNING, BackfillRow.claimed_at < cutoff)
        .values(status=ROW_SKIPPED, skip_reason=f"job {reason}; its worker stopped before finishing",
                claim_token=None, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )


@dataclass
class RowOutcome:
    status: str
    provider: str | None = None
    contacts: list[dict[str, object]] | None = None
    contacts_saved: int = 0
    skipped_providers: list[dict[str, str]] | None = None
    credits: float = 0.0
    cost_usd: float = 0.0
    error_class: str | None = None
    error_message: str | None = None
    skip_reason: str | None = None


def process_row(runtime: Runtime, claim: Claim) -> RowOutcome:
    """Run the waterfall for one row in batch mode and save what it found.

    done: a provider found contacts. no_match: a provider returned no contacts.
    failed: every provider that was called failed (error class and message of
    the last failure). skipped: no provider could be called, e.g. breakers open.
    """
    checkpoint.install(runtime)
    with checkpoint.row_context(claim.row_id):
        result = run_waterfall(runtime, claim.domain, claim.titles, mode="batch")
    skipped: list[dict[str, str]] = []
    last_error: tuple[str, str] | None = None
    answered_no_match = False
    for skip in result.skipped:
        error_class, _, message = skip.reason.partition(": ")
        if skip.reason == "no match":
            kind = "no_match"
            answered_no_match = True
        elif error_class in ERROR_CLASSES:
            kind = "failed"
            last_error = (error_class, message)
        else:
            kind = "skipped"
        skipped.append({"provider": skip.provider, "reason": skip.reason, "kind": kind})
    outcome = RowOutcome(status=ROW_DONE, provider=result.provider, skipped_providers=skipped,
                         credits=result.credits, cost_usd=result.cost_usd)
    if result.contacts:
        outcome.contacts = [contact.as_dict() for contact in result.contacts]
        outcome.contacts_saved = save_contacts(runtime.store, claim.domain, result.contacts,
                                               application_id=claim.application_id,
                                               created_by=f"backfill:{claim.job_id}")
    elif answered_no_match:
        outcome.status = ROW_NO_MATCH
    elif last_error is not None:
        outcome.status = ROW_FAILED
        outcome.error_class, outcome.error_message = last_error
    else:
        outcome.status = ROW_SKIPPED
        outcome.skip_reason = "; ".join(f"{s['provider']}: {s['reason']}" for s in skipped) or "no provider"
    return outcome


def finish_row(store: Store, claim: Claim, outcome: RowOutcome) -> bool:
    """Record the row's outcome if this claim is still current, and add its spend to the job either way.

    Return False when another worker took the row over (this worker outlived its
    lease); that worker's outcome is kept, but the credits spent here were spent.
    """
    with store.session() as session:
        ended = session.execute(
            update(BackfillRow)
            .where(BackfillRow.id == claim.row_id, BackfillRow.claim_token == claim.token,
                   BackfillRow.status == ROW_RUNNING)
            .values(status=outcome.status, provider=outcome.provider, contacts=outcome.contacts or [],
                    contacts_saved=outcome.contacts_saved, skipped_providers=outcome.skipped_providers or [],
                    credits=outcome.credits, cost_usd=outcome.cost_usd, error_class=outcome.error_class,
                    error_message=outcome.error_message, skip_reason=outcome.skip_reason,
                    claim_token=None, finished_at=utcnow())
        )
        session.execute(
            update(BackfillJob).where(BackfillJob.id == claim.job_id)
            .values(credits_spent=BackfillJob.credits_spent + outcome.credits,
                    cost_usd_spent=BackfillJob.cost_usd_spent + outcome.cost_usd, updated_at=utcnow())
        )
    if ended.rowcount != 1:
        log.warning("backfill job %s: row %s was taken over by another worker; discarded this run's %s outcome",
                    claim.job_id, claim.row_id, outcome.status)
        return False
    return True


class Heartbeat:
    """Renews `claimed_at` of the claims this process holds, every third of the lease."""

    def __init__(self, store: Store, lease: float) -> None:
        self.store = store
        self.interval = lease / 3
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backfill-heartbeat", daemon=True)
        self._thread.start()

    def hold(self, token: str) -> None:
        with self._lock:
            self._tokens.add(token)

    def release(self, token: str) -> None:
        with self._lock:
            self._tokens.discard(token)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                tokens = list(self._tokens)
            if not tokens:
                continue
            try:
                with self.store.session() as session:
                    session.execute(update(BackfillRow).where(BackfillRow.claim_token.in_(tokens))
                                    .values(claimed_at=utcnow()))
            except Exception:  # the next beat tries again; a missed beat only risks a takeover
                log.exception("backfill heartbeat failed for %d claims", len(tokens))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


_heartbeats: dict[int, Heartbeat] = {}
_heartbeats_lock = threading.Lock()


def heartbeat_for(store: Store, lease: float) -> Heartbeat:
    with _heartbeats_lock:
        beat = _heartbeats.get(id(store))
        if beat is None:
            beat = _heartbeats[id(store)] = Heartbeat(store, lease)
        return beat


def run_rows(runtime: Runtime, job_id: str, *, worker: str | None = None, lease: float | None = None,
             should_stop: Callable[[], bool] = lambda: False) -> str:
    """Claim and process rows of `job_id` until none is left; return why the loop ended.

    Returns FINISHED when every row has ended, STOPPED when the job is paused,
    cancelled or out of budget. Waits while other loops hold the last open rows.
    """
    lease = lease or lease_seconds()
    worker = worker or f"{worker_name()}:{threading.current_thread().name}"
    heartbeat = heartbeat_for(runtime.store, lease)
    checkpoint.install(runtime)
    while not should_stop():
        state, claim = claim_next(runtime.store, job_id, worker, lease)
        if state in (STOPPED, FINISHED):
            return state
        if claim is None:
            time.sleep(WAIT_INTERVAL)
            continue
        heartbeat.hold(claim.token)
        try:
            try:
                outcome = process_row(runtime, claim)
            except Exception as exc:  # one broken row must not stop the job; it ends failed
                log.exception("backfill job %s: row %s (%s) failed", job_id, claim.row_id, claim.domain)
                outcome = RowOutcome(status=ROW_FAILED, error_class=type(exc).__name__, error_message=str(exc))
            finish_row(runtime.store, claim, outcome)
        finally:
            heartbeat.release(claim.token)
    return STOPPED


def run_job_inline(runtime: Runtime, job_id: str, *, threads: int = DEFAULT_THREADS,
                   on_progress: Callable[[], None] | None = None, poll: float = 0.5) -> str:
    """Run `threads` row loops in this process until the job stops or finishes.

    Return FINISHED when the job is done, else STOPPED (paused, cancelled, or a
    loop failed on a system error, which is logged).
    """
    stop = threading.Event()

    def loop(index: int) -> None:
        try:
            run_rows(runtime, job_id, worker=f"{worker_name()}:inline-{index}", should_stop=stop.is_set)
        except Exception:
            log.exception("backfill job %s: row loop %d stopped on an error", job_id, index)

    workers = [threading.Thread(target=loop, args=(index,), name=f"backfill-{index}", daemon=True)
               for index in range(max(threads, 1))]
    for thread in workers:
        thread.start()
    try:
        while any(thread.is_alive() for thread in workers):
            if on_progress is not None:
                on_progress()
            for thread in workers:
                thread.join(timeout=poll / len(workers))
    except KeyboardInterrupt:
        stop.set()
        for thread in workers:
            thread.join()
        raise
    if on_progress is not None:
        on_progress()
    with runtime.store.session() as session:
        status = session.scalar(select(BackfillJob.status).where(BackfillJob.id == job_id))
    return FINISHED if status == JOB_DONE else STOPPED


# --- huey -------------------------------------------------------------------

HUEY_NAME = "roleferry-backfill"
TASK_NAME = "backfill.run_job"


def huey_path(settings: Settings) -> Path:
    """Return the huey queue file: beside a SQLite store, else in the settings' var dir."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / "huey.sqlite"
    return settings.var_dir / "huey.sqlite"


_hueys: dict[tuple[str | None, str], tuple[Huey, TaskWrapper]] = {}
_worker_runtime: Runtime | None = None
_worker_runtime_lock = threading.Lock()


def build_huey(settings: Settings) -> tuple[Huey, TaskWrapper]:
    """Build (once per process) the huey instance for these settings and its row-loop task.

    The queue is in Redis when REDIS_URL is set, else in a SQLite file.
    """
    key = (settings.redis_url, settings.redis_prefix, settings.database_url)
    if key in _hueys:
        return _hueys[key]
    if settings.redis_url:
        # Named under the Redis prefix, so deployments sharing one Redis keep separate queues.
        instance: Huey = RedisHuey(f"{settings.redis_prefix}-{HUEY_NAME}", url=settings.redis_url, results=False)
    else:
        path = huey_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        instance = SqliteHuey(HUEY_NAME, filename=str(path), results=False)
    task = instance.task(name=TASK_NAME)(_run_job_task)
    _hueys[key] = (instance, task)
    return instance, task


def _runtime_for_worker() -> Runtime:
    """Open the worker process's runtime on first use; its threads share it."""
    global _worker_runtime
    with _worker_runtime_lock:
        if _worker_runtime is None:
            _worker_runtime = open_runtime(start_sandbox=False)
        return _worker_runtime


# Row loops running in this process, per job, so the recovery sweep does not
# queue loops for a job this process already works on.
_active_loops: Counter[str] = Counter()
_active_lock = threading.Lock()


def _run_job_task(job_id: str) -> str:
    with _active_lock:
        _active_loops[job_id] += 1
    try:
        state = run_rows(_runtime_for_worker(), job_id)
    finally:
        with _active_lock:
            _active_loops[job_id] -= 1
    log.info("backfill job %s: row loop ended (%s)", job_id, state)
    return state


def recover_jobs(settings: Settings, store: Store, copies: int) -> list[str]:
    """Queue row loops for open jobs that no loop in this process works on; return their ids.

    A task taken off the queue by a worker that was then killed is gone, so each
    worker sweeps at start and then periodically. A loop that finds no open row
    ends at once, so a surplus loop costs one query.
    """
    queued = []
    for job_id in open_jobs(store, lease_seconds()):
        with _active_lock:
            busy = _active_loops[job_id] > 0
        if not busy:
            enqueue_job(settings, job_id, copies)
            queued.append(job_id)
    return queued


def enqueue_job(settings: Settings, job_id: str, copies: int = DEFAULT_THREADS) -> None:
    """Queue `copies` row loops for the job; any worker sharing the queue picks them up."""
    _, task = build_huey(settings)
    for _ in range(copies):
        task(job_id)


def open_jobs(store: Store, lease: float) -> list[str]:
    """Running jobs with a queued row or a row whose claim has expired."""
    cutoff = utcnow() - timedelta(seconds=lease)
    with store.session() as session:
        return list(session.scalars(
            select(BackfillJob.id).where(BackfillJob.status == JOB_RUNNING)
            .where(select(BackfillRow.id).where(
                BackfillRow.job_id == BackfillJob.id,
                (BackfillRow.status == ROW_QUEUED)
                | ((BackfillRow.status == ROW_RUNNING) & (BackfillRow.claimed_at < cutoff))).exists())
        ))
