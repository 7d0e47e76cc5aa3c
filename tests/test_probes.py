"""Test calls: who may run a paid probe, and its audit entry."""

from __future__ import annotations

import pytest

from console.access import PermissionDenied, User
from console.audit import audit_entries
from console.probes import run_probe
from tests.conftest import sandbox_stats

OPS = User("ana@roleferry.com", frozenset({"ops"}))
BOSS = User("lee@roleferry.com", frozenset({"leadership"}))


def test_free_probe_needs_no_role(runtime):
    result = run_probe(runtime, "apollo", actor=BOSS)
    assert result.ok
    assert audit_entries(runtime.store) == []


def test_paid_probe_refused_for_leadership(runtime, sandbox):
    with pytest.raises(PermissionDenied):
        run_probe(runtime, "apollo", "people_enrich", actor=BOSS)
    assert sandbox_stats(sandbox)["apollo"]["requests_total"] == 0
    entry = audit_entries(runtime.store)[0]
    assert entry["user"] == BOSS.name
    assert entry["outcome"].startswith("denied")


def test_paid_probe_audited_for_ops(runtime):
    result = run_probe(runtime, "apollo", "people_enrich", actor=OPS)
    assert result.ok
    entries = audit_entries(runtime.store)
    assert [(e["user"], e["action"], e["vendor"], e["outcome"]) for e in entries] == \
        [(OPS.name, "probe", "apollo", "ok")]
    assert "people_enrich" in entries[0]["detail"]
