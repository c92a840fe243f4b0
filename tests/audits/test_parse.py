"""The extract validator, without the database: one fixture file per rule, exact line and column."""

from __future__ import annotations

import io
from datetime import date

import pytest

from audits.ingest.parse import ExtractParser, TypedReadFailed
from audits.schema import load_definition
from tests.conftest import FIXTURES

BOWEL = load_definition(FIXTURES.parents[1] / "audits" / "definitions" / "bowel.yaml")
EXTRACT_DATE = date(2025, 3, 31)


def parse_once(providers, name=None, data=None, typed_reading=False):
    parser = ExtractParser(BOWEL, EXTRACT_DATE, providers, typed_reading=typed_reading)
    stream = io.BytesIO(data) if data is not None else (FIXTURES / "bowel" / f"{name}.csv").open("rb")
    with stream:
        tables = list(parser.batches(stream))
        report = parser.finish()
    return report, tables


@pytest.fixture(params=["typed", "text"])
def parse(request):
    """As the import service reads: typed first, as text when a value does not convert (or text only)."""

    def run(providers, name=None, data=None):
        if request.param == "typed":
            try:
                return parse_once(providers, name, data, typed_reading=True)
            except TypedReadFailed:
                pass
        return parse_once(providers, name, data)

    return run


def test_it_accepts_a_valid_file_and_types_every_column(parse, providers):
    report, tables = parse(providers, "valid")
    assert report.ok, report.errors
    assert report.rows == 4
    rows = tables[0].to_pylist()
    assert rows[0]["age"] == 70 and rows[0]["mdt_discussed"] is True and rows[0]["readmitted_30d"] is False
    assert rows[1]["major_resection"] is True and rows[1]["readmitted_30d"] is True
    assert rows[1]["sex"] == "F" and rows[1]["cancer_site"] == "rectum"
    assert rows[2]["asa_grade"] is None and rows[2]["mdt_discussed"] is None
    assert rows[3]["diagnosis_date"] == date(2024, 1, 12)  # DD/MM/YYYY
    assert rows[3]["performance_status"] is None and rows[3]["mdt_discussed"] is False
    assert [r["line"] for r in rows] == [2, 3, 4, 5]
    assert report.period_start == date(2023, 11, 20) and report.period_end == date(2024, 7, 10)


@pytest.mark.parametrize(
    "name, line, column, value, message",
    [
        ("missing_required_value", 3, "age", "", "a value is required here"),
        ("integer_unparseable", 4, "age", "seventy", "'seventy' is not a whole number"),
        ("integer_out_of_range", 2, "age", "121", "age must be a whole number from 0 to 120"),
        ("integer_decimal", 5, "charlson", "1.5", "'1.5' is not a whole number"),
        (
            "performance_status_out_of_range",
            2,
            "performance_status",
            "5",
            "performance_status must be a whole number from 0 to 4",
        ),
        (
            "date_unparseable",
            3,
            "diagnosis_date",
            "2023/11/20",
            "'2023/11/20' is not a date: use YYYY-MM-DD or DD/MM/YYYY",
        ),
        (
            "date_impossible",
            4,
            "diagnosis_date",
            "2024-02-30",
            "'2024-02-30' is not a date: use YYYY-MM-DD or DD/MM/YYYY",
        ),
        ("code_not_allowed", 5, "stage", "5", "'5' is not an allowed stage (allowed: 1, 2, 3, 4, U)"),
        ("sex_not_allowed", 2, "sex", "X", "'X' is not an allowed sex (allowed: M, F)"),
        (
            "boolean_unparseable",
            4,
            "mdt_discussed",
            "maybe",
            "'maybe' is not true or false (use true/false, yes/no, y/n or 1/0)",
        ),
        (
            "unknown_provider",
            5,
            "provider_code",
            "ZZZ",
            "'ZZZ' is not a known NHS trust code (ODS); check the code or load the current organisations",
        ),
        ("duplicate_patient_id", 5, "patient_id", "P002", "patient_id is repeated: it first appears on line 3"),
        (
            "surgery_required_when_resected",
            2,
            "surgery_date",
            "",
            "surgery_date is required when major_resection is true",
        ),
        ("asa_blank_unless_resected", 4, "asa_grade", "3", "asa_grade must be blank unless major_resection is true"),
        (
            "readmission_blank_unless_resected",
            5,
            "readmitted_30d",
            "no",
            "readmitted_30d must be blank unless major_resection is true",
        ),
        (
            "surgery_before_diagnosis",
            3,
            "surgery_date",
            "2023-11-01",
            "surgery_date (2023-11-01) is before diagnosis_date",
        ),
        ("death_before_diagnosis", 4, "death_date", "2024-07-01", "death_date (2024-07-01) is before diagnosis_date"),
        ("death_before_surgery", 3, "death_date", "2023-12-01", "death_date (2023-12-01) is before surgery_date"),
        ("death_after_extract_date", 4, "death_date", "2025-06-01", "death_date is after the extract date 2025-03-31"),
        (
            "missing_required_column",
            1,
            "major_resection",
            "",
            "required column major_resection is missing from the header",
        ),
    ],
)
def test_it_reports_each_rule_with_line_column_and_value(parse, providers, name, line, column, value, message):
    report, _ = parse(providers, name)
    assert report.error_count == 1, [e.as_dict() for e in report.errors]
    error = report.errors[0]
    assert (error.line, error.column, error.value, error.message) == (line, column, value, message)


def test_it_refuses_an_empty_file(parse, providers):
    report, _ = parse(providers, "empty")
    assert [(e.line, e.message) for e in report.errors] == [
        (1, "the file is empty: it needs a header line and at least one row")
    ]


def test_it_refuses_a_header_without_rows(parse, providers):
    report, _ = parse(providers, "header_only")
    assert [(e.line, e.message) for e in report.errors] == [(1, "the file has a header but no rows of data")]


def test_it_refuses_another_encoding_naming_the_line(parse, providers):
    report, _ = parse(providers, "latin1")
    assert report.error_count == 1
    assert report.errors[0].line == 4 and report.errors[0].value == "0xE9"
    assert "not valid UTF-8" in report.errors[0].message


def test_it_refuses_utf16_with_advice(parse, providers):
    report, _ = parse(providers, "utf16")
    assert report.errors[0].message.startswith("the file is UTF-16; save it as UTF-8")


def test_it_accepts_any_header_case_and_order_crlf_and_a_bom_and_warns_of_extra_columns(parse, providers):
    report, tables = parse(providers, "reordered_crlf_bom")
    assert report.ok, report.errors
    valid_report, valid_tables = parse(providers, "valid")
    assert tables[0].to_pylist() == valid_tables[0].to_pylist()
    assert report.warnings == ["Column(s) not in the bowel definition were ignored: notes."]


def test_it_reports_rows_with_the_wrong_number_of_fields(parse, providers):
    report, _ = parse(providers, "wrong_field_count")
    assert [(e.line, e.message) for e in report.errors] == [(3, "this line has 18 fields but the header has 17")]


def test_it_maps_predecessor_codes_to_successors_and_warns_of_late_use(parse, providers):
    report, tables = parse(providers, "predecessor_code")
    assert report.ok, report.errors
    rows = tables[0].to_pylist()
    assert [(r["provider_code"], r["provider_code_submitted"]) for r in rows[3:]] == [("RM3", "RW6"), ("RM3", "RW6")]
    assert report.warnings == [
        "2 row(s) with predecessor code RW6 were counted under its successor RM3 (merged from 2021-10-01).",
        "1 row(s) use code RW6 for a diagnosis on or after 2021-10-01, when it no longer existed; "
        "check the provider coding.",
    ]


def test_it_reports_the_first_100_errors_in_file_order_and_the_total(parse, providers):
    header = (FIXTURES / "bowel" / "valid.csv").read_text().splitlines()[0]
    row = "P{i},R0A,2024-05-01,{age},M,colon,2,1,0,2,3,gp_referral,yes,true,2024-06-01,,N"
    body = [row.format(i=i, age="old" if i % 2 else 200) for i in range(300)]
    report, _ = parse(providers, data=("\n".join([header, *body]) + "\n").encode())
    assert report.error_count == 300
    assert len(report.errors) == 100
    assert [e.line for e in report.errors] == list(range(2, 102))
    assert report.errors[0].message == "age must be a whole number from 0 to 120"
    assert report.errors[1].message == "'old' is not a whole number"


def test_it_accepts_every_boolean_spelling_and_blank_lines(parse, providers):
    header = (FIXTURES / "bowel" / "valid.csv").read_text().splitlines()[0]
    words = ["true", "FALSE", "y", "N", "Yes", "no", "1", "0"]
    rows = [f"P{i},R0A,2024-05-01,70,M,colon,2,1,0,,3,gp_referral,{w},false,,," for i, w in enumerate(words)]
    report, tables = parse(providers, data=("\n".join([header, rows[0], "", *rows[1:]]) + "\n\n").encode())
    assert report.ok, report.errors
    values = [r["mdt_discussed"] for t in tables for r in t.to_pylist()]
    assert values == [True, False, True, False, True, False, True, False]
    assert [r["line"] for t in tables for r in t.to_pylist()][:2] == [2, 4]


def test_it_builds_completeness_by_column_and_by_provider(parse, providers):
    report, _ = parse(providers, "valid")
    columns = {c["column"]: c for c in report.quality["columns"]}
    assert columns["performance_status"]["filled"] == 3 and columns["performance_status"]["missing"] == 1
    assert columns["performance_status"]["percent_complete"] == 75.0
    assert columns["mdt_discussed"]["percent_complete"] == 75.0
    by_provider = {p["provider_code"]: p for p in report.quality["providers"]}
    assert by_provider["R0D"]["rows"] == 1 and by_provider["R0D"]["percent_complete"]["performance_status"] == 0.0
    assert by_provider["R0A"]["percent_complete"]["asa_grade"] == 100.0


def test_it_hashes_the_file_bytes(parse, providers):
    import hashlib

    data = (FIXTURES / "bowel" / "valid.csv").read_bytes()
    report, _ = parse(providers, data=data)
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert report.size_bytes == len(data)


def test_typed_reading_gives_the_same_rows_as_text_reading(providers):
    typed_report, typed_tables = parse_once(providers, "valid_iso", typed_reading=True)
    text_report, text_tables = parse_once(providers, "valid_iso")
    assert typed_report.ok and text_report.ok
    assert typed_tables[0].to_pylist() == text_tables[0].to_pylist()
    assert typed_report.quality == text_report.quality


def test_typed_reading_gives_way_to_text_reading_on_a_value_it_cannot_convert(providers):
    with pytest.raises(TypedReadFailed):
        parse_once(providers, "valid", typed_reading=True)  # DD/MM/YYYY needs the text reader


# -- files that are not what an extract should be (issue 10) -------------------------------------
VALID = (FIXTURES / "bowel" / "valid.csv").read_bytes()
HEADER, _, ROWS = VALID.partition(b"\n")


def errors_of(report):
    return [(e.line, e.column, e.value, e.message) for e in report.errors]


def test_it_refuses_a_header_name_over_128_kb_naming_line_1(parse, providers):
    report, tables = parse(providers, data=b'"' + b"x" * 200_000 + b'",' + HEADER + b"\n" + ROWS)
    assert errors_of(report) == [
        (1, "", "", "a column name in the header is over 128 KB long: the first line must be the column names")
    ]
    assert tables == []


def test_it_accepts_a_file_saved_with_cr_only_line_endings(parse, providers):
    """Excel for Mac's "CSV (Macintosh)": Arrow reads a lone CR as a line end at no cost, so the file is
    read as it is (no re-save needed), with the same rows and lines as the LF file."""
    report, tables = parse(providers, data=VALID.replace(b"\n", b"\r"))
    assert report.ok, report.errors
    _, expected = parse(providers, data=VALID)
    assert tables[0].to_pylist() == expected[0].to_pylist()


def test_it_finds_the_line_with_the_wrong_field_count_when_another_line_has_a_huge_field(parse, providers):
    huge = b'"' + b"y" * 200_000 + b'"' + ROWS.split(b"\n")[0][4:]  # the first row with a 200 KB patient_id
    report, _ = parse(providers, data=HEADER + b"\n" + huge + b"\nP9,R0A\n" + ROWS)
    assert errors_of(report) == [(3, "", "", "this line has 2 fields but the header has 17")]


@pytest.mark.parametrize(
    "old, new, column", [(b"P003", b"P0\x0003", "patient_id"), (b",colon,", b",co\x00lon,", "cancer_site")]
)
def test_it_refuses_a_nul_byte_naming_line_and_column(parse, providers, old, new, column):
    """A NUL passed as text would abort PostgreSQL's COPY (invalid byte sequence for encoding "UTF8": 0x00)."""
    rows = ROWS.split(b"\n")
    rows[2] = rows[2].replace(old, new)
    report, tables = parse(providers, data=HEADER + b"\n" + b"\n".join(rows))
    assert errors_of(report) == [
        (
            4,
            column,
            "0x00",
            "this line has a NUL byte (0x00), which a CSV export never has: export the data again as CSV UTF-8",
        )
    ]


def test_it_names_the_line_that_is_longer_than_a_block(providers):
    long_row = ROWS.split(b"\n")[0].replace(b"P001", b"P" + b"9" * (9 << 20))
    data = HEADER + b"\n" + ROWS + long_row + b"\n"
    report, _ = parse_once(providers, data=data)
    assert errors_of(report) == [(6, "", "", "this line is longer than 8 MB: is a quote not closed?")]


def test_a_long_value_is_cut_short_in_the_report(parse, providers):
    rows = ROWS.split(b"\n")
    rows[0] = rows[0].replace(b",70,", b"," + b"7" * 5000 + b",")
    report, _ = parse(providers, data=HEADER + b"\n" + b"\n".join(rows))
    (line, column, value, message), *_ = errors_of(report)
    assert (line, column) == (2, "age") and value == "7" * 200 + "... (4800 more characters)"
    assert message == f"'{value}' is not a whole number"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x1f\x8b\x08\x00" + bytes(range(256)), "this is a gzip-compressed file, not a CSV file"),
        (b"PK\x03\x04\x14\x00[Content_Types].xml", "this is an Excel workbook (.xlsx), not a CSV file"),
        (b"PK\x03\x04\x14\x00extract.csv", "this is a zip file, not a CSV file: unzip it"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "this is an Excel 97-2003 workbook (.xls)"),
        (
            HEADER.decode().encode("utf-16-le") + b"\n\x00",
            "the header line has control characters: this is not a CSV text file (UTF-16",
        ),
        (b"a" * (2 << 20), "the first line is longer than 1 MB"),
    ],
)
def test_it_says_what_a_file_is_when_it_is_not_csv(parse, providers, data, message):
    report, _ = parse(providers, data=data)
    assert [e.line for e in report.errors] == [1]
    assert report.errors[0].message.startswith(message)


def test_codes_in_any_case_or_with_spaces_are_stored_as_declared(parse, providers):
    valid = (FIXTURES / "bowel" / "valid.csv").read_text()
    header, first, *rest = valid.splitlines()
    names = header.split(",")
    values = first.split(",")
    for name, written in (
        ("sex", " m"),
        ("cancer_site", "COLON "),
        ("stage", "u"),
        ("route_to_diagnosis", "Screening"),
    ):
        values[names.index(name)] = written
    report, tables = parse(providers, data="\n".join([header, ",".join(values), *rest]).encode() + b"\n")
    assert report.ok, report.errors
    row = tables[0].to_pylist()[0]
    assert (row["sex"], row["cancer_site"], row["stage"], row["route_to_diagnosis"]) == ("M", "colon", "U", "screening")
