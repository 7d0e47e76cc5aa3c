"""Runbooks: one per vendor, rendered from the registry beside its live status."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from clients.registry import REGISTRY
from console.health import vendor_health
from console.ui import get_runtime, sandbox_banner, status_badge

st.title("Runbooks")
runtime = get_runtime()
sandbox_banner(runtime)

names = list(REGISTRY)
requested = st.query_params.get("vendor", names[0])
vendor = st.selectbox("Vendor", names, index=names.index(requested) if requested in names else 0,
                      format_func=lambda name: REGISTRY[name].display_name)
st.query_params["vendor"] = vendor
spec = REGISTRY[vendor]

guide, status = st.columns([3, 1])
with status.container(border=True):
    runtime.recorder.flush()
    health = next(row for row in vendor_health(runtime) if row.vendor == vendor)
    st.markdown(f"**Live status** {status_badge(health.status)}")
    st.metric("Error rate, 10 min", f"{health.error_rate:.0%}")
    st.metric("Calls, 10 min", health.calls)
    st.caption(f"Breaker {health.breaker} · key {health.key}" + (f" · {health.reason}" if health.reason else ""))

with guide:
    st.header(spec.display_name)
    st.write(spec.purpose)
    st.markdown(f"**Base URL**: `{spec.base_url}` (here: `{runtime.base_urls[vendor]}`)")
    st.markdown(f"**Auth**: {spec.auth}")
    st.markdown(f"**Rate limit**: {spec.rate_limit.requests} requests per {spec.rate_limit.per_seconds:g} s "
                f"(client side); retries: {spec.retry.attempts} attempts, backoff {spec.retry.backoff_base:g}–"
                f"{spec.retry.backoff_cap:g} s; breaker opens after {spec.breaker.fail_max} failures "
                f"for {spec.breaker.reset_timeout:g} s")
    plan = spec.plan
    allowance = f", {plan.included_credits:,} {plan.credit_unit} included" if plan.included_credits else ""
    st.markdown(f"**Plan**: {plan.name}, ${plan.monthly_fee_usd:,.2f} a month{allowance}")
    st.subheader("Error codes")
    st.dataframe(pd.DataFrame([{"status": code.status, "meaning": code.meaning, "action": code.action}
                               for code in spec.error_codes]), hide_index=True, width="stretch")
    st.subheader("When it breaks")
    st.markdown(f"**Vendor support**: {spec.support_contact}")
    st.markdown(f"**Escalation**: {spec.escalation}")
    if spec.docs_url:
        st.markdown(f"**Vendor docs**: {spec.docs_url}")
