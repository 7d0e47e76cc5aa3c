"""Backfill results as a CSV download that a spreadsheet cannot run as formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

from console.backfill.jobs import RESULT_COLUMNS, results
from console.store import Store

# A spreadsheet treats a cell starting with one of these as a formula (or, for tab
# and carriage return, may shift it into one), which is how a crafted company
# name or vendor message could run in the reader's spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Prefix a text cell that a spreadsheet would read as a formula with `'`; leave numbers alone."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(rows: Iterable[Mapping[str, object]], columns: Sequence[str] = RESULT_COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: neutralise(row.get(column)) for column in columns})
    return buffer.getvalue()


def results_csv(store: Store, job_id: str) -> bytes:
    """Render the job's results as CSV bytes, one line per row, in UTF-8 with a byte-order mark.

    The byte-order mark makes Excel decode accented characters correctly.
    """
    return ("\ufeff" + to_csv(results(store, job_id))).encode("utf-8")
