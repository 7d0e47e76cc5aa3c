"""Streamlit entry point: builds the navigation for the signed-in user's roles and runs the page.

Start it with `roleferry-console run` (or `make run`), which also starts the
sandbox vendors when no live key is set. Outside the sandbox, people sign in
with the OIDC provider configured under `[auth]` in `.streamlit/secrets.toml`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from console.access import (
    READ_AUDIT_ROLES,
    ROLES,
    SPEND_CREDITS_ROLES,
    START_BACKFILL_ROLES,
    TEST_CALL_ROLES,
)
from console.ui import describe_roles, get_runtime, require_page_role

PAGES = Path(__file__).resolve().parent.parent / "pages"

# No page_icon: Streamlit fetches a Material icon favicon from Google's font
# servers, and the console makes no request beyond its own hosts.
st.set_page_config(page_title="RoleFerry integrations", layout="wide")

runtime = get_runtime()
# Stops here with a sign-in button until someone is signed in (never in the sandbox),
# and with a message for a signed-in person whom the role map gives no role.
user = require_page_role(ROLES, "The console")

sections: dict[str, list[st.Page]] = {
    "Watch": [
        st.Page(PAGES / "health.py", title="Health", icon=":material/monitor_heart:", default=True),
        st.Page(PAGES / "alerts.py", title="Alerts", icon=":material/notifications:"),
        st.Page(PAGES / "spend.py", title="Spend", icon=":material/payments:"),
        st.Page(PAGES / "runbooks.py", title="Runbooks", icon=":material/menu_book:"),
    ],
}
# Pages a role cannot use are left out of the menu; each page and service checks again.
work = []
if user.has_role(*SPEND_CREDITS_ROLES):
    work.append(st.Page(PAGES / "enrich.py", title="Enrich", icon=":material/person_search:"))
if user.has_role(*TEST_CALL_ROLES):
    work.append(st.Page(PAGES / "test_calls.py", title="Test calls", icon=":material/science:"))
if user.has_role(*START_BACKFILL_ROLES):
    work.append(st.Page(PAGES / "backfill.py", title="Backfill", icon=":material/dataset:"))
if work:
    sections["Work"] = work
if user.has_role(*READ_AUDIT_ROLES):
    sections["Admin"] = [st.Page(PAGES / "audit.py", title="Audit log", icon=":material/policy:")]

with st.sidebar:
    st.caption(f"Signed in as {user.name}, {describe_roles(user)}.")
    if not runtime.in_sandbox and st.user.get("is_logged_in", False):
        st.button("Sign out", on_click=st.logout)

navigation = st.navigation(sections)
navigation.run()
