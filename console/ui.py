"""Shared page helpers: one runtime per configuration, the signed-in user and their roles, badges.

In the sandbox a local user has every role (or only those listed in
ROLEFERRY_SANDBOX_ROLES). Otherwise people sign in through Streamlit's OIDC login
(`st.login`, configured in `.streamlit/secrets.toml` under `[auth]`) and the
role map (ROLEFERRY_ROLES_FILE) gives their roles by e-mail.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import streamlit as st

from console.access import ROLES, SANDBOX_ROLES_ENV, User, load_role_map, roles_file, sandbox_user, user_for_email
from console.config import ConfigError, Settings
from console.runtime import Runtime, open_runtime

STATUS_COLOURS = {
    "healthy": "green",
    "idle": "gray",
    "degraded": "orange",
    "exhausted": "orange",
    "misconfigured": "violet",
    "down": "red",
}
LOCAL_USER = "local sandbox user"


@st.cache_resource(show_spinner="Opening the store and the vendors…")
def _runtime_for(database_url: str, sandbox_url: str | None, redis_url: str | None) -> Runtime:
    # The arguments only key the cache: a test or a deployment that changes
    # DATABASE_URL or SANDBOX_URL gets its own runtime instead of a stale one.
    return open_runtime(Settings.from_env())


def get_runtime() -> Runtime:
    return _runtime_for(os.environ.get("DATABASE_URL", ""), os.environ.get("SANDBOX_URL"),
                        os.environ.get("REDIS_URL"))


def _auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return False


def signed_in_user() -> User:
    """Return the person using this session, or stop the page with a sign-in prompt."""
    if get_runtime().in_sandbox:
        try:
            return sandbox_user()
        except ConfigError as exc:
            st.error(str(exc))
            st.stop()
    if not _auth_configured():
        st.error("Sign-in is not configured: add an [auth] section with your OIDC provider to "
                 ".streamlit/secrets.toml, or run against the sandbox.")
        st.stop()
    if not st.user.get("is_logged_in", False):
        st.info("Sign in with your RoleFerry account to use the console.")
        st.button("Sign in", on_click=st.login, type="primary")
        st.stop()
    email = str(st.user.get("email") or "")
    if not email:
        st.error("Your sign-in carried no e-mail address, which the role map needs; ask an admin.")
        st.stop()
    try:
        return user_for_email(email, load_role_map(roles_file()))
    except ConfigError as exc:
        st.error(f"The role map cannot be read: {exc}")
        st.stop()


def current_user() -> str:
    """Return the signed-in user's name, as stored in `created_by` and the audit log."""
    return signed_in_user().name


def require_page_role(roles: Iterable[str], what: str) -> User:
    """Return the signed-in user, or stop the page with a message unless they have one of `roles`."""
    accepted = tuple(roles)
    user = signed_in_user()
    if not user.has_role(*accepted):
        user_roles = ", ".join(sorted(user.roles)) or "no role"
        st.warning(f"{what} needs the {' or '.join(accepted)} role. "
                   f"You are signed in as {user.name} ({user_roles}).")
        st.stop()
    return user


def status_badge(status: str) -> str:
    return f":{STATUS_COLOURS.get(status, 'gray')}-badge[{status}]"


def describe_roles(user: User) -> str:
    if set(user.roles) >= set(ROLES):
        return "who holds every role"
    return f"with the role{'s' if len(user.roles) != 1 else ''} {', '.join(sorted(user.roles)) or 'none'}"


def sandbox_banner(runtime: Runtime) -> None:
    """Show who is signed in with which roles, and in the sandbox where its vendors run."""
    user = signed_in_user()
    if runtime.in_sandbox:
        narrowed = f" (narrowed by {SANDBOX_ROLES_ENV})" if os.environ.get(SANDBOX_ROLES_ENV) else ""
        st.caption(f"Sandbox vendors at {runtime.sandbox_url}; no real vendor is called. "
                   f"Signed in as the {LOCAL_USER}, {describe_roles(user)}{narrowed}.")
    else:
        st.caption(f"Signed in as {user.name}, {describe_roles(user)}.")
