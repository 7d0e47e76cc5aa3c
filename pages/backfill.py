"""Backfill: enrich many companies at once from a CSV or from applications without contacts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console.access import START_BACKFILL_ROLES, PermissionDenied
from console.backfill import jobs
from console.backfill.estimate import DryRun, estimate
from console.backfill.export import results_csv
from console.backfill.upload import ParsedUpload, UploadRejected, parse_upload
from console.backfill.worker import enqueue_job
from console.ui import get_runtime, require_page_role, sandbox_banner

REFRESH_SECONDS = 2

st.title("Backfill enrichments")
runtime = get_runtime()
sandbox_banner(runtime)
# Stops the page for anyone without a backfill role; the job services check again.
user = require_page_role(START_BACKFILL_ROLES, "Backfills")
st.caption("A worker process runs each job, so it keeps going when this tab closes. "
           "`make run` starts one; `roleferry-console worker` starts another.")


def show_report(parsed: ParsedUpload) -> None:
    columns = st.columns(3)
    columns[0].metric("Rows to backfill", len(parsed.rows))
    columns[1].metric("Invalid rows", parsed.invalid_count)
    columns[2].metric("Duplicates collapsed", parsed.duplicate_count)
    for note in parsed.file_notes:
        st.info(f"Note: {note}.")
    if parsed.issues:
        st.error("These rows are not queued. Fix them and upload again, or start without them.")
        st.dataframe(pd.DataFrame([issue.as_dict() for issue in parsed.issues]), hide_index=True,
                     width="stretch")
    if parsed.notes:
        with st.expander(f"{len(parsed.notes)} values were normalised"):
            st.dataframe(pd.DataFrame([note.as_dict() for note in parsed.notes]), hide_index=True,
                         width="stretch")
    if parsed.duplicates:
        with st.expander(f"{parsed.duplicate_count} duplicate rows collapsed"):
            st.dataframe(pd.DataFrame([duplicate.as_dict() for duplicate in parsed.duplicates]),
                         hide_index=True, width="stretch")


def show_dry_run(result: DryRun) -> None:
    st.subheader("Dry run")
    st.dataframe(pd.DataFrame([estimate.as_dict() for estimate in result.providers]), hide_index=True,
                 width="stretch")
    st.write(f"Expected: **{result.estimated_credits:g} credits**, **${result.estimated_cost_usd:.2f}**, "
             f"about **{result.estimated_seconds:.0f} s** at the configured rate limits. "
             f"At most {result.max_credits:g} credits and ${result.max_cost_usd:.2f} if every row "
             "also needs the fallback provider.")


st.header("New backfill")
source = st.radio("Rows from", ["An uploaded CSV", "Every application without contacts"], horizontal=True)
parsed: ParsedUpload | None = None
if source == "An uploaded CSV":
    upload = st.file_uploader(
        "CSV with the columns domain, titles and optionally application_id", type=["csv", "txt", "tsv"],
        help="Separate titles with ';'. In a file whose cells are separated by ';' (what many "
             "spreadsheets write), separate titles with '|'.")
    if upload is not None:
        try:
            parsed = parse_upload(upload.getvalue(), upload.name)
        except UploadRejected as exc:
            st.error(f"The file was rejected: {exc}.")
else:
    parsed = jobs.applications_without_contacts(runtime.store)

if parsed is not None:
    show_report(parsed)
    if parsed.rows:
        show_dry_run(estimate(runtime.settings, len(parsed.rows), invalid=parsed.invalid_count,
                              duplicates=parsed.duplicate_count))
        with st.form("start"):
            left, right = st.columns(2)
            budget_credits = left.number_input("Credit budget (empty for no cap)", min_value=0.0, value=None,
                                               step=10.0, help="The job pauses before a row could take "
                                               "spending over this many credits.")
            budget_usd = right.number_input("Dollar budget (empty for no cap)", min_value=0.0, value=None,
                                            step=5.0, help="The job pauses before a row could take "
                                            "spending over this many dollars.")
            confirmed = st.checkbox(f"I understand this backfill spends vendor credits for {len(parsed.rows)} rows")
            if st.form_submit_button("Start backfill", type="primary"):
                if not confirmed:
                    st.error("Tick the confirmation first: a backfill spends credits.")
                else:
                    try:
                        job_id = jobs.create_job(
                            runtime.store, parsed,
                            source="upload" if source == "An uploaded CSV" else "applications",
                            budget_credits=budget_credits, budget_usd=budget_usd, actor=user)
                    except (jobs.InvalidJobRequest, PermissionDenied) as exc:
                        st.error(str(exc))
                    else:
                        enqueue_job(runtime.settings, job_id)
                        st.session_state["backfill_job"] = job_id
                        st.success(f"Started job {job_id}.")
    else:
        st.warning("No valid rows to backfill.")

st.header("Jobs")
recent = jobs.list_jobs(runtime.store)
if not recent:
    st.info("No backfill jobs yet.")
    st.stop()
labels = {job.id: f"{job.created_at:%Y-%m-%d %H:%M} · {job.filename or job.source} · {job.status}"
          for job in recent}
ids = list(labels)
chosen = st.session_state.get("backfill_job")
job_id = st.selectbox("Job", ids, index=ids.index(chosen) if chosen in ids else 0,
                      format_func=labels.__getitem__)


@st.fragment(run_every=REFRESH_SECONDS)
def job_panel(job_id: str) -> None:
    summary = jobs.summary(runtime.store, job_id)
    st.progress(summary.progress, text=f"{summary.finished_rows} of {summary.rows} rows ended · {summary.status}")
    if summary.status_reason:
        st.warning(f"Job {summary.status}: {summary.status_reason}.")
    counts = st.columns(6)
    for column, state in zip(counts, ("done", "no_match", "failed", "skipped", "queued", "running"), strict=True):
        column.metric(state, summary.counts[state])
    st.write(f"Spent {summary.credits:g} credits, ${summary.cost_usd:.2f}.")
    st.dataframe(pd.DataFrame(summary.providers).T, width="stretch")
    for note in summary.notes:
        st.caption(note)

    actions = st.columns(4)
    try:
        if summary.status == jobs.JOB_RUNNING and actions[0].button("Pause"):
            jobs.pause(runtime.store, job_id, actor=user)
            st.rerun()
        if summary.status == jobs.JOB_PAUSED and actions[0].button("Resume"):
            jobs.resume(runtime.store, job_id, budget_credits=st.session_state.get("resume_credits"),
                        budget_usd=st.session_state.get("resume_usd"), actor=user)
            enqueue_job(runtime.settings, job_id)
            st.rerun()
        if summary.status in (jobs.JOB_RUNNING, jobs.JOB_PAUSED) and actions[1].button("Cancel"):
            jobs.cancel(runtime.store, job_id, actor=user)
            st.rerun()
        if summary.counts["failed"] and summary.status in (jobs.JOB_DONE, jobs.JOB_CANCELLED) \
                and actions[2].button(f"Retry {summary.counts['failed']} failed rows as a new job"):
            new_id = jobs.retry_failed(runtime.store, job_id, actor=user)
            enqueue_job(runtime.settings, new_id)
            st.session_state["backfill_job"] = new_id
            st.rerun()
    except (jobs.InvalidJobRequest, jobs.JobNotFound, PermissionDenied) as exc:
        st.error(str(exc))
    if summary.status == jobs.JOB_PAUSED:
        left, right = st.columns(2)
        left.number_input("New credit budget on resume (empty keeps the cap)", min_value=0.0, value=None,
                          key="resume_credits")
        right.number_input("New dollar budget on resume (empty keeps the cap)", min_value=0.0, value=None,
                           key="resume_usd")

    st.dataframe(pd.DataFrame(jobs.results(runtime.store, job_id)), hide_index=True, width="stretch")
    actions[3].download_button("Download CSV", results_csv(runtime.store, job_id),
                               file_name=f"backfill-{job_id}.csv", mime="text/csv")


job_panel(job_id)
