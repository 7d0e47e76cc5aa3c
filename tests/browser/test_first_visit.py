"""A first-time user opens every page of a console whose store is still empty."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.streamlit_page import PAGES, exception_boxes, open_page, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_every_page_renders_on_empty_store(console, page):
    for title in PAGES:
        open_page(page, console.url, title)
        expect(page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True)).to_be_visible()
        assert exception_boxes(page).count() == 0, f"{title} shows an exception on an empty store"


def test_menu_moves_between_pages(console, page):
    open_page(page, console.url, "Health")
    for title, (_, heading) in PAGES.items():
        page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        wait_until_idle(page)
        assert exception_boxes(page).count() == 0, f"{title} shows an exception when opened from the menu"
