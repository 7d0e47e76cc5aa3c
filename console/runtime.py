"""Wires the client layer to this deployment: store, secrets, breakers, limits, sandbox.

Every entry point (Streamlit app, CLI command, worker) opens one Runtime and
calls vendors through `runtime.client(name)`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import pybreaker
from pyrate_limiter import AbstractBucket, Rate
from sqlalchemy import select
from sqlalchemy.engine import make_url

from clients.anthropic import AnthropicClient
from clients.apollo import ApolloClient
from clients.breaker import VendorBreaker
from clients.clay import ClayClient
from clients.datadog import DatadogClient
from clients.pipeline import Pipeline, VendorRuntime
from clients.ratelimit import VendorLimiter, rates_for
from clients.recording import Metrics
from clients.registry import REGISTRY
from clients.registry.spec import VendorSpec
from clients.secrets import RedactSecretsFilter, SecretChain, StaticProvider, default_chain
from clients.sendgrid import SendGridClient
from clients.stripe import StripeClient
from console.breaker_storage import StoreBreakerStorage, record_transition
from console.config import Settings
from console.ratelimit_bucket import open_bucket
from console.recorder import BufferedRecorder
from console.sandbox.faults import parse_fault_list
from console.sandbox.server import Sandbox, SandboxServer
from console.store import Store
from console.store.ops_models import BreakerOverride

log = logging.getLogger(__name__)


class VendorClient(Protocol):
    def close(self) -> None: ...


ClientFactory = Callable[[Pipeline, str], VendorClient]

CLIENT_FACTORIES: dict[str, ClientFactory] = {
    "apollo": ApolloClient,
    "clay": ClayClient,
    "sendgrid": SendGridClient,
    "stripe": StripeClient,
    "anthropic": AnthropicClient,
    "datadog": DatadogClient,
}


def sandbox_key(spec: VendorSpec, secret_name: str) -> str:
    if spec.name == "stripe":
        # The Stripe sandbox, like Stripe's test mode, accepts only sk_test_ keys.
        return f"sk_test_sandbox_{secret_name.lower()}_0000"
    return f"sandbox-{spec.name}-{secret_name.lower().replace('_', '-')}-0000"


def sandbox_keys() -> dict[str, str]:
    return {name: sandbox_key(spec, name) for spec in REGISTRY.values() for name in spec.secret_names}


def live_keys_present(chain: SecretChain) -> bool:
    return any(chain.get(spec.secret_names[0]) for spec in REGISTRY.values())


def ratelimit_path(settings: Settings) -> Path:
    """Return the shared SQLite file for rate-limit buckets, next to a SQLite store."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / "ratelimit.sqlite"
    return settings.var_dir / "ratelimit.sqlite"


class OverrideLookup:
    """Breaker overrides as every call checks them: all vendors in one read, kept
    for CACHE_SECONDS.

    Another process notices a forced breaker up to CACHE_SECONDS after it is set.
    This process notices its own changes at once, because `clear` runs after each.
    """

    CACHE_SECONDS = 0.25

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._overrides: dict[str, tuple[str, str]] | None = None
        self._read_at = 0.0

    def __call__(self, vendor: str) -> tuple[str, str] | None:
        with self._lock:
            if self._overrides is not None and self._clock() - self._read_at < self.CACHE_SECONDS:
                return self._overrides.get(vendor)
        query = select(BreakerOverride.vendor, BreakerOverride.mode, BreakerOverride.reason)
        with self.store.engine.connect() as connection:
            overrides = {row.vendor: (row.mode, row.reason) for row in connection.execute(query)}
        with self._lock:
            self._overrides, self._read_at = overrides, self._clock()
        return overrides.get(vendor)

    def clear(self) -> None:
        with self._lock:
            self._overrides = None


@dataclass
class Runtime:
    settings: Settings
    store: Store
    secrets: SecretChain
    pipeline: Pipeline
    recorder: BufferedRecorder
    base_urls: dict[str, str]
    sandbox_url: str | None
    sandbox_server: SandboxServer | None = None
    clients: dict[str, VendorClient] = field(default_factory=dict)
    # Breaker overrides as calls see them; cleared when this process changes one.
    overrides: OverrideLookup | None = None

    @property
    def in_sandbox(self) -> bool:
        return self.sandbox_url is not None

    def client(self, vendor: str) -> VendorClient:
        if vendor not in self.clients:
            self.clients[vendor] = CLIENT_FACTORIES[vendor](self.pipeline, self.base_urls[vendor])
        return self.clients[vendor]

    def breaker(self, vendor: str) -> VendorBreaker:
        return self.pipeline.runtime(vendor).breaker

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.recorder.close()
        for vendor in self.pipeline.vendors.values():
            vendor.limiter.close()
        if self.pipeline.metrics is not None:
            self.pipeline.metrics.close()
        if self.sandbox_server is not None:
            self.sandbox_server.stop()


def _breaker_storage(settings: Settings, store: Store, vendor: str) -> pybreaker.CircuitBreakerStorage:
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url)
        namespace = f"{settings.redis_prefix}:breaker:{vendor}"
        return pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, client, namespace=namespace)
    return StoreBreakerStorage(store, vendor)


def _bucket(settings: Settings, vendor: str, rates: list[Rate]) -> AbstractBucket:
    if settings.redis_url:
        import redis
        from pyrate_limiter import RedisBucket

        key = f"{settings.redis_prefix}:ratelimit:{vendor}"
        return RedisBucket.init(rates, redis.Redis.from_url(settings.redis_url), key)
    path = ratelimit_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    return open_bucket(path, f"rate_{vendor}", rates)


def open_runtime(settings: Settings | None = None, *, start_sandbox: bool = True) -> Runtime:
    """Open the store, decide live or sandbox, and build every vendor's breaker and limiter.

    Sandbox when SANDBOX_URL is set, or when no vendor key is set anywhere in the
    secrets chain; then, unless SANDBOX_URL names a running sandbox, one is
    started in this process on a free loopback port.
    """
    settings = settings or Settings.from_env()
    store = Store(settings.database_url)
    store.migrate()
    chain = default_chain(settings.root)

    sandbox_server = None
    sandbox_url = settings.sandbox_url
    if sandbox_url is None and not live_keys_present(chain) and start_sandbox:
        faults = parse_fault_list(settings.sandbox_faults, list(REGISTRY))
        sandbox_server = SandboxServer(Sandbox(settings.rate_limits, faults)).start()
        sandbox_url = sandbox_server.url
        log.info("no vendor key set: started the sandbox at %s", sandbox_url)
    if sandbox_url is not None:
        chain.providers.append(StaticProvider("sandbox", sandbox_keys()))

    redaction = RedactSecretsFilter(chain)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redaction)

    vendors = []
    override_lookup = OverrideLookup(store)
    for spec in REGISTRY.values():
        limit = settings.rate_limits.get(spec.name, spec.rate_limit)
        breaker = VendorBreaker(
            spec.name,
            spec.breaker,
            storage=_breaker_storage(settings, store, spec.name),
            on_transition=lambda vendor, old, new, cause: record_transition(store, vendor, old, new, cause),
            override_lookup=override_lookup,
        )
        limiter = VendorLimiter(spec.name, limit, _bucket(settings, spec.name, rates_for(limit)))
        vendors.append(VendorRuntime(spec, breaker, limiter))

    recorder = BufferedRecorder(store)
    if sandbox_server is not None and sandbox_server.statsd is not None and "DD_DOGSTATSD_PORT" not in os.environ:
        # Metrics from an in-process sandbox go to its own listener, so the console
        # can show them without a Datadog agent, unless DD_DOGSTATSD_PORT names one.
        settings = replace(settings, statsd_host=sandbox_server.statsd.host,
                           statsd_port=sandbox_server.statsd.port)
    metrics = Metrics(settings.statsd_host, settings.statsd_port)
    pipeline = Pipeline(chain, vendors, sinks=[recorder], metrics=metrics)
    if sandbox_url is not None:
        base_urls = {name: sandbox_url + spec.sandbox_prefix for name, spec in REGISTRY.items()}
    else:
        base_urls = {name: spec.base_url for name, spec in REGISTRY.items()}
    return Runtime(settings, store, chain, pipeline, recorder, base_urls, sandbox_url, sandbox_server,
                   overrides=override_lookup)
