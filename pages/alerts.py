"""Alerts: what fires now, every monitor's state, and the state changes of the last days."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console.alerts import MonitorStatus, alert_history, evaluate
from console.monitors import ALERT, WARNING, runbook_path
from console.ui import get_runtime, sandbox_banner

REFRESH_SECONDS = 15

st.title("Alerts")
runtime = get_runtime()
sandbox_banner(runtime)


def show_firing(status: MonitorStatus) -> None:
    text = (f"**{status.monitor}**: {status.detail}, since {status.since:%Y-%m-%d %H:%M} UTC. "
            f"[Runbook]({runbook_path(status.vendor)})")
    if status.state == ALERT:
        st.error(text, icon=":material/notifications_active:")
    else:
        st.warning(text, icon=":material/warning:")


@st.fragment(run_every=REFRESH_SECONDS)
def live_panel() -> None:
    # Evaluating here is safe in every open tab: a state change is stored, and
    # notified, by exactly one evaluation.
    statuses = evaluate(runtime)
    st.caption(f"Evaluated on the last 10 minutes of calls; refreshes every {REFRESH_SECONDS} s.")
    firing = [status for status in statuses if status.state in (ALERT, WARNING)]
    st.subheader("Firing now")
    if firing:
        for status in sorted(firing, key=lambda s: (s.state != ALERT, s.vendor, s.monitor)):
            show_firing(status)
    else:
        st.success("Nothing is firing.")

    st.subheader("Every monitor")
    frame = pd.DataFrame([{"state": s.state, "monitor": s.monitor, "vendor": s.vendor, "detail": s.detail,
                           "since": s.since, "runbook": runbook_path(s.vendor)} for s in statuses])
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config={"runbook": st.column_config.LinkColumn("runbook", display_text="open runbook")})


live_panel()

st.subheader("Fired in the last days")
days = st.number_input("Days", min_value=1, max_value=90, value=7, step=1,
                       help="How many days of changes into or out of warning or alert to list.")
history = alert_history(runtime, days=int(days), firing_only=True)
if history:
    frame = pd.DataFrame(history)
    frame["runbook"] = [runbook_path(vendor) for vendor in frame["vendor"]]
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config={"runbook": st.column_config.LinkColumn("runbook", display_text="open runbook")})
else:
    st.info(f"No monitor fired in the last {int(days)} days.")
