"""Users, their roles, and the role checks that services run.

Roles: `ops`, `support`, `leadership`, `admin`; `admin` passes every role check.
A TOML role map names each person's roles by e-mail (or `cli:<login>` for the
command line):

    [roles]
    "ana@roleferry.com" = ["ops"]
    "lee@roleferry.com" = ["leadership"]
    "cli:deploy" = ["ops"]

The file is `ROLEFERRY_ROLES_FILE`, else `roles.toml` in the project root. Services
call `require_role` themselves, so a page that omits a check still cannot act.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from console.config import ROOT, ConfigError

ROLES = ("ops", "support", "leadership", "admin")
ROLES_FILE_ENV = "ROLEFERRY_ROLES_FILE"

# Roles that each kind of action accepts. Admin passes every check as well.
FORCE_BREAKER_ROLES = ("ops",)
START_BACKFILL_ROLES = ("ops", "support")
SPEND_CREDITS_ROLES = ("ops", "support")
# Test calls can spend credits or money or send mail, so only ops run them.
TEST_CALL_ROLES = ("ops",)
EDIT_CONTACTS_ROLES = ("ops", "support")
PUSH_MONITORS_ROLES = ("ops",)
READ_AUDIT_ROLES = ("admin",)


class PermissionDenied(Exception):
    """The user lacks every role the action accepts."""


@dataclass(frozen=True)
class User:
    """A person or a CLI login, with the roles the role map gives them."""

    name: str
    roles: frozenset[str]
    email: str | None = None

    def has_role(self, *roles: str) -> bool:
        return "admin" in self.roles or any(role in self.roles for role in roles)


def require_role(user: User, roles: str | Iterable[str], action: str = "this action") -> None:
    """Raise PermissionDenied unless `user` has one of `roles` (or admin)."""
    accepted = (roles,) if isinstance(roles, str) else tuple(roles)
    if not user.has_role(*accepted):
        user_roles = ", ".join(sorted(user.roles)) or "no role"
        raise PermissionDenied(
            f"{user.name} ({user_roles}) may not do {action}: it needs the {' or '.join(accepted)} role"
        )


def parse_roles(values: Iterable[str], source: str) -> frozenset[str]:
    roles = frozenset(value.strip().lower() for value in values)
    unknown = sorted(roles - set(ROLES))
    if unknown:
        raise ConfigError(f"{source}: unknown role {unknown[0]!r}; choose from {', '.join(ROLES)}")
    return roles


def roles_file(root: Path = ROOT) -> Path | None:
    """Return the role map file: `ROLEFERRY_ROLES_FILE`, else `roles.toml` in `root` when present."""
    named = os.environ.get(ROLES_FILE_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{ROLES_FILE_ENV} names {path}, which does not exist")
        return path
    default = root / "roles.toml"
    return default if default.is_file() else None


def load_role_map(path: Path | None) -> dict[str, frozenset[str]]:
    """Read `[roles]` from the TOML file: identity (lower case) -> roles."""
    if path is None:
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"role map {path} is not valid TOML: {exc}") from None
    table = data.get("roles", {})
    if not isinstance(table, dict):
        raise ConfigError(f"role map {path}: [roles] must be a table of identity = [roles]")
    role_map: dict[str, frozenset[str]] = {}
    for identity, values in table.items():
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list):
            raise ConfigError(f"role map {path}: roles of {identity!r} must be a list of strings")
        role_map[identity.strip().lower()] = parse_roles(values, f"role map {path}, {identity!r}")
    return role_map


def user_for_email(email: str, role_map: dict[str, frozenset[str]]) -> User:
    """Build the signed-in person. An e-mail missing from the map gets no role."""
    normalised = email.strip().lower()
    return User(name=normalised, email=normalised, roles=role_map.get(normalised, frozenset()))


def cli_user(root: Path = ROOT) -> User:
    """Return the OS user running a CLI command, as `cli:<login>`.

    It has the admin role unless the role map has an entry for `cli:<login>`,
    because anyone who can run the CLI on the host can already edit the store.
    """
    name = f"cli:{getpass.getuser()}"
    role_map = load_role_map(roles_file(root))
    return User(name=name, roles=role_map.get(name, frozenset({"admin"})))


SANDBOX_USER_NAME = "local sandbox user"
SANDBOX_ROLES_ENV = "ROLEFERRY_SANDBOX_ROLES"


def sandbox_user() -> User:
    """Return the sandbox's local user, with every role or only those `ROLEFERRY_SANDBOX_ROLES` lists.

    Narrowing the roles lets ops preview what support or leadership can reach.
    """
    listed = os.environ.get(SANDBOX_ROLES_ENV, "").strip()
    if not listed:
        return User(name=SANDBOX_USER_NAME, roles=frozenset(ROLES))
    roles = parse_roles(filter(None, listed.split(",")), SANDBOX_ROLES_ENV)
    return User(name=SANDBOX_USER_NAME, roles=roles)
