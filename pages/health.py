"""Health: a card per vendor, firing alerts, calls and errors per minute, recent failures,
and the breaker controls (ops and admin only)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from clients.registry import REGISTRY
from console.access import FORCE_BREAKER_ROLES, PermissionDenied
from console.alerts import evaluate
from console.breaker_control import InvalidBreakerAction, active_overrides, change_breaker
from console.health import calls_per_minute, recent_failures, vendor_health
from console.monitors import ALERT, WARNING, runbook_path
from console.ui import get_runtime, sandbox_banner, signed_in_user, status_badge

REFRESH_SECONDS = 5
CARDS_PER_ROW = 3

st.title("Vendor health")
runtime = get_runtime()
sandbox_banner(runtime)
user = signed_in_user()
BREAKER_ACTIONS = {"Force open": "open", "Force closed": "close", "Reset (lift override)": "reset"}


def fmt(value: float | None, unit: str = "") -> str:
    return "–" if value is None else f"{value:,.0f}{unit}"


@st.fragment(run_every=REFRESH_SECONDS)
def live_panel() -> None:
    runtime.recorder.flush()
    rows = vendor_health(runtime)
    st.caption(f"Last 10 minutes; refreshes every {REFRESH_SECONDS} s.")
    for start in range(0, len(rows), CARDS_PER_ROW):
        for column, row in zip(st.columns(CARDS_PER_ROW), rows[start:start + CARDS_PER_ROW], strict=False):
            with column.container(border=True, key=f"card-{row.vendor}"):
                st.markdown(f"**{row.display_name}** {status_badge(row.status)}")
                left, right = st.columns(2)
                left.metric("Error rate", f"{row.error_rate:.0%}", help="breaker-counted failures / calls")
                right.metric("p95 latency", fmt(row.p95_ms, " ms"))
                left.metric("Calls", row.calls)
                credits = fmt(row.credits_left) if row.credits_left is not None else "–"
                right.metric(f"{row.credit_unit.capitalize()} left", credits)
                st.caption(f"Breaker {row.breaker} · key {row.key}"
                           + (f" · {row.reason}" if row.reason else ""))
                st.markdown(f"[Runbook]({runbook_path(row.vendor)})")

    # Evaluating here too keeps alerts and their notifications current while
    # someone watches Health; the stored state makes repeated evaluations harmless.
    firing = [status for status in evaluate(runtime) if status.state in (ALERT, WARNING)]
    st.subheader("Alerts")
    if firing:
        for status in firing:
            text = f"**{status.monitor}**: {status.detail} · [runbook]({runbook_path(status.vendor)})"
            (st.error if status.state == ALERT else st.warning)(text)
    else:
        st.success("No monitor is firing. See the Alerts page for every monitor's state.")

    per_minute = pd.DataFrame(calls_per_minute(runtime))
    st.subheader("Calls and errors per minute")
    if per_minute.empty:
        st.info("No calls in the last hour. Run a test call or an enrichment to see traffic here.")
    else:
        long = per_minute.melt(id_vars=["minute", "vendor"], value_vars=["calls", "errors"],
                               var_name="kind", value_name="count")
        figure = px.line(long, x="minute", y="count", color="vendor", line_dash="kind", markers=True)
        figure.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10})
        st.plotly_chart(figure, width="stretch")

    st.subheader("Recent failures")
    failures = recent_failures(runtime)
    if failures:
        st.dataframe(pd.DataFrame(failures), hide_index=True, width="stretch")
    else:
        st.success("No failed calls recorded.")


live_panel()


def breaker_controls() -> None:
    st.subheader("Breaker overrides")
    if user.has_role(*FORCE_BREAKER_ROLES):
        with st.form("breaker-control", clear_on_submit=True):
            vendor_column, action_column = st.columns(2)
            vendor = vendor_column.selectbox("Vendor", list(REGISTRY),
                                             format_func=lambda name: REGISTRY[name].display_name)
            label = action_column.radio("Action", list(BREAKER_ACTIONS), horizontal=True)
            reason = st.text_input("Reason", placeholder="Apollo outage, see status.apollo.io",
                                   help="Shown with the override and written to the audit log.")
            submitted = st.form_submit_button("Apply", type="primary")
        if submitted:
            try:
                change_breaker(runtime, user, vendor, BREAKER_ACTIONS[label], reason)
            except (InvalidBreakerAction, PermissionDenied) as exc:
                st.error(str(exc))
            else:
                st.success(f"{REGISTRY[vendor].display_name}: {label.lower()} applied.")
    else:
        st.info("Forcing or resetting a breaker needs the ops role.")

    overrides = active_overrides(runtime.store)
    if not overrides:
        st.caption("No breaker is overridden; each opens and closes on its own.")
    for override in overrides:
        spec = REGISTRY.get(override.vendor)
        name = spec.display_name if spec is not None else override.vendor
        st.warning(f"{name} breaker forced {override.mode} by {override.set_by} "
                   f"at {override.set_at:%Y-%m-%d %H:%M} UTC: {override.reason}", icon=":material/front_hand:")


breaker_controls()
