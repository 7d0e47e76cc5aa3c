"""Settings from the environment (and `.env`), read once per process."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

from clients.registry import REGISTRY
from clients.registry.spec import RateLimit

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    pass


def parse_rate_limits(text: str) -> dict[str, RateLimit]:
    """Parse ROLEFERRY_RATE_LIMITS, e.g. `apollo=600/60,clay=20/1` (requests/seconds)."""
    limits: dict[str, RateLimit] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        vendor, sep, value = item.partition("=")
        requests, slash, seconds = value.partition("/")
        if not sep or not slash:
            raise ConfigError(f"ROLEFERRY_RATE_LIMITS entry {item!r} is not vendor=requests/seconds")
        if vendor not in REGISTRY:
            raise ConfigError(f"ROLEFERRY_RATE_LIMITS names unknown vendor {vendor!r}")
        try:
            limits[vendor] = RateLimit(int(requests), float(seconds))
        except ValueError:
            raise ConfigError(f"ROLEFERRY_RATE_LIMITS entry {item!r} has a non-numeric limit") from None
    return limits


@dataclass
class Settings:
    root: Path = ROOT
    database_url: str = ""
    redis_url: str | None = None
    # Prefix of every Redis key, so several deployments (or test runs) can share one server.
    redis_prefix: str = "roleferry"
    sandbox_url: str | None = None
    sandbox_faults: str = ""
    statsd_host: str = "127.0.0.1"
    statsd_port: int = 8125
    rate_limits: dict[str, RateLimit] = field(default_factory=dict)

    @property
    def var_dir(self) -> Path:
        return self.root / "var"

    @classmethod
    def from_env(cls, root: Path = ROOT) -> Settings:
        load_dotenv(root / ".env", override=False)
        var_dir = root / "var"
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{var_dir / 'console.db'}"
        try:
            statsd_port = int(os.environ.get("DD_DOGSTATSD_PORT") or 8125)
        except ValueError:
            raise ConfigError("DD_DOGSTATSD_PORT must be a port number") from None
        return cls(
            root=root,
            database_url=database_url,
            redis_url=os.environ.get("REDIS_URL") or None,
            redis_prefix=os.environ.get("ROLEFERRY_REDIS_PREFIX") or "roleferry",
            sandbox_url=(os.environ.get("SANDBOX_URL") or "").rstrip("/") or None,
            sandbox_faults=os.environ.get("ROLEFERRY_SANDBOX_FAULTS", ""),
            statsd_host=os.environ.get("DD_AGENT_HOST") or "127.0.0.1",
            statsd_port=statsd_port,
            rate_limits=parse_rate_limits(os.environ.get("ROLEFERRY_RATE_LIMITS", "")),
        )
