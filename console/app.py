"""Streamlit entry point: builds the navigation and runs the chosen page.

Start it with `roleferry-console run` (or `make run`), which also starts the
sandbox vendors when no live key is set.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent.parent / "pages"

st.set_page_config(page_title="RoleFerry integrations", page_icon=":material/hub:", layout="wide")

navigation = st.navigation(
    {
        "Watch": [
            st.Page(PAGES / "health.py", title="Health", icon=":material/monitor_heart:", default=True),
            st.Page(PAGES / "spend.py", title="Spend", icon=":material/payments:"),
            st.Page(PAGES / "runbooks.py", title="Runbooks", icon=":material/menu_book:"),
        ],
        "Work": [
            st.Page(PAGES / "enrich.py", title="Enrich", icon=":material/person_search:"),
            st.Page(PAGES / "test_calls.py", title="Test calls", icon=":material/science:"),
            st.Page(PAGES / "backfill.py", title="Backfill", icon=":material/dataset:"),
        ],
    }
)
navigation.run()
