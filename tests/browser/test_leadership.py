"""Leadership read Spend on a store with history, and cannot reach Backfill or the breaker controls."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.streamlit_page import exception_boxes, open_page, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

TOTALS = ("Month to date, all vendors", "Budget, all vendors", "Projected to month end",
          "Cost per successful enrichment")


def test_leadership_reads_spend_only(leadership_console, page):
    open_page(page, leadership_console.url, "Spend")
    expect(page.get_by_text("with the role leadership", exact=False).first).to_be_visible()
    for label in TOTALS:
        metric = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(label))
        expect(metric.get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^\$[\d,]+\.\d\d$"))
    for heading in ("Daily spend", "Cumulative spend against budget", "Credits remaining"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts).to_have_count(3)
    for index in range(3):
        # Plotly draws each trace as an SVG group; an empty figure has none.
        expect(charts.nth(index).locator("g.trace").first).to_be_attached()
    expect(page.get_by_text(re.compile(r"No calls recorded in"))).to_have_count(0)
    assert exception_boxes(page).count() == 0

    menu = page.get_by_test_id("stSidebarNav")
    for hidden in ("Backfill", "Enrich", "Test calls", "Audit log"):
        expect(menu.get_by_text(hidden, exact=True)).to_have_count(0)

    # Typing the address of a page outside the role's menu does not open it.
    page.goto(f"{leadership_console.url}/backfill")
    wait_until_idle(page)
    expect(page.get_by_role("heading", name="Backfill enrichments")).to_have_count(0)
    expect(page.get_by_test_id("stFileUploader")).to_have_count(0)

    open_page(page, leadership_console.url, "Health")
    expect(page.get_by_text("Forcing or resetting a breaker needs the ops role.")).to_be_visible()
    expect(page.get_by_role("button", name="Apply")).to_have_count(0)
    expect(page.get_by_role("radio", name="Force open")).to_have_count(0)
