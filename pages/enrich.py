"""Enrich: find contacts at one company, or add them by hand when nobody is found."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console.access import SPEND_CREDITS_ROLES, PermissionDenied
from console.contacts import InvalidContact, add_manual_contact
from console.enrichment import EnrichmentResult, InvalidEnrichmentInput, enrich
from console.ui import get_runtime, require_page_role, sandbox_banner

st.title("Enrich contacts")
runtime = get_runtime()
sandbox_banner(runtime)
user = require_page_role(SPEND_CREDITS_ROLES, "Enrichment, which spends vendor credits,")
st.caption("Asks Apollo first, then Clay. A provider whose breaker is open or whose credits "
           "are gone is skipped without a call.")

with st.form("enrich"):
    domain = st.text_input("Company domain", placeholder="acme.com",
                           help="A URL or an e-mail address works too; the domain is taken from it.")
    titles_text = st.text_input("Titles", value="VP Engineering",
                                help="Separate several titles with commas.")
    submitted = st.form_submit_button("Find contacts", type="primary")

if submitted:
    titles = [title for title in titles_text.split(",")]
    try:
        with st.spinner("Asking the providers…"):
            st.session_state["enrich_result"] = enrich(runtime, domain, titles, created_by=user.name,
                                                       actor=user)
    except (InvalidEnrichmentInput, PermissionDenied) as exc:
        st.session_state.pop("enrich_result", None)
        st.error(str(exc))

result: EnrichmentResult | None = st.session_state.get("enrich_result")
if result is not None:
    if result.domain_note:
        st.info(f"Note: {result.domain_note}.")
    for skip in result.skipped:
        st.warning(f"Skipped {skip.provider}: {skip.reason}")
    if result.contacts:
        st.success(f"{len(result.contacts)} contacts at {result.domain} from {result.provider} "
                   f"({result.credits:g} credits, ${result.cost_usd:.2f}).")
        st.dataframe(pd.DataFrame([c.as_dict() for c in result.contacts])
                     [["name", "title", "email", "source"]], hide_index=True, width="stretch")
    else:
        st.error(f"No provider found anyone at {result.domain}. Add contacts by hand below.")
        with st.form("manual", clear_on_submit=True):
            name = st.text_input("Full name")
            title = st.text_input("Title")
            email = st.text_input("E-mail")
            if st.form_submit_button("Save contact"):
                try:
                    contact = add_manual_contact(runtime.store, result.domain, name, title, email,
                                                 created_by=user.name, actor=user)
                except (InvalidContact, PermissionDenied) as exc:
                    st.error(str(exc))
                else:
                    st.success(f"Saved {contact.name} <{contact.email}> for {result.domain} "
                               "with source manual.")
