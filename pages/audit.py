"""Audit: who changed state, spent credits or sent mail, with filters and CSV export (admins only)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from console.access import READ_AUDIT_ROLES
from console.audit import AuditFilter, audit_choices, audit_csv, audit_entries
from console.store.times import utcnow
from console.ui import get_runtime, require_page_role, sandbox_banner

ANY = "(any)"

st.title("Audit log")
runtime = get_runtime()
sandbox_banner(runtime)
require_page_role(READ_AUDIT_ROLES, "The audit log")

choices = audit_choices(runtime.store)
today = utcnow().date()
left, middle, right, dates = st.columns(4)
user = left.selectbox("User", [ANY, *choices["user"]])
action = middle.selectbox("Action", [ANY, *choices["action"]])
vendor = right.selectbox("Vendor", [ANY, *choices["vendor"]])
picked = dates.date_input("Dates (UTC)", value=(today - timedelta(days=7), today), max_value=today)

# The date input returns one date while the second end of a range is being picked.
start, end = (picked if isinstance(picked, tuple) and len(picked) == 2 else (picked, picked))  # type: ignore[misc]
where = AuditFilter(
    user=None if user == ANY else user,
    action=None if action == ANY else action,
    vendor=None if vendor == ANY else vendor,
    since=datetime.combine(start, time.min, tzinfo=UTC),
    until=datetime.combine(end, time.min, tzinfo=UTC) + timedelta(days=1),
)
entries = audit_entries(runtime.store, where)

if entries:
    st.caption(f"{len(entries)} entries, newest first.")
    st.dataframe(pd.DataFrame(entries), hide_index=True, width="stretch")
    st.download_button("Download CSV", audit_csv(entries), file_name=f"roleferry-audit-{start}-{end}.csv",
                       mime="text/csv", icon=":material/download:")
else:
    st.info("No audit entries match these filters.")
