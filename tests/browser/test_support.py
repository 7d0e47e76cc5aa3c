"""Support find contacts one company at a time, by hand when nobody is found, and by backfill from a CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.streamlit_page import exception_boxes, open_page, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

BACKFILL_CSV = (
    "domain,titles,application_id\n"
    "acme.com,VP Engineering;CTO,app-1\n"
    "https://www.Initech.com/about,Head of Sales,app-2\n"
    "acme.com,VP Engineering;CTO,app-1\n"
    "example .com,,app-3\n"
)

# Downloads tried, a refresh apart, before the results must show every row ended.
DOWNLOAD_TRIES = 10


def find_contacts(page: Page, domain: str) -> None:
    page.get_by_role("textbox", name="Company domain", exact=True).fill(domain)
    page.get_by_role("button", name="Find contacts").click()


def test_enrich_apollo_then_clay_then_by_hand(console, sandbox, apollo_outage, page):
    open_page(page, console.url, "Enrich")

    # A slow Apollo keeps the request open long enough to see the spinner.
    sandbox.set_fault("apollo", "slow:2")
    find_contacts(page, "acme.com")
    expect(page.get_by_test_id("stSpinner")).to_contain_text("Asking the providers")
    found = page.get_by_test_id("stAlertContentSuccess")
    expect(found).to_contain_text(re.compile(r"\d+ contacts at acme\.com from apollo"))
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    expect(page.get_by_test_id("stAlertContentWarning")).to_have_count(0)
    sandbox.set_fault("apollo", "normal")

    apollo_outage()
    find_contacts(page, "globex.com")
    expect(found).to_contain_text(re.compile(r"\d+ contacts at globex\.com from clay"))
    expect(page.get_by_test_id("stAlertContentWarning")).to_contain_text(
        re.compile(r"Skipped apollo: (VendorUnavailable|CircuitOpen|breaker open)"))

    find_contacts(page, "nobody-home.com")
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text(
        "No provider found anyone at nobody-home.com. Add contacts by hand below.")
    page.get_by_role("textbox", name="Full name", exact=True).fill("Dana Reyes")
    page.get_by_role("textbox", name="Title", exact=True).fill("Head of Talent")
    page.get_by_role("textbox", name="E-mail", exact=True).fill("dana@nobody-home.com")
    page.get_by_role("button", name="Save contact").click()
    saved = page.get_by_test_id("stAlertContentSuccess")
    # Markdown turns "<address>" into a mailto link, so the angle brackets are not shown.
    expect(saved).to_contain_text("Saved Dana Reyes dana@nobody-home.com for nobody-home.com with source manual.")
    expect(saved.get_by_role("link", name="dana@nobody-home.com")).to_be_visible()
    assert exception_boxes(page).count() == 0


def metric_value(page: Page, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(label))
    return metric.get_by_test_id("stMetricValue").inner_text()


def test_backfill_from_csv_upload(console, page, tmp_path):
    upload = tmp_path / "applications.csv"
    upload.write_text(BACKFILL_CSV)
    open_page(page, console.url, "Backfill")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(upload)

    expect(page.get_by_role("heading", name="Dry run")).to_be_visible()
    wait_until_idle(page)
    assert metric_value(page, "Rows to backfill") == "2"
    assert metric_value(page, "Invalid rows") == "1"
    assert metric_value(page, "Duplicates collapsed") == "1"
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("These rows are not queued")
    expect(page.get_by_text(re.compile(r"Expected: \d+ credits, \$\d+\.\d\d, about \d+ s"))).to_be_visible()

    page.get_by_text("I understand this backfill spends vendor credits for 2 rows").click()
    page.get_by_role("button", name="Start backfill").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Started job")

    progress = page.get_by_test_id("stProgress")
    expect(progress).to_contain_text("2 of 2 rows ended · done")
    expect(progress.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")

    # The button's file is built when the panel last refreshed, which can be the
    # refresh that showed the bar at 100% before the last row's result was read.
    # A person would download again, and so does the test, a bounded number of times.
    for _ in range(DOWNLOAD_TRIES):
        with page.expect_download() as started:
            page.get_by_test_id("stDownloadButton").get_by_role("button", name="Download CSV").click()
        download = started.value
        rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8-sig"))))
        if all(row["status"] not in ("queued", "running") for row in rows):
            break
        page.wait_for_timeout(1000)
    assert re.fullmatch(r"backfill-.+\.csv", download.suggested_filename)
    by_domain = {row["domain"]: row for row in rows}
    assert sorted(by_domain) == ["acme.com", "initech.com"]
    for row in rows:
        assert row["status"] in ("done", "no_match"), row
    assert by_domain["acme.com"]["application_id"] == "app-1"
    assert exception_boxes(page).count() == 0
