"""Reading a Streamlit page the way a person does: open it, wait until the script is done, read the result."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

# Page titles in the menu, with each page's URL path and the heading it shows.
PAGES = {
    "Health": ("", "Vendor health"),
    "Alerts": ("alerts", "Alerts"),
    "Spend": ("spend", "Spend"),
    "Runbooks": ("runbooks", "Runbooks"),
    "Enrich": ("enrich", "Enrich contacts"),
    "Test calls": ("test_calls", "Test calls"),
    "Backfill": ("backfill", "Backfill enrichments"),
    "Audit log": ("audit", "Audit log"),
}
VENDOR_NAMES = ("Apollo", "Clay", "SendGrid", "Stripe", "Anthropic", "Datadog")


def wait_until_idle(page: Page) -> None:
    """Wait until Streamlit has finished running the page script."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")


def open_page(page: Page, base_url: str, title: str) -> None:
    """Open a page of the console by its menu title and wait until it has rendered."""
    path, heading = PAGES[title]
    page.goto(f"{base_url}/{path}")
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    wait_until_idle(page)


def exception_boxes(page: Page) -> Locator:
    """Return Streamlit's exception boxes, which show a traceback the user should never see."""
    return page.get_by_test_id("stException")


def vendor_card(page: Page, vendor: str) -> Locator:
    """Return the Health card of one vendor (the container keyed `card-<vendor>`)."""
    return page.locator(f".st-key-card-{vendor}")
