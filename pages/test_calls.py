"""Test calls: run one probe against one vendor and read exactly what happened."""

from __future__ import annotations

import streamlit as st

from clients.registry import REGISTRY, Probe
from console.access import TEST_CALL_ROLES
from console.probes import COST_WARNINGS, request_summary, run_probe
from console.ui import get_runtime, require_page_role, sandbox_banner

st.title("Test calls")
runtime = get_runtime()
sandbox_banner(runtime)
# Probes can spend credits or money or send mail, so the page is for ops.
user = require_page_role(TEST_CALL_ROLES, "Test calls")

vendor = st.selectbox("Vendor", list(REGISTRY), format_func=lambda name: REGISTRY[name].display_name)
spec = REGISTRY[vendor]


def describe(probe: Probe) -> str:
    cost = "" if probe.cost == "free" else f" ({probe.cost})"
    return f"{probe.operation}: {probe.description}{cost}"


probe = st.selectbox("Probe", list(spec.probes), format_func=describe)

confirmed = True
if probe.cost != "free":
    st.warning(COST_WARNINGS[probe.cost])
    confirmed = st.checkbox("I understand, run it anyway", key=f"confirm-{vendor}-{probe.operation}")

st.caption("Request: " + request_summary(runtime, vendor, probe.operation))
if st.button("Run test call", type="primary", disabled=not confirmed):
    with st.spinner(f"Calling {spec.display_name}…"):
        st.session_state["probe_result"] = run_probe(runtime, vendor, probe.operation, actor=user)

result = st.session_state.get("probe_result")
if result is not None:
    if result.ok:
        st.success(f"{result.vendor}.{result.operation} succeeded")
    else:
        st.error(f"{result.vendor}.{result.operation} ended in {result.outcome}: {result.message}")
    columns = st.columns(4)
    columns[0].metric("Outcome", result.outcome)
    columns[1].metric("Latency", f"{result.latency_ms:,.0f} ms")
    columns[2].metric("Attempts", result.attempts)
    columns[3].metric("HTTP status", result.status_code if result.status_code is not None else "–")
    if result.request_id:
        st.caption(f"Vendor request id: {result.request_id}")
    st.subheader("Response")
    st.json(result.response if result.response is not None else {"error": result.message})
