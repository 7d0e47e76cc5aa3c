"""Health: a card per vendor, calls and errors per minute, recent failures."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from console.health import calls_per_minute, recent_failures, vendor_health
from console.ui import get_runtime, sandbox_banner, status_badge

REFRESH_SECONDS = 5
CARDS_PER_ROW = 3

st.title("Vendor health")
runtime = get_runtime()
sandbox_banner(runtime)


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
