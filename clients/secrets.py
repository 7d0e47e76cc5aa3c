"""Where vendor keys come from: a chain of providers asked in order.

Order: the process environment, `.env`, `.streamlit/secrets.toml`, then any
further providers (AWS Secrets Manager in production, fixed sandbox keys when the
console runs against the sandbox). A key set to the empty string in an earlier
provider stops the chain: that is how a deployment removes a key on purpose.
"""

from __future__ import annotations

import logging
import os
import threading
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dotenv import dotenv_values

log = logging.getLogger(__name__)


class SecretProvider(Protocol):
    name: str

    def get(self, key: str) -> str | None:
        """Return the value, "" when explicitly unset here, or None when unknown here."""
        ...


def mask(value: str | None) -> str:
    """Show a key only as its last four characters."""
    if not value:
        return "unset"
    if len(value) <= 8:
        return "set (****)"
    return f"set (****{value[-4:]})"


class EnvProvider:
    name = "environment"

    def get(self, key: str) -> str | None:
        return os.environ.get(key)


class DotenvProvider:
    name = ".env"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._values: dict[str, str | None] | None = None

    def get(self, key: str) -> str | None:
        if self._values is None:
            self._values = dict(dotenv_values(self.path)) if self.path.is_file() else {}
        return self._values.get(key)


class StreamlitSecretsProvider:
    """Reads `.streamlit/secrets.toml` directly; the client layer imports no Streamlit."""

    name = "secrets.toml"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._values: dict[str, object] | None = None

    def get(self, key: str) -> str | None:
        if self._values is None:
            self._values = self._load()
        value = self._values.get(key)
        return value if isinstance(value, str) else None

    def _load(self) -> dict[str, object]:
        if not self.path.is_file():
            return {}
        try:
            with self.path.open("rb") as handle:
                return tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            log.error("ignoring %s: invalid TOML (%s); fix the file to use its keys", self.path, exc)
            return {}


class StaticProvider:
    """Fixed values, such as the sandbox's dummy keys."""

    def __init__(self, name: str, values: dict[str, str]) -> None:
        self.name = name
        self._values = values

    def get(self, key: str) -> str | None:
        return self._values.get(key)


@dataclass(frozen=True)
class SecretStatus:
    key: str
    is_set: bool
    masked: str
    source: str | None


class SecretChain:
    def __init__(self, providers: Iterable[SecretProvider]) -> None:
        self.providers = list(providers)
        self._handed_out: set[str] = set()
        self._lock = threading.Lock()

    def lookup(self, key: str) -> tuple[str | None, str | None]:
        """Return (value, provider name); (None, None) when no provider has it."""
        for provider in self.providers:
            value = provider.get(key)
            if value is None:
                continue
            if value == "":
                return None, provider.name
            with self._lock:
                self._handed_out.add(value)
            return value, provider.name
        return None, None

    def get(self, key: str) -> str | None:
        return self.lookup(key)[0]

    def status(self, key: str) -> SecretStatus:
        value, source = self.lookup(key)
        return SecretStatus(key=key, is_set=value is not None, masked=mask(value), source=source)

    def known_values(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._handed_out)


def default_chain(root: Path, extra: Iterable[SecretProvider] = ()) -> SecretChain:
    return SecretChain(
        [
            EnvProvider(),
            DotenvProvider(root / ".env"),
            StreamlitSecretsProvider(root / ".streamlit" / "secrets.toml"),
            *extra,
        ]
    )


class RedactSecretsFilter(logging.Filter):
    """Replaces every key the chain has handed out with its masked form.

    A second line of defence: no module logs a key on purpose, but an exception
    message from a third-party library might carry one.
    """

    def __init__(self, chain: SecretChain) -> None:
        super().__init__()
        self.chain = chain

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self.chain.known_values()
        if not secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in secrets:
            if secret in redacted:
                redacted = redacted.replace(secret, f"****{secret[-4:]}")
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True
