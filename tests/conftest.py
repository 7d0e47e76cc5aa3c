"""Shared fixtures: a sandbox on loopback and a runtime with its own SQLite store."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from clients.registry import REGISTRY
from clients.registry.spec import RateLimit
from console.config import Settings
from console.runtime import Runtime, open_runtime
from console.sandbox.server import Sandbox, SandboxServer

# Generous limits so that tests about other behaviour never meet the rate limiter.
TEST_LIMITS = {name: RateLimit(1000, 1) for name in REGISTRY}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(Sandbox(TEST_LIMITS)).start()
    yield server
    server.stop()


def set_fault(sandbox: SandboxServer, vendor: str, fault: str, **params: float) -> None:
    """Switch a sandbox vendor's fault mode through its admin endpoint, as ops would."""
    response = httpx.post(f"{sandbox.url}/_admin/faults", json={"vendor": vendor, "fault": fault, **params})
    response.raise_for_status()


def sandbox_stats(sandbox: SandboxServer) -> dict[str, dict[str, object]]:
    return httpx.get(f"{sandbox.url}/_admin/stats").json()


@pytest.fixture
def settings(tmp_path, sandbox, monkeypatch) -> Settings:
    for spec in REGISTRY.values():
        for name in spec.secret_names:
            monkeypatch.delenv(name, raising=False)
    return Settings(
        root=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'console.db'}",
        sandbox_url=sandbox.url,
        statsd_port=9,  # discard port: metrics go nowhere unless a test listens
        rate_limits=dict(TEST_LIMITS),
    )


@pytest.fixture
def runtime(settings) -> Iterator[Runtime]:
    rt = open_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def no_sleep(runtime) -> list[float]:
    """Record the pipeline's backoff sleeps instead of waiting them out."""
    slept: list[float] = []
    runtime.pipeline._sleep = slept.append
    return slept
