"""The validator on random and mutated files (property-based, pure: no database).

Whatever the bytes: it never raises; a refusal has at least one error and every error's line is in
the file; an acceptance yields exactly the file's data rows. CI runs a bounded, repeatable set of
examples; ``make fuzz`` runs a long random one (profiles in tests/conftest.py).
"""

from __future__ import annotations

import csv
import io
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audits.ingest.parse import ExtractParser, TypedReadFailed
from tests.audits.test_parse import BOWEL, EXTRACT_DATE
from tests.conftest import FIXTURES

VALID = (FIXTURES / "bowel" / "valid.csv").read_bytes()
FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def parse(providers, data: bytes):
    """As the import service does: typed first, as text when a value does not convert."""
    for typed_reading in (True, False):
        parser = ExtractParser(BOWEL, EXTRACT_DATE, providers, typed_reading=typed_reading)
        try:
            rows = sum(table.num_rows for table in parser.batches(io.BytesIO(data)))
        except TypedReadFailed:
            continue
        return parser.finish(), rows
    raise AssertionError("the text reader never raises TypedReadFailed")


def check(providers, data: bytes) -> None:
    report, rows = parse(providers, data)
    lines = len(re.split(rb"\r\n|\r|\n", data))
    if not report.ok:
        assert report.errors, "a refusal says why"
        assert all(e.line is None or 1 <= e.line <= lines for e in report.errors), (lines, report.errors)
        return
    assert rows == report.rows == reference_rows(data), data


def reference_rows(data: bytes) -> int:
    """Data rows as Python's csv module reads the accepted text: blank lines and lines of spaces skipped."""
    text = data.decode("utf-8-sig")
    records = list(csv.reader(io.StringIO(text, newline="")))[1:]
    return sum(1 for r in records if r and any(v != "" for v in r) and not (len(r) == 1 and not r[0].strip()))


@FIXTURE_OK
@given(data=st.binary(max_size=4000))
def test_random_bytes(providers, data):
    check(providers, data)


@FIXTURE_OK
@given(data=st.binary(max_size=600).map(lambda tail: VALID[: len(VALID) // 2] + tail))
def test_a_valid_start_then_random_bytes(providers, data):
    check(providers, data)


INSERTS = [b'"', b"\x00", b"\r", b"\n", b"\r\n", b",", b" ", b"\xe9", b"\xef\xbb\xbf", b'""']


@st.composite
def mutated(draw) -> bytes:
    """The small valid bowel extract, changed one to three times the ways files go wrong."""
    data = VALID
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "insert", "flip", "duplicate", "delete", "long", "swap_ending"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            data = data[:at]
        elif kind == "insert":
            data = data[:at] + draw(st.sampled_from(INSERTS)) + data[at:]
        elif kind == "flip" and data:
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
        elif kind in ("duplicate", "delete", "long"):
            lines = data.split(b"\n")
            column = draw(st.integers(0, 17))
            which = draw(st.integers(0, len(lines) - 1))
            out = []
            for i, line in enumerate(lines):
                fields = line.split(b",")
                if column < len(fields):
                    if kind == "duplicate":
                        fields.insert(column, fields[column])
                    elif kind == "delete":
                        del fields[column]
                    elif i == which:
                        fields[column] = b"7" * draw(st.integers(1000, 60_000))
                out.append(b",".join(fields))
            data = b"\n".join(out)
        elif kind == "swap_ending":
            data = data.replace(b"\n", draw(st.sampled_from([b"\r", b"\r\n", b"\n\n"])))
    return data


@FIXTURE_OK
@given(data=mutated())
def test_mutations_of_a_valid_extract(providers, data):
    check(providers, data)
