"""Parsing and checking an uploaded backfill CSV before anything is queued.

The format: a header row naming `domain` and `titles`, optionally
`application_id`, in any order and any case. Staff export these files from
spreadsheets, so the parser accepts what spreadsheets write:

- a UTF-8 byte-order mark, CRLF line ends, UTF-16 with a byte-order mark, and
  Windows-1252 when the bytes are not UTF-8;
- `,`, `;` or tab as the delimiter, detected from the header row;
- a URL, an e-mail address, upper case, `www.` or an internationalised name
  where a domain belongs (normalised, and the report says so);
- stray spaces around every cell.

Titles are separated by `;` in a comma- or tab-delimited file. In a
semicolon-delimited file `;` ends the cell, so titles are separated by `|`
there; `|` is accepted as a title separator in every file.

Every data row ends up in exactly one place: queued (`rows`), reported as
invalid (`issues`), or collapsed into an earlier identical row (`duplicates`).
Blank lines are counted in `blank_lines`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass, field

from console.domains import InvalidDomain, clean_titles, normalise_domain

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_TITLE_LENGTH = 200
MAX_APPLICATION_ID_LENGTH = 64
DELIMITERS = (",", ";", "\t")
# Header spellings that mean a known column, after lower-casing and trimming.
COLUMN_ALIASES = {
    "domain": "domain",
    "company_domain": "domain",
    "titles": "titles",
    "title": "titles",
    "application_id": "application_id",
    "application": "application_id",
}
_TITLE_SPLIT_COMMA_FILE = re.compile(r"[;|]")
_TITLE_SPLIT_SEMICOLON_FILE = re.compile(r"\|")


class UploadRejected(ValueError):
    """The whole file is rejected: not a CSV, empty, or without a required column."""


@dataclass(frozen=True)
class Issue:
    """A problem with one row (or a remark about it), located for the person who uploaded it."""

    line: int
    column: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class UploadRow:
    line: int
    domain: str
    titles: list[str]
    application_id: str | None
    domain_note: str | None = None

    def key(self) -> tuple[str, tuple[str, ...], str | None]:
        """Identity for duplicate detection: the same company, titles and application."""
        return self.domain, tuple(sorted(title.lower() for title in self.titles)), self.application_id


@dataclass(frozen=True)
class Duplicate:
    line: int
    first_line: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class ParsedUpload:
    filename: str
    delimiter: str
    title_separator: str
    rows: list[UploadRow] = field(default_factory=list)
    # Rows that are not queued, one entry per problem (a row may have several).
    issues: list[Issue] = field(default_factory=list)
    # Changes made to queued rows, e.g. a URL reduced to its domain.
    notes: list[Issue] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    # Remarks about the whole file: encoding, ignored columns.
    file_notes: list[str] = field(default_factory=list)
    blank_lines: int = 0

    @property
    def invalid_count(self) -> int:
        """Rows reported and not queued (a row with two problems counts once)."""
        return len({issue.line for issue in self.issues})

    @property
    def duplicate_count(self) -> int:
        return len(self.duplicates)

    def report(self) -> dict[str, object]:
        return {
            "filename": self.filename,
            "delimiter": self.delimiter,
            "title_separator": self.title_separator,
            "rows": len(self.rows),
            "invalid": self.invalid_count,
            "duplicates": self.duplicate_count,
            "blank_lines": self.blank_lines,
            "issues": [issue.as_dict() for issue in self.issues],
            "notes": [note.as_dict() for note in self.notes],
            "duplicate_lines": [duplicate.as_dict() for duplicate in self.duplicates],
            "file_notes": list(self.file_notes),
        }


def decode_upload(data: bytes) -> tuple[str, str | None]:
    """Decode the file's bytes to text, returning the text and a note on the encoding used."""
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise UploadRejected("the file is empty; upload a CSV with a header row and at least one data row")
    if data.startswith(b"PK\x03\x04"):
        raise UploadRejected("the file is a ZIP archive (an .xlsx workbook?), not a CSV; "
                             "save it from the spreadsheet as CSV and upload that")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "decoded as UTF-16"
        except UnicodeDecodeError:
            raise UploadRejected("the file starts with a UTF-16 byte-order mark but is not valid UTF-16; "
                                 "save it as CSV UTF-8") from None
    if b"\x00" in data:
        raise UploadRejected("the file contains NUL bytes, so it is a binary file, not a CSV; "
                             "save it from the spreadsheet as CSV UTF-8")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "not valid UTF-8; decoded as Windows-1252"
    except UnicodeDecodeError:
        raise UploadRejected("the file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8") from None


def _header_name(cell: str) -> str:
    return "_".join(cell.strip().strip("\ufeff").lower().replace("-", " ").split())


def detect_delimiter(text: str) -> tuple[str, list[str]]:
    """Pick the delimiter whose split of the header row yields a `domain` column."""
    first_line = text.splitlines()[0] if text else ""
    best: tuple[str, list[str]] | None = None
    for delimiter in DELIMITERS:
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        names = [COLUMN_ALIASES.get(_header_name(cell), _header_name(cell)) for cell in header]
        if "domain" in names and (best is None or len(header) > len(best[1])):
            best = (delimiter, header)
    if best is None:
        found = ", ".join(repr(cell.strip()) for cell in first_line.split(",")) or "nothing"
        raise UploadRejected(f"the header row has no 'domain' column (found {found}); "
                             "the first line must name the columns: domain,titles,application_id")
    return best


def parse_upload(data: bytes, filename: str = "upload.csv") -> ParsedUpload:
    """Check every row of an uploaded CSV; raise UploadRejected when the whole file is unusable."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRejected(f"the file is {len(data) / 1e6:.1f} MB, over the "
                             f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB limit; split it into smaller files")
    lower_name = filename.lower()
    if lower_name and not lower_name.endswith((".csv", ".txt", ".tsv")):
        raise UploadRejected(f"{filename!r} is not a CSV file; upload a .csv file exported from the "
                             "spreadsheet (File, Save as, CSV)")
    text, encoding_note = decode_upload(data)
    delimiter, header = detect_delimiter(text)
    separator = "|" if delimiter == ";" else ";"
    parsed = ParsedUpload(filename=filename, delimiter=delimiter, title_separator=separator)
    if encoding_note:
        parsed.file_notes.append(f"the file was {encoding_note}")

    columns = [COLUMN_ALIASES.get(_header_name(cell), _header_name(cell)) for cell in header]
    if "titles" not in columns:
        raise UploadRejected("the header row has no 'titles' column; add one with the job titles to look "
                             f"for, separated by {separator!r}")
    positions = {name: columns.index(name) for name in ("domain", "titles", "application_id")
                 if name in columns}
    ignored = [cell.strip() for cell, name in zip(header, columns, strict=True)
               if name not in positions and cell.strip()]
    if ignored:
        parsed.file_notes.append(f"ignored the columns {', '.join(map(repr, ignored))}")
    title_pattern = _TITLE_SPLIT_SEMICOLON_FILE if delimiter == ";" else _TITLE_SPLIT_COMMA_FILE

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        next(reader)  # the header row, already read
        seen: dict[tuple[str, tuple[str, ...], str | None], int] = {}
        end_of_previous = reader.line_num
        for cells in reader:
            line = end_of_previous + 1
            end_of_previous = reader.line_num
            if not any(cell.strip() for cell in cells):
                parsed.blank_lines += 1
                continue
            row = _check_row(parsed, line, cells, len(header), positions, title_pattern, separator)
            if row is None:
                continue
            first_line = seen.get(row.key())
            if first_line is not None:
                parsed.duplicates.append(Duplicate(line, first_line))
                continue
            seen[row.key()] = line
            parsed.rows.append(row)
    except csv.Error as exc:
        raise UploadRejected(f"line {reader.line_num}: the file is not valid CSV ({exc})") from None

    if not parsed.rows and not parsed.issues and not parsed.duplicates:
        raise UploadRejected("the file has a header row but no data rows; add one row per company")
    return parsed


def _check_row(parsed: ParsedUpload, line: int, cells: list[str], width: int, positions: dict[str, int],
               title_pattern: re.Pattern[str], separator: str) -> UploadRow | None:
    """Return the cleaned row, or None after adding its problems to `parsed.issues`."""
    problems: list[Issue] = []
    if len(cells) > width:
        extra = ", ".join(repr(cell) for cell in cells[width:])
        problems.append(Issue(line, "-", f"has {len(cells)} fields but the header names {width}: "
                                         f"unexpected {extra}; quote cells that contain "
                                         f"{parsed.delimiter!r}"))

    def cell(name: str) -> str:
        index = positions.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    domain_text = cell("domain")
    domain = None
    note = None
    if not domain_text:
        problems.append(Issue(line, "domain", "domain is empty; enter a company domain such as acme.com"))
    else:
        try:
            parsed_domain = normalise_domain(domain_text)
        except InvalidDomain as exc:
            problems.append(Issue(line, "domain", str(exc)))
        else:
            domain = parsed_domain.value
            note = parsed_domain.note

    titles = clean_titles(title_pattern.split(cell("titles")))
    if not titles:
        problems.append(Issue(line, "titles", f"titles is empty; list at least one job title, "
                                              f"several separated by {separator!r}"))
    for title in titles:
        if len(title) > MAX_TITLE_LENGTH:
            problems.append(Issue(line, "titles", f"title {title[:40]!r}... is {len(title)} characters long, "
                                                  f"over the limit of {MAX_TITLE_LENGTH}"))

    application_id = cell("application_id") or None
    if application_id is not None and len(application_id) > MAX_APPLICATION_ID_LENGTH:
        problems.append(Issue(line, "application_id", f"application_id is {len(application_id)} characters "
                                                      f"long, over the limit of {MAX_APPLICATION_ID_LENGTH}"))

    if problems or domain is None:
        parsed.issues.extend(problems)
        return None
    if note:
        parsed.notes.append(Issue(line, "domain", note))
    return UploadRow(line, domain, titles, application_id, note)
