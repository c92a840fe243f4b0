"""The data-quality report counts what is recorded (issue 11, item 10).

Known truths: in a file where 8 of 100 stages are "U" (declared ``unknown_codes: [U]``), stage is
92% complete, not 100%; ASA grade (declared ``applies_when: {major_resection: true}``) is measured
among the 50 resected patients only, so recording it for all of them is 100%, not 50%.
"""

from __future__ import annotations

import io

import pytest

from audits.ingest.parse import ExtractParser
from tests.audits.test_parse import BOWEL, EXTRACT_DATE

HEADER = "patient_id,provider_code,diagnosis_date,age,sex,stage,major_resection,surgery_date,asa_grade,readmitted_30d"


def extract() -> bytes:
    """100 patients at two trusts; stage U for 8 (R0A 6, R0B 2); the first 50 resected, each with an
    ASA grade, readmission recorded for 40 of them (R0A 30 of 30, R0B 10 of 20)."""
    lines = [HEADER]
    for i in range(100):
        trust = "R0A" if i < 30 or 50 <= i < 80 else "R0B"
        stage = "U" if i % 12 == 0 and i < 96 else str(1 + i % 4)
        resected = i < 50
        readmitted = ("false" if i % 3 else "true") if resected and (i < 30 or i >= 40) else ""
        surgery, asa = ("2024-06-01", str(1 + i % 4)) if resected else ("", "")
        lines.append(
            f"P{i:03d},{trust},2024-05-01,70,F,{stage},{'true' if resected else 'false'},{surgery},{asa},{readmitted}"
        )
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("typed", [True, False], ids=["typed", "text"])
def test_unknown_codes_are_not_recorded_and_a_column_is_measured_where_it_applies(providers, typed):
    data = extract()
    assert data.count(b",U,") == 8
    parser = ExtractParser(BOWEL, EXTRACT_DATE, providers, typed_reading=typed)
    list(parser.batches(io.BytesIO(data)))
    report = parser.finish()
    assert report.error_count == 0, report.errors
    columns = {c["column"]: c for c in report.quality["columns"]}
    stage = columns["stage"]
    assert (stage["applies_to"], stage["filled"], stage["unknown"], stage["missing"]) == (100, 92, 8, 8)
    assert stage["percent_complete"] == 92.0
    asa = columns["asa_grade"]
    assert (asa["applies_to"], asa["filled"], asa["missing"], asa["percent_complete"]) == (50, 50, 0, 100.0)
    assert asa["applies_when"] == "major_resection is true"
    assert columns["readmitted_30d"]["percent_complete"] == 80.0  # 40 of the 50 resected
    assert columns["age"]["applies_to"] == 100 and columns["age"]["applies_when"] == ""
    by_trust = {p["provider_code"]: p["percent_complete"] for p in report.quality["providers"]}
    stage_u = {"R0A": sum(1 for i in range(0, 96, 12) if i < 30 or 50 <= i < 80)}
    assert by_trust["R0A"]["stage"] == round(100 * (60 - stage_u["R0A"]) / 60, 1)
    assert by_trust["R0A"]["asa_grade"] == 100.0 and by_trust["R0B"]["asa_grade"] == 100.0
    assert by_trust["R0A"]["readmitted_30d"] == 100.0 and by_trust["R0B"]["readmitted_30d"] == 50.0
