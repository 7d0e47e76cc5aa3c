"""Where vendor keys come from: a chain of providers asked in order.

Order: the process environment, `.env`, `.streamlit/secrets.toml`, AWS Secrets
Manager when ROLEFERRY_AWS_SECRETS_PREFIX is set, then any further providers (fixed
sandbox keys when the console runs against the sandbox). A key set to the empty
string in an earlier provider stops the chain: that is how a deployment removes a
key on purpose.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
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


AWS_PREFIX_ENV = "ROLEFERRY_AWS_SECRETS_PREFIX"
AWS_NOT_FOUND_CODES = frozenset({"ResourceNotFoundException"})


class AwsSecretsManagerProvider:
    """Reads keys from AWS Secrets Manager, one secret per key, cached for `ttl` seconds.

    The secret name is the prefix and the lower-cased key name, so with prefix
    `roleferry/prod` the key APOLLO_API_KEY is the secret `roleferry/prod/apollo_api_key`.
    The secret's value is either the key itself or a JSON object holding it under the
    key name. A missing secret is None and is cached like a value, so an unset key
    costs one request per TTL. Any other AWS error is logged (never the value) and
    treated as missing without caching, so the next lookup requests it again.
    """

    name = "aws-secrets-manager"

    def __init__(
        self,
        prefix: str,
        *,
        region: str | None = None,
        ttl: float = 300.0,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix.strip().rstrip("/")
        self.region = region
        self.ttl = ttl
        self._client = client
        self._clock = clock
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def secret_id(self, key: str) -> str:
        return f"{self.prefix}/{key.lower()}"

    def get(self, key: str) -> str | None:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        found, value = self._fetch(key)
        if found:
            with self._lock:
                self._cache[key] = (now + self.ttl, value)
        return value

    def _secrets_client(self) -> Any:
        if self._client is None:
            # Imported on first use: boto3 takes a noticeable time to import, and only
            # deployments with ROLEFERRY_AWS_SECRETS_PREFIX set need it.
            import boto3

            self._client = boto3.client("secretsmanager", region_name=self.region)
        return self._client

    def _fetch(self, key: str) -> tuple[bool, str | None]:
        """Return (result is cacheable, value); a missing secret is (True, None)."""
        secret_id = self.secret_id(key)
        try:
            response = self._secrets_client().get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "unknown")
            if code in AWS_NOT_FOUND_CODES:
                return True, None
            log.warning("AWS Secrets Manager lookup of %s failed (%s); treating it as missing",
                        secret_id, code)
            return False, None
        except BotoCoreError as exc:
            # The exception text names the endpoint or region, never a secret value.
            log.warning("AWS Secrets Manager lookup of %s failed (%s: %s); treating it as "
                        "missing", secret_id, type(exc).__name__, exc)
            return False, None
        return True, self._value_of(key, response)

    def _value_of(self, key: str, response: dict[str, Any]) -> str | None:
        text = response.get("SecretString")
        if text is None and response.get("SecretBinary") is not None:
            text = bytes(response["SecretBinary"]).decode("utf-8", errors="replace")
        if text is None:
            return None
        if text.lstrip().startswith("{"):
            try:
                document = json.loads(text)
            except json.JSONDecodeError:
                return text
            if isinstance(document, dict):
                value = document.get(key, document.get(key.lower()))
                return value if isinstance(value, str) else None
        return text

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()


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
    """Build the chain; AWS Secrets Manager joins it only when ROLEFERRY_AWS_SECRETS_PREFIX is set.

    The AWS region comes from boto3's usual sources (AWS_REGION, AWS_DEFAULT_REGION,
    the AWS config file).
    """
    providers: list[SecretProvider] = [
        EnvProvider(),
        DotenvProvider(root / ".env"),
        StreamlitSecretsProvider(root / ".streamlit" / "secrets.toml"),
    ]
    aws_prefix = os.environ.get(AWS_PREFIX_ENV, "").strip()
    if aws_prefix:
        providers.append(AwsSecretsManagerProvider(aws_prefix))
    return SecretChain([*providers, *extra])


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
