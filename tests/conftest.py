"""Shared fixtures: a sandbox on loopback and a runtime with its own SQLite store."""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clients.registry import REGISTRY
from clients.registry.spec import RateLimit
from console.config import Settings
from console.runtime import Runtime, open_runtime
from console.sandbox.server import Sandbox, SandboxServer
from tests.servers import PostgresServer, RedisServer

# Modules marked `all_backends` run each test on SQLite, on PostgreSQL and with
# Redis holding the breakers and rate limits; the others run on SQLite only.
BACKENDS = ("sqlite", "postgresql", "redis")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "all_backends: run on SQLite, PostgreSQL and Redis")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker("all_backends") is not None
        metafunc.parametrize("backend", BACKENDS if marked else ("sqlite",), indirect=True)


@pytest.fixture
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    # Not under pytest's tmp_path: that directory is private to root, and a root
    # test run starts PostgreSQL as the postgres user, which must reach its files.
    base = Path(tempfile.mkdtemp(prefix="roleferry-pg-"))
    server = PostgresServer(base).start()
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()

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
def settings(tmp_path, sandbox, monkeypatch, backend, request) -> Settings:
    for spec in REGISTRY.values():
        for name in spec.secret_names:
            monkeypatch.delenv(name, raising=False)
    database_url = f"sqlite:///{tmp_path / 'console.db'}"
    redis_url = None
    if backend == "postgresql":
        database_url = request.getfixturevalue("postgres_server").new_database()
    elif backend == "redis":
        redis_url = request.getfixturevalue("redis_server").url
    return Settings(
        root=tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=f"test-{uuid.uuid4().hex[:8]}",
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


class RawLog(logging.Handler):
    """Keeps every log line as emitted, before any handler's redaction filter rewrites it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.getMessage()))


@pytest.fixture
def raw_log(caplog):
    # First in the root's handler list, so the runtime's RedactSecretsFilter on the
    # other handlers has not yet masked a leaked key when this handler reads it.
    caplog.set_level(logging.DEBUG)
    handler = RawLog()
    root = logging.getLogger()
    root.handlers.insert(0, handler)
    yield handler
    root.removeHandler(handler)
