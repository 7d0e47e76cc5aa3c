"""A real `roleferry-console worker` process, killed with SIGKILL mid-job and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from clients.registry import REGISTRY
from console.backfill import jobs
from console.backfill.upload import parse_upload
from console.backfill.worker import enqueue_job
from console.store import Store
from console.store.backfill_models import FINAL_ROW_STATES, BackfillRow
from console.store.models import ContactRow
from tests.conftest import sandbox_stats, set_fault

ROWS = 40
# Upper bound on waits below, so a broken worker fails the test instead of hanging it.
WAIT_LIMIT = 120.0


def worker_env(settings, sandbox) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in {name for spec in REGISTRY.values() for name in spec.secret_names}
           and key != "REDIS_URL"}
    if settings.redis_url:
        # The huey queue, the breakers and the rate limits go through Redis.
        env["REDIS_URL"] = settings.redis_url
    env.update({
        "SANDBOX_URL": sandbox.url,
        "DATABASE_URL": settings.database_url,
        "ROLEFERRY_REDIS_PREFIX": settings.redis_prefix,
        "ROLEFERRY_RATE_LIMITS": "apollo=1000/1,clay=1000/1",
        "ROLEFERRY_BACKFILL_LEASE_SECONDS": "2",
        "DD_DOGSTATSD_PORT": "9",
    })
    return env


def start_worker(env: dict[str, str], log_path) -> subprocess.Popen:
    log = open(log_path, "ab")
    return subprocess.Popen([sys.executable, "-m", "console.cli.main", "worker", "--threads", "1"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.all_backends
def test_worker_survives_sigkill(tmp_path, sandbox, settings):
    env = worker_env(settings, sandbox)
    store = Store(env["DATABASE_URL"])
    store.migrate()
    text = "domain,titles\n" + "".join(f"killed{i}.com,VP Engineering;Head of Engineering\n" for i in range(ROWS))
    job_id = jobs.create_job(store, parse_upload(text.encode(), "kill.csv"))
    enqueue_job(settings, job_id, copies=1)
    # Slow responses keep each row in flight long enough for the kill to land mid-row.
    set_fault(sandbox, "apollo", "slow", delay=0.05)

    def finished() -> int:
        return jobs.summary(store, job_id).finished_rows

    kills = 0
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        for threshold in (5, 15):
            wait_for(lambda threshold=threshold: finished() >= threshold, f"{threshold} rows to finish")
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
            assert finished() < ROWS
            worker = start_worker(env, tmp_path / "worker.log")
        wait_for(lambda: jobs.get_job(store, job_id).status == jobs.JOB_DONE, "the job to finish")
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    summary = jobs.summary(store, job_id)
    assert summary.finished_rows == ROWS
    assert summary.counts["running"] == 0
    assert summary.counts["queued"] == 0
    with store.session() as session:
        states = list(session.scalars(select(BackfillRow.status).where(BackfillRow.job_id == job_id)))
        retried = session.scalar(select(func.count()).select_from(BackfillRow).where(
            BackfillRow.job_id == job_id, BackfillRow.attempts > 1))
        contacts = session.scalar(select(func.count()).select_from(ContactRow))
        distinct = session.scalar(select(func.count()).select_from(
            select(ContactRow.domain, ContactRow.email).distinct().subquery()))
    assert len(states) == ROWS
    assert all(state in FINAL_ROW_STATES for state in states)
    # One thread per worker: at most one row was in flight at each kill.
    assert retried <= kills
    assert contacts == distinct
    stats = sandbox_stats(sandbox)
    assert len(stats["apollo"]["charged_twice"]) <= kills
    store.dispose()
