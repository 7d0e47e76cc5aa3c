"""`roleferry-console backfill`: check a CSV, estimate it, or run it to the end in this process."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from console.access import PermissionDenied, cli_user
from console.backfill import jobs
from console.backfill.estimate import estimate
from console.backfill.upload import ParsedUpload, UploadRejected, parse_upload
from console.backfill.worker import DEFAULT_THREADS, run_job_inline
from console.cli.common import EXIT_FAILURE, EXIT_OK, UsageError, fail, print_json, runtime_for_command
from console.config import ConfigError, Settings
from console.store import Store

BAR_WIDTH = 30


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "backfill", help="enrich every row of a CSV (domain,titles,application_id) and print a summary")
    parser.add_argument("file", nargs="?", type=Path,
                        help="CSV with a header row; titles separated by ';' (by '|' in a ';'-delimited file)")
    parser.add_argument("--applications", action="store_true",
                        help="backfill every stored application that has no contacts, instead of a file")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the input and print credits, dollars and seconds it would take; calls no vendor")
    parser.add_argument("--budget-credits", type=float, metavar="N",
                        help="pause the job before the next row could take spending over N credits")
    parser.add_argument("--budget-usd", type=float, metavar="X",
                        help="pause the job before the next row could take spending over X dollars")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"rows processed at once in this process (default {DEFAULT_THREADS})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=handle)


def _load(args: argparse.Namespace) -> ParsedUpload | None:
    """Parse the file, or return None when rows come from the store (--applications)."""
    if args.applications:
        if args.file is not None:
            raise UsageError("give either a CSV file or --applications, not both")
        return None
    if args.file is None:
        raise UsageError("no input: give a CSV file, or --applications for applications without contacts")
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    try:
        return parse_upload(data, args.file.name)
    except UploadRejected as exc:
        raise UsageError(f"{args.file}: {exc}") from None


def _print_report(parsed: ParsedUpload) -> None:
    for note in parsed.file_notes:
        print(f"note: {note}", file=sys.stderr)
    for issue in parsed.issues:
        print(f"invalid: line {issue.line}, {issue.column}: {issue.message}", file=sys.stderr)
    for note in parsed.notes:
        print(f"note: line {note.line}, {note.column}: {note.message}", file=sys.stderr)
    for duplicate in parsed.duplicates:
        print(f"duplicate: line {duplicate.line} repeats line {duplicate.first_line}", file=sys.stderr)
    print(f"{len(parsed.rows)} rows to backfill, {parsed.invalid_count} invalid, "
          f"{parsed.duplicate_count} duplicates collapsed", file=sys.stderr)


def handle(args: argparse.Namespace) -> int:
    if args.threads < 1:
        raise UsageError(f"--threads {args.threads} is below 1")
    try:
        jobs.check_budget(args.budget_credits, args.budget_usd)
    except jobs.InvalidJobRequest as exc:
        raise UsageError(str(exc)) from None
    parsed = _load(args)
    if args.dry_run:
        return _dry_run(args, parsed)
    try:
        with runtime_for_command() as runtime:
            if parsed is None:
                parsed = jobs.applications_without_contacts(runtime.store)
            # The report goes to stderr, so --json output on stdout stays one object.
            _print_report(parsed)
            if not parsed.rows:
                raise UsageError("no valid rows to backfill; fix the rows listed above")
            try:
                job_id = jobs.create_job(runtime.store, parsed, source="upload" if args.file else "applications",
                                         budget_credits=args.budget_credits, budget_usd=args.budget_usd,
                                         actor=cli_user())
            except PermissionDenied as exc:
                raise UsageError(str(exc)) from None
            progress = _progress_printer(runtime.store, job_id) if sys.stderr.isatty() else None
            run_job_inline(runtime, job_id, threads=args.threads, on_progress=progress)
            if progress is not None:
                sys.stderr.write("\n")
            summary = jobs.summary(runtime.store, job_id)
    except (SQLAlchemyError, OSError) as exc:
        return fail(f"backfill stopped by a system failure: {type(exc).__name__}: {exc}", EXIT_FAILURE)
    data = summary.as_dict()
    if args.json:
        print_json(data)
    else:
        _print_summary(data)
    return EXIT_FAILURE if summary.counts[jobs.ROW_FAILED] else EXIT_OK


def _dry_run(args: argparse.Namespace, parsed: ParsedUpload | None) -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if parsed is None:
        store = Store(settings.database_url)
        try:
            store.migrate()
            parsed = jobs.applications_without_contacts(store)
        finally:
            store.dispose()
    _print_report(parsed)
    result = estimate(settings, len(parsed.rows), invalid=parsed.invalid_count,
                      duplicates=parsed.duplicate_count)
    if args.json:
        print_json(result.as_dict())
        return EXIT_OK
    print(f"dry run: {result.rows} rows, {result.invalid} invalid, {result.duplicates} duplicates")
    for item in result.providers:
        label = "asked first" if item.role == "first" else "fallback, at most"
        print(f"  {item.provider:<8} ({label}): {item.calls} calls, {item.credits:g} credits, "
              f"${item.cost_usd:.2f}, {item.seconds:.0f} s at {item.rate_limit}")
    print(f"estimate: {result.estimated_credits:g} credits, ${result.estimated_cost_usd:.2f}, "
          f"about {result.estimated_seconds:.0f} s; at most {result.max_credits:g} credits, "
          f"${result.max_cost_usd:.2f}")
    return EXIT_OK


def _progress_printer(store: Store, job_id: str) -> object:
    def show() -> None:
        summary = jobs.summary(store, job_id)
        filled = int(BAR_WIDTH * summary.progress)
        counts = " ".join(f"{state} {summary.counts[state]}" for state in ("done", "no_match", "failed", "skipped"))
        sys.stderr.write(f"\r[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {summary.finished_rows}/{summary.rows} "
                         f"{counts} credits {summary.credits:g}")
        sys.stderr.flush()

    return show


def _print_summary(data: dict[str, object]) -> None:
    print(f"job {data['job_id']}: {data['status']}")
    print(f"rows {data['rows']}, invalid {data['invalid']}, duplicates {data['duplicates']}")
    print(f"done {data['done']}, no_match {data['no_match']}, failed {data['failed']}, "
          f"skipped {data['skipped']}, still queued {data['queued']}")
    print(f"spent {data['credits']:g} credits, ${float(data['cost_usd']):.2f}")  # type: ignore[arg-type]
    for note in data["notes"]:  # type: ignore[attr-defined]
        print(f"note: {note}")
