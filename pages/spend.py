"""Spend: month to date per vendor against budget, projections, and vendors' own reports."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from console.spend.figures import (
    SpendReport,
    VendorSpend,
    month_label,
    month_options,
    parse_month,
    spend_report,
)
from console.spend.plans import PLANS_FILE_ENV, PlanError, load_plans
from console.spend.reconcile import reconcile
from console.ui import get_runtime, sandbox_banner

CARDS_PER_ROW = 3

st.title("Spend")
runtime = get_runtime()
sandbox_banner(runtime)

try:
    plans = load_plans()
except PlanError as exc:
    st.error(f"The plans file cannot be used: {exc}. Fix it, or unset {PLANS_FILE_ENV} "
             "to use the shipped defaults.")
    st.stop()

runtime.recorder.flush()
options = [month_label(month) for month in month_options(runtime.store)]
picked = st.selectbox("Month", options, key="month",
                      format_func=lambda label: f"{parse_month(label):%B %Y}")
report = spend_report(runtime.store, plans, parse_month(picked))


def money(value: float | None) -> str:
    return "–" if value is None else f"${value:,.2f}"


def vendor_card(vendor: VendorSpend, month_end: date) -> None:
    with st.container(border=True, key=f"spend-{vendor.vendor}"):
        st.markdown(f"**{vendor.display_name}** · {vendor.plan_name} plan")
        left, right = st.columns(2)
        used = f"{vendor.budget_used:.0%} of budget" if vendor.budget_used is not None else "no budget set"
        left.metric("Month to date", money(vendor.total_usd), used, delta_color="off",
                    help="Fixed fee plus metered usage")
        right.metric("Projected", money(vendor.projected_usd),
                     help="Month to date plus the average daily burn for each remaining day")
        left.metric("Budget", money(vendor.budget_usd))
        if vendor.credits_left is not None:
            right.metric(f"{vendor.credit_unit.capitalize()} left", f"{vendor.credits_left:,.0f}",
                         f"of {vendor.credits_included:,}", delta_color="off")
        else:
            right.metric(f"{vendor.credit_unit.capitalize()} used", f"{vendor.credits_used:,.0f}")
        st.caption(f"Fixed {money(vendor.fixed_usd)} · metered {money(vendor.metered_usd)} · "
                   f"burn {vendor.burn_credits_per_day:,.1f} {vendor.credit_unit}/day")

        if vendor.over_budget:
            st.error(f"Over budget: {money(vendor.total_usd)} spent of {money(vendor.budget_usd)}.")
        elif vendor.projected_over_budget:
            st.warning(f"Projected to overrun the budget: {money(vendor.projected_usd)} "
                       f"of {money(vendor.budget_usd)}.")
        if vendor.exhausted_on is not None and vendor.credits_left == 0:
            st.warning(f"{vendor.credit_unit.capitalize()} ran out on {vendor.exhausted_on:%d %b}; "
                       "each one since is billed as overage.")
        elif vendor.exhausted_on is not None:
            st.warning(f"{vendor.credit_unit.capitalize()} run out on {vendor.exhausted_on:%d %b} at the "
                       f"current burn, before month end ({month_end:%d %b}); overage is billed after.")

        if vendor.vendor_reported_usd is not None or vendor.vendor_reported_credits is not None:
            reported = money(vendor.vendor_reported_usd)
            if vendor.vendor_reported_credits is not None:
                reported += f" ({vendor.vendor_reported_credits:,.0f} {vendor.credit_unit})"
            drift = vendor.drift_usd if vendor.drift_usd is not None else 0.0
            st.markdown(f"{vendor.display_name} reports **{reported}** (authoritative) against our "
                        f"{money(vendor.metered_usd_at_report)}: drift {drift:+,.2f} USD"
                        + (f", {vendor.drift_credits:+,.0f} {vendor.credit_unit}"
                           if vendor.drift_credits is not None else ""))
            st.caption(f"Reported {vendor.reported_at:%d %b %H:%M} UTC from {vendor.report_source}")


def totals(report: SpendReport) -> None:
    total = report.total
    columns = st.columns(4)
    columns[0].metric("Month to date, all vendors", money(total["total_usd"]))
    columns[1].metric("Budget, all vendors", money(total["budget_usd"]))
    columns[2].metric("Projected to month end", money(total["projected_usd"]))
    columns[3].metric("Cost per successful enrichment", money(report.cost_per_enrichment_usd),
                      help="Apollo and Clay spend over the contacts they returned with an e-mail")
    if total["budget_usd"] and total["total_usd"] > total["budget_usd"]:
        st.error(f"All vendors together are over budget: {money(total['total_usd'])} "
                 f"of {money(total['budget_usd'])}.")


def charts(report: SpendReport, daily: pd.DataFrame) -> None:
    st.subheader("Daily spend")
    figure = px.bar(daily, x="day", y="total_usd", color="vendor", barmode="stack",
                    labels={"total_usd": "USD", "day": ""})
    figure.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(figure, width="stretch", key="daily-spend")
    st.caption("Fixed fees are billed on the first of the month; overage appears on the day credits "
               "pass the allowance.")

    st.subheader("Cumulative spend against budget")
    cumulative = daily.groupby("day", as_index=False)["total_usd"].sum()
    cumulative["cumulative_usd"] = cumulative["total_usd"].cumsum().round(2)
    figure = go.Figure(go.Scatter(x=cumulative["day"], y=cumulative["cumulative_usd"], name="spend",
                                  mode="lines+markers"))
    figure.add_hline(y=report.total["budget_usd"], line_dash="dash", line_color="red",
                     annotation_text="budget")
    figure.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_title="USD")
    st.plotly_chart(figure, width="stretch", key="cumulative-spend")

    st.subheader("Credits remaining")
    figure = go.Figure()
    month_end = report.month + timedelta(days=report.days_in_month - 1)
    for vendor in report.vendors:
        if vendor.credits_included is None:
            continue
        rows = daily[daily["vendor"] == vendor.vendor]
        figure.add_trace(go.Scatter(x=rows["day"], y=rows["credits_left"], name=vendor.display_name,
                                    mode="lines"))
        last_day = report.month + timedelta(days=report.days_elapsed - 1)
        if last_day < month_end and vendor.burn_credits_per_day > 0:
            # The projection continues at the current burn until the allowance or the month ends.
            end = vendor.exhausted_on or month_end
            left_at_end = max(vendor.credits_left - vendor.burn_credits_per_day * (end - last_day).days, 0.0) \
                if vendor.credits_left is not None else 0.0
            figure.add_trace(go.Scatter(x=[last_day, end], y=[vendor.credits_left, left_at_end],
                                        name=f"{vendor.display_name}, projected",
                                        mode="lines", line={"dash": "dot"}))
        if vendor.exhausted_on is not None:
            figure.add_vline(x=vendor.exhausted_on.isoformat(), line_dash="dash", line_color="orange")
            figure.add_annotation(x=vendor.exhausted_on.isoformat(), y=0, text=f"{vendor.display_name} out",
                                  showarrow=False, yshift=10)
    figure.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_title="credits")
    st.plotly_chart(figure, width="stretch", key="credits-left")


st.caption(f"{report.month:%B %Y}, day {report.days_elapsed} of {report.days_in_month} (UTC). "
           "Our metering; where a vendor reports its own usage, its figure is authoritative.")
totals(report)

month_end = report.month + timedelta(days=report.days_in_month - 1)
for start in range(0, len(report.vendors), CARDS_PER_ROW):
    row = report.vendors[start:start + CARDS_PER_ROW]
    for column, vendor in zip(st.columns(CARDS_PER_ROW), row, strict=False):
        with column:
            vendor_card(vendor, month_end)

if st.button("Fetch vendor usage reports",
             help="Fetches the usage reports of Apollo, Clay, SendGrid, Stripe, Anthropic and Datadog. "
             "None uses credits, but Clay's costs one action."):
    with st.spinner("Asking the vendors…"):
        results = reconcile(runtime, plans)
    for result in results:
        if result.error is not None:
            st.warning(f"{result.vendor}: usage report not fetched: {result.error}")
    st.rerun()

summary = pd.DataFrame([vendor.as_json() for vendor in report.vendors])
st.subheader("Figures")
st.dataframe(summary, hide_index=True, width="stretch", key="spend-figures")

daily = pd.DataFrame(report.daily_rows())
if daily.empty or not daily["calls"].any():
    st.info(f"No calls recorded in {report.month:%B %Y}: only fixed fees are shown.")
charts(report, daily)

left, right = st.columns(2)
left.download_button("Download figures (CSV)", summary.to_csv(index=False),
                     file_name=f"spend-{picked}.csv", mime="text/csv")
right.download_button("Download daily figures (CSV)", daily.to_csv(index=False),
                      file_name=f"spend-daily-{picked}.csv", mime="text/csv")
