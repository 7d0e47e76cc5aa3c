"""Checking uploaded backfill CSVs: messy input accepted, bad rows reported, bad files rejected."""

from __future__ import annotations

import pytest

from console.backfill.upload import UploadRejected, parse_upload


def parse(text: str, filename: str = "upload.csv", encoding: str = "utf-8"):
    return parse_upload(text.encode(encoding), filename)


def test_clean_file_queues_every_row():
    parsed = parse("domain,titles,application_id\nacme.com,CTO;VP Engineering,APP-1\nglobex.com,CTO,\n")
    assert [row.domain for row in parsed.rows] == ["acme.com", "globex.com"]
    assert parsed.rows[0].titles == ["CTO", "VP Engineering"]
    assert parsed.rows[0].application_id == "APP-1"
    assert parsed.rows[1].application_id is None
    assert parsed.rows[0].line == 2
    assert parsed.issues == []


def test_sample_upload_parses():
    with open("/work/shared/data/applications-sample.csv", "rb") as handle:
        data = handle.read()
    parsed = parse_upload(data, "applications-sample.csv")
    assert len(parsed.rows) + parsed.invalid_count + parsed.duplicate_count == data.count(b"\n") - 1


def test_url_and_email_become_domains_with_notes():
    parsed = parse("domain,titles\nhttps://www.Acme.com/jobs?x=1,CTO\njane@globex.com,CTO\n")
    assert [row.domain for row in parsed.rows] == ["acme.com", "globex.com"]
    assert [note.line for note in parsed.notes] == [2, 3]
    assert "URL" in parsed.notes[0].message
    assert "e-mail" in parsed.notes[1].message


def test_upper_case_and_spaces_are_normalised():
    parsed = parse("  Domain , Titles \n  ACME.COM  ,  CTO ;  VP   Engineering \n")
    assert parsed.rows[0].domain == "acme.com"
    assert parsed.rows[0].titles == ["CTO", "VP Engineering"]
    assert parsed.notes[0].column == "domain"


def test_internationalised_domain_is_encoded():
    parsed = parse("domain,titles\nbücher.de,CTO\n")
    assert parsed.rows[0].domain == "xn--bcher-kva.de"
    assert "internationalised" in parsed.notes[0].message


def test_byte_order_mark_and_crlf():
    parsed = parse_upload("\ufeffdomain,titles\r\nacme.com,CTO\r\nglobex.com,CTO\r\n".encode(), "x.csv")
    assert [row.domain for row in parsed.rows] == ["acme.com", "globex.com"]
    assert [row.line for row in parsed.rows] == [2, 3]


def test_semicolon_delimiter_uses_pipe_for_titles():
    parsed = parse("domain;titles;application_id\r\nacme.com;CTO|Head of Talent;APP-1\r\n")
    assert parsed.delimiter == ";"
    assert parsed.title_separator == "|"
    assert parsed.rows[0].titles == ["CTO", "Head of Talent"]
    assert parsed.rows[0].application_id == "APP-1"


def test_tab_delimiter_is_detected():
    parsed = parse("domain\ttitles\nacme.com\tCTO;VP Engineering\n")
    assert parsed.delimiter == "\t"
    assert parsed.rows[0].titles == ["CTO", "VP Engineering"]


def test_windows_1252_file_is_decoded():
    parsed = parse("domain,titles\nacme.com,Directeur Général\n", encoding="cp1252")
    assert parsed.rows[0].titles == ["Directeur Général"]
    assert any("Windows-1252" in note for note in parsed.file_notes)


def test_utf16_file_is_decoded():
    parsed = parse_upload("domain,titles\nacme.com,CTO\n".encode("utf-16"), "x.csv")
    assert parsed.rows[0].domain == "acme.com"


def test_quoted_cells_and_multiline_lines():
    parsed = parse('domain,titles\n"acme.com","VP, Engineering"\n"globex.com","CTO\nand more"\ninitech.com,CTO\n')
    assert parsed.rows[0].titles == ["VP, Engineering"]
    assert parsed.rows[1].titles == ["CTO and more"]
    assert [row.line for row in parsed.rows] == [2, 3, 5]


def test_bad_rows_are_reported_with_lines_and_columns():
    parsed = parse(
        "domain,titles,application_id\n"
        "acme.com,CTO,APP-1\n"
        ",CTO,APP-2\n"
        "not a domain,CTO,APP-3\n"
        "globex.com,,APP-4\n"
        "initech.com,CTO,APP-5,surplus\n"
        f"umbrella.com,CTO,{'A' * 80}\n"
        "localhost,CTO,APP-7\n"
    )
    assert [row.domain for row in parsed.rows] == ["acme.com"]
    where = {(issue.line, issue.column) for issue in parsed.issues}
    assert (3, "domain") in where
    assert (4, "domain") in where
    assert (5, "titles") in where
    assert (6, "-") in where
    assert (7, "application_id") in where
    assert (8, "domain") in where
    assert parsed.invalid_count == 6


def test_row_with_two_problems_counts_once():
    parsed = parse("domain,titles\nacme.com,CTO\nnot-a-domain,\n")
    assert len(parsed.issues) == 2
    assert parsed.invalid_count == 1


def test_duplicates_collapse_to_first_line():
    parsed = parse(
        "domain,titles,application_id\n"
        "acme.com,CTO;VP Engineering,APP-1\n"
        "ACME.com,vp engineering;cto,APP-1\n"
        "https://acme.com,CTO;VP Engineering,APP-1\n"
        "acme.com,CTO;VP Engineering,APP-2\n"
    )
    assert len(parsed.rows) == 2
    assert [(d.line, d.first_line) for d in parsed.duplicates] == [(3, 2), (4, 2)]
    assert parsed.duplicate_count == 2


def test_blank_lines_are_counted_not_queued():
    parsed = parse("domain,titles\n\nacme.com,CTO\n,\n\n")
    assert len(parsed.rows) == 1
    assert parsed.blank_lines == 3


def test_every_row_is_accounted_for():
    lines = ["domain,titles"] + [f"site{i}.com,CTO" for i in range(20)] + ["bad,CTO", "site1.com,CTO"]
    parsed = parse("\n".join(lines) + "\n")
    assert len(parsed.rows) + parsed.invalid_count + parsed.duplicate_count == 22


def test_extra_columns_are_ignored_with_a_note():
    parsed = parse("domain,titles,owner\nacme.com,CTO,jane\n")
    assert parsed.rows[0].domain == "acme.com"
    assert any("owner" in note for note in parsed.file_notes)


@pytest.mark.parametrize("data, filename, expected", [
    (b"", "x.csv", "empty"),
    (b"  \r\n\r\n", "x.csv", "empty"),
    (b"\xef\xbb\xbf", "x.csv", "empty"),
    (b"domain,titles\n", "x.csv", "no data rows"),
    (b"domain,titles\n\n\n", "x.csv", "no data rows"),
    (b"company,titles\nacme.com,CTO\n", "x.csv", "no 'domain' column"),
    (b"domain\nacme.com\n", "x.csv", "no 'titles' column"),
    (b"PK\x03\x04rest-of-a-zip", "x.csv", "ZIP"),
    (b"domain,titles\x00\nacme.com\n", "x.csv", "binary"),
    (b"domain,titles\nacme.com,CTO\n", "contacts.xlsx", "not a CSV"),
    (b"domain,titles\nacme.com,CTO\n", "contacts.pdf", "not a CSV"),
])
def test_unusable_files_are_rejected(data, filename, expected):
    with pytest.raises(UploadRejected, match=expected):
        parse_upload(data, filename)


def test_report_lists_everything():
    parsed = parse("domain,titles\nhttps://acme.com,CTO\nbad,CTO\nacme.com,CTO\n")
    report = parsed.report()
    assert report["rows"] == 1
    assert report["invalid"] == 1
    assert report["duplicates"] == 1
    assert report["issues"][0]["line"] == 3
    assert report["notes"][0]["line"] == 2
    assert report["duplicate_lines"] == [{"line": 4, "first_line": 2}]
