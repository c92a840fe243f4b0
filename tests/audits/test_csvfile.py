"""The one CSV writer: formula text is neutralised, numbers stay numbers, and no download writes CSV any other way."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest

from audits.csvfile import csv_text, neutralise
from tests.csv_attacks import HOSTILE, assert_safe

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "api", "audits", "cancerplan", "dashboards", "indicators")


def read_back(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("payload", HOSTILE)
def test_text_a_spreadsheet_would_run_is_written_with_an_apostrophe(payload: str) -> None:
    header, row = read_back(csv_text(["name", payload], [[payload, "ordinary"]]))
    assert_safe(header[1], payload)
    assert_safe(row[0], payload)
    assert row[1] == "ordinary"


@pytest.mark.parametrize("text", ["Manchester University NHS FT", "bowel.csv", "a-b", "x=1", "50%", "", "*"])
def test_ordinary_text_is_written_as_it_is(text: str) -> None:
    assert read_back(csv_text(["t"], [[text]]))[1] == [text]


def test_numbers_stay_numbers_in_numeric_columns() -> None:
    values = [-0.5, -3, Decimal("-0.25"), 1e-7, "-0.5", "+3", "-1.2e-05", ".5", "-7."]
    (row,) = read_back(csv_text([f"c{i}" for i in range(len(values))], [values]))[1:]
    assert row == ["-0.5", "-3", "-0.25", "1e-07", "-0.5", "+3", "-1.2e-05", ".5", "-7."]
    assert [float(cell) for cell in row] == pytest.approx([float(v) for v in values])


@pytest.mark.parametrize("text", ["-1+1", "-1 ", " -1", "-", "--1", "-0.5)", "+1e5*2", "-inf", "@1", "=1"])
def test_text_that_only_looks_numeric_is_neutralised(text: str) -> None:
    assert neutralise(text) == "'" + text


def test_empty_cells_and_other_types_are_left_to_the_csv_module() -> None:
    assert read_back(csv_text(["a", "b", "c"], [[None, True, 0]]))[1] == ["", "True", "0"]


def test_every_csv_download_is_written_by_the_one_writer() -> None:
    """No app writes CSV but ``audits/csvfile.py``: a new download cannot skip the neutralising."""
    writers = re.compile(r"csv\.(writer|DictWriter)\b|\bwriterows?\(")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if path != ROOT / "audits" / "csvfile.py" and "migrations" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if writers.search(line)
    ]
    assert offenders == []
