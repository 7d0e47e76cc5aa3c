"""Who may start and steer a backfill, and the audit entries it leaves."""

from __future__ import annotations

import pytest

from console.access import PermissionDenied, User
from console.audit import audit_entries
from console.backfill import jobs
from console.backfill.upload import parse_upload

CSV = b"domain,titles\nacme.com,CTO\nglobex.com,VP Engineering\n"


def upload():
    return parse_upload(CSV, "accounts.csv")


@pytest.mark.parametrize("role", ["support", "ops", "admin"])
def test_backfill_roles_may_start(runtime, role):
    job_id = jobs.create_job(runtime.store, upload(), actor=User(f"{role}@roleferry.com", frozenset({role})))
    assert jobs.get_job(runtime.store, job_id).created_by == f"{role}@roleferry.com"
    entries = audit_entries(runtime.store)
    assert [(e["user"], e["action"], e["outcome"]) for e in entries] == \
        [(f"{role}@roleferry.com", "backfill.start", "ok")]
    assert job_id in entries[0]["detail"]


def test_leadership_cannot_start(runtime):
    boss = User("lee@roleferry.com", frozenset({"leadership"}))
    with pytest.raises(PermissionDenied, match="backfill.start"):
        jobs.create_job(runtime.store, upload(), actor=boss)
    assert jobs.list_jobs(runtime.store) == []
    entries = audit_entries(runtime.store)
    assert [(e["user"], e["action"]) for e in entries] == [("lee@roleferry.com", "backfill.start")]
    assert entries[0]["outcome"].startswith("denied")


def test_leadership_cannot_steer(runtime):
    job_id = jobs.create_job(runtime.store, upload(), actor=User("sam@roleferry.com", frozenset({"support"})))
    boss = User("lee@roleferry.com", frozenset({"leadership"}))
    with pytest.raises(PermissionDenied):
        jobs.pause(runtime.store, job_id, actor=boss)
    with pytest.raises(PermissionDenied):
        jobs.cancel(runtime.store, job_id, actor=boss)
    assert jobs.get_job(runtime.store, job_id).status == jobs.JOB_RUNNING


def test_pause_and_cancel_audited(runtime):
    support = User("sam@roleferry.com", frozenset({"support"}))
    job_id = jobs.create_job(runtime.store, upload(), actor=support)
    jobs.pause(runtime.store, job_id, actor=support)
    skipped = jobs.cancel(runtime.store, job_id, actor=support)
    assert skipped == 2
    actions = [e["action"] for e in audit_entries(runtime.store)]
    assert sorted(actions) == ["backfill.cancel", "backfill.pause", "backfill.start"]
