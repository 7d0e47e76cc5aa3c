"""Three processes share one breaker and one rate limit through the store or Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import select

from clients.registry import REGISTRY
from console.runtime import open_runtime
from console.sandbox.server import Sandbox, SandboxServer
from console.store.models import BreakerEvent
from tests.conftest import TEST_LIMITS, sandbox_stats, set_fault

pytestmark = pytest.mark.all_backends

PROCESSES = 3


def run_callers(settings, vendor: str, calls: int, mode: str, limits: str) -> Counter[str]:
    env = {key: value for key, value in os.environ.items()
           if not any(key in spec.secret_names for spec in REGISTRY.values())}
    env.update({"DATABASE_URL": settings.database_url, "SANDBOX_URL": settings.sandbox_url,
                "ROLEFERRY_RATE_LIMITS": limits, "ROLEFERRY_REDIS_PREFIX": settings.redis_prefix,
                "DD_DOGSTATSD_PORT": "9"})
    env.pop("REDIS_URL", None)
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    # Create the schema once, before three processes race to migrate it.
    open_runtime(settings).close()
    processes = [subprocess.Popen([sys.executable, "-m", "tests.mp_caller", vendor, str(calls), mode],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(PROCESSES)]
    total: Counter[str] = Counter()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        total.update(json.loads(out))
    return total


def test_breaker_opens_once_for_all(settings, sandbox):
    set_fault(sandbox, "apollo", "down")
    limits = ",".join(f"{name}={rate.requests}/{rate.per_seconds:g}" for name, rate in TEST_LIMITS.items())
    outcomes = run_callers(settings, "apollo", 6, "interactive", limits)
    sent = sandbox_stats(sandbox)["apollo"]["requests_total"]
    fail_max = REGISTRY["apollo"].breaker.fail_max
    # Breakers kept per process would let at least fail_max requests through each.
    assert fail_max <= sent < fail_max * PROCESSES
    assert outcomes["CircuitOpen"] >= PROCESSES * 6 - sent
    runtime = open_runtime(settings)
    try:
        assert runtime.breaker("apollo").state == "open"
        with runtime.store.session() as session:
            events = [(e.old_state, e.new_state) for e in session.scalars(select(BreakerEvent))]
        assert events == [("closed", "open")]
    finally:
        runtime.close()


def test_rate_limit_shared(settings):
    # The sandbox allows 12 requests a second; each process alone stays under its
    # client limit of 10, so only a shared bucket keeps all three under 12.
    server = SandboxServer(Sandbox({**TEST_LIMITS, "clay": TEST_LIMITS["clay"].__class__(12, 1)})).start()
    try:
        settings.sandbox_url = server.url
        limits = ",".join(f"{name}=10/1" for name in REGISTRY)
        outcomes = run_callers(settings, "clay", 10, "batch", limits)
        stats = sandbox_stats(server)["clay"]
        assert outcomes == Counter({"success": PROCESSES * 10})
        assert stats["rate_limited"] == 0
        assert stats["requests_total"] == PROCESSES * 10
    finally:
        server.stop()
