"""What pages share: one runtime per configuration, the signed-in person, badges."""

from __future__ import annotations

import os

import streamlit as st

from console.config import Settings
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


def current_user() -> str:
    return LOCAL_USER


def status_badge(status: str) -> str:
    return f":{STATUS_COLOURS.get(status, 'gray')}-badge[{status}]"


def sandbox_banner(runtime: Runtime) -> None:
    if runtime.in_sandbox:
        st.caption(f"Sandbox vendors at {runtime.sandbox_url}; no real vendor is called. "
                   f"Signed in as the {LOCAL_USER}, who holds every role.")
