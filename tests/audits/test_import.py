"""Importing extracts through the service and the command line, on the test database."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import pandas as pd
import pytest

from accounts.services import Actor
from audits.models import Release
from audits.selectors import release_frame
from audits.services import import_extract, withdraw_release
from tests.conftest import FIXTURES, run_command

BOWEL = FIXTURES / "bowel"


def import_cli(name: str, extract_date: str = "2025-03-31", path=None):
    code, out, err = run_command(
        "import_extract", str(path or BOWEL / f"{name}.csv"), audit="bowel", extract_date=extract_date, json=True
    )
    return code, json.loads(out)


@pytest.mark.django_db
def test_it_imports_a_valid_extract_as_a_release(orgs):
    code, result = import_cli("valid")
    assert code == 0
    assert set(result) >= {"status", "release", "rows", "errors", "error_count", "warnings"}
    assert (result["status"], result["rows"], result["errors"], result["error_count"]) == ("accepted", 4, [], 0)
    release = Release.objects.get(pk=result["release"])
    data = (BOWEL / "valid.csv").read_bytes()
    assert release.sha256 == hashlib.sha256(data).hexdigest()
    assert (release.version, release.rows, release.status, release.origin) == (1, 4, "accepted", "cli")
    assert release.extract_date == date(2025, 3, 31)
    assert (release.period_start, release.period_end) == (date(2023, 11, 20), date(2024, 7, 10))
    assert release.definition["code"] == "bowel"
    frame = release_frame(release)
    assert frame["patient_id"].tolist() == ["P001", "P002", "P003", "P004"]
    assert frame["age"].tolist() == [70, 65, 80, 58]
    assert frame["diagnosis_date"].tolist() == [
        pd.Timestamp(d) for d in ("2024-05-01", "2023-11-20", "2024-07-10", "2024-01-12")
    ]
    assert frame["major_resection"].tolist() == [True, True, False, False]
    assert frame["asa_grade"].isna().tolist() == [False, False, True, True]
    assert release.quality_report["rows"] == 4


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, line, column",
    [
        ("integer_out_of_range", 2, "age"),
        ("date_impossible", 4, "diagnosis_date"),
        ("code_not_allowed", 5, "stage"),
        ("unknown_provider", 5, "provider_code"),
        ("duplicate_patient_id", 5, "patient_id"),
        ("surgery_before_diagnosis", 3, "surgery_date"),
        ("death_after_extract_date", 4, "death_date"),
        ("missing_required_column", 1, "major_resection"),
        ("empty", 1, ""),
        ("latin1", 4, ""),
    ],
)
def test_it_refuses_a_bad_file_with_exit_1_and_changes_nothing(orgs, table_counts, name, line, column):
    before = table_counts()
    code, result = import_cli(name)
    assert code == 1
    assert result["status"] == "rejected" and result["release"] is None
    assert (result["errors"][0]["line"], result["errors"][0]["column"]) == (line, column)
    assert result["error_count"] == len(result["errors"]) == 1
    assert table_counts() == before


@pytest.mark.django_db
def test_it_refuses_the_same_file_twice_naming_the_earlier_release(orgs, table_counts):
    assert import_cli("valid")[0] == 0
    before = table_counts()
    code, result = import_cli("valid")
    assert code == 1
    assert result["errors"][0]["message"].startswith("this file was already imported as bowel release 1")
    assert table_counts() == before


@pytest.mark.django_db
def test_a_failure_part_way_through_leaves_every_table_as_it_was(orgs, table_counts, tmp_path):
    before = table_counts()
    calls = []

    def fail_on_second_block(parser):
        calls.append(parser.report.rows)
        if len(calls) == 2:
            raise RuntimeError("worker lost")

    path = write_demo(tmp_path, rows=200_000)  # several 8 MB blocks, so COPY has already started
    with path.open("rb") as stream, pytest.raises(RuntimeError, match="worker lost"):
        import_extract(
            audit_code="bowel",
            stream=stream,
            file_name=path.name,
            extract_date=date(2026, 3, 31),
            actor=Actor.command_line(name="tests"),
            progress=fail_on_second_block,
        )
    assert table_counts() == before


@pytest.mark.django_db
def test_an_error_in_the_last_block_of_a_large_file_refuses_it_whole(orgs, table_counts, tmp_path):
    path = write_demo(tmp_path, rows=200_000)
    lines = path.read_text().splitlines()
    cells = lines[-1].split(",")
    cells[3] = "999"  # age
    lines[-1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    before = table_counts()
    code, result = import_cli("", extract_date="2026-03-31", path=path)
    assert code == 1
    assert result["errors"] == [
        {"line": 200_001, "column": "age", "value": "999", "message": "age must be a whole number from 0 to 120"}
    ]
    assert result["rows"] == 200_000
    assert table_counts() == before


@pytest.mark.django_db
def test_it_stores_a_large_file_across_blocks(orgs, tmp_path):
    path = write_demo(tmp_path, rows=200_000)
    code, result = import_cli("", extract_date="2026-03-31", path=path)
    assert code == 0, result["errors"][:3]
    frame = release_frame(Release.objects.get(pk=result["release"]), columns=["line", "patient_id", "age"])
    source = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(frame) == 200_000
    assert frame["line"].tolist() == list(range(2, 200_002))
    assert frame["patient_id"].tolist() == source["patient_id"].tolist()
    assert frame["age"].astype(int).tolist() == source["age"].astype(int).tolist()


@pytest.mark.django_db
def test_dd_mm_yyyy_dates_are_read_as_text_and_stored_as_dates(orgs, tmp_path):
    code, result = import_cli("valid")  # its last row is 12/01/2024
    assert code == 0
    frame = release_frame(Release.objects.get(pk=result["release"]))
    assert frame["diagnosis_date"].iloc[3] == pd.Timestamp("2024-01-12")


@pytest.mark.django_db
def test_awkward_characters_in_text_survive_the_round_trip(orgs, tmp_path):
    header = (BOWEL / "valid.csv").read_text().splitlines()[0]
    awkward = 'P\\1\t"quoted", and more'
    row = '"{}",R0A,2024-05-01,70,M,colon,2,1,0,2,3,gp_referral,yes,true,2024-06-01,,N'.format(
        awkward.replace('"', '""')
    )
    path = tmp_path / "awkward.csv"
    path.write_text(header + "\n" + row + "\n")
    code, result = import_cli("", path=path)
    assert code == 0, result
    assert release_frame(Release.objects.get(pk=result["release"]))["patient_id"].tolist() == [awkward]


@pytest.mark.django_db
def test_withdrawing_the_newest_release_makes_the_previous_one_current(orgs, tmp_path):
    first = import_cli("valid")[1]["release"]
    second = import_cli("valid_iso")[1]["release"]
    assert Release.objects.current("bowel").pk == second
    withdraw_release(release=Release.objects.get(pk=second), actor=Actor.command_line(), reason="wrong extract date")
    assert Release.objects.current("bowel").pk == first
    code, out, _ = run_command("list_releases", audit="bowel", json=True)
    listed = json.loads(out)
    assert [(r["id"], r["status"], r["current"]) for r in listed] == [
        (second, "withdrawn", False),
        (first, "accepted", True),
    ]
    assert set(listed[0]) >= {"id", "sha256", "rows", "status", "current"}
    assert len(release_frame(Release.objects.get(pk=second))) == 4  # kept for reproducibility


@pytest.mark.django_db
def test_the_command_explains_an_unknown_audit_or_a_bad_date(orgs):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown audit 'thyroid'; known audits: bowel, breast_metastatic, "):
        run_command("import_extract", str(BOWEL / "valid.csv"), audit="thyroid", extract_date="2025-03-31")
    with pytest.raises(CommandError, match="is not a date in YYYY-MM-DD form"):
        run_command("import_extract", str(BOWEL / "valid.csv"), audit="bowel", extract_date="31/03/2025")


@pytest.mark.django_db
def test_the_command_prints_errors_for_people_without_json(orgs):
    code, out, err = run_command(
        "import_extract", str(BOWEL / "code_not_allowed.csv"), audit="bowel", extract_date="2025-03-31"
    )
    assert code == 1
    assert "Refused: 1 error(s); nothing was stored." in err
    assert "line 5, column stage (value '5'): '5' is not an allowed stage (allowed: 1, 2, 3, 4, U)" in err


def write_demo(folder, rows: int):
    from audits.demo.engine import generate_extract, write_extract
    from audits.organisations import SEED_DIR
    from audits.registry import get_definition

    trusts = pd.read_csv(SEED_DIR / "trusts.csv", dtype=str)
    path = folder / f"demo_{rows}.csv"
    write_extract(generate_extract(get_definition("bowel"), rows, 11, date(2026, 3, 31), trusts), path)
    return path


@pytest.mark.django_db
def test_a_file_that_cannot_be_read_is_an_error_message_not_a_traceback(orgs, monkeypatch, tmp_path):
    from pathlib import Path

    from django.core.management import CommandError

    path = tmp_path / "locked.csv"
    path.write_bytes((BOWEL / "valid.csv").read_bytes())

    opener = Path.open

    def refuse(self, *args, **kwargs):  # as open() answers a file without read permission (tests run as root)
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return opener(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(CommandError, match="locked.csv cannot be read: Permission denied"):
        run_command("import_extract", str(path), audit="bowel", extract_date="2025-03-31")
    assert not Release.objects.exists()
