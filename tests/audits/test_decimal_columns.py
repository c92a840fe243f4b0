"""A decimal column (audits/ingest/columns/types/decimal.py): a PSA of 4.25 ng/ml checked, stored exactly,
read and served."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from audits.ingest.parse import ExtractParser
from audits.schema import DefinitionError, parse_definition

ROOT = Path(__file__).resolve().parents[2]
PROSTATE = {
    "code": "psa_test",
    "name": "Prostate (decimal test)",
    "extract": {
        "patient_id": "patient_id",
        "provider": "trust",
        "diagnosis_date": "diagnosis_date",
        "columns": [
            {"name": "patient_id", "type": "text", "required": True, "unique": True},
            {"name": "trust", "type": "provider", "required": True},
            {"name": "diagnosis_date", "type": "date", "required": True},
            {"name": "psa", "type": "decimal", "places": 2, "min": 0, "max": 1000},
        ],
    },
}
HEADER = "patient_id,trust,diagnosis_date,psa\n"
GOOD = HEADER + "P1,RTH,2024-01-02,4.25\nP2,RTH,2024-01-02, .5 \nP3,RTH,2024-01-02,\nP4,RTH,2024-01-02,+1000\n"
GOOD_PSA = [Decimal("4.25"), Decimal("0.50"), None, Decimal("1000.00")]
BAD = (
    HEADER + "P1,RTH,2024-01-02,4.25\nP2,RTH,2024-01-02,high\nP3,RTH,2024-01-02,-0.01\n"
    "P4,RTH,2024-01-02,1000.5\nP5,RTH,2024-01-02,4.255\nP6,RTH,2024-01-02,1e2\n"
)
BAD_ERRORS = [
    (3, "psa", "high", "'high' is not a number"),
    (4, "psa", "-0.01", "'-0.01' is below the minimum of psa (0)"),
    (5, "psa", "1000.5", "'1000.5' is above the maximum of psa (1000)"),
    (6, "psa", "4.255", "'4.255' has more than 2 decimal places"),
    (7, "psa", "1e2", "'1e2' is not a number"),
]


def prostate(**psa):
    raw = json.loads(json.dumps(PROSTATE))
    raw["extract"]["columns"][3].update(psa)
    return raw


def without(key):
    raw = prostate()
    del raw["extract"]["columns"][3][key]
    return raw


# -- the definition ----------------------------------------------------------------------------------------------


def test_a_decimal_column_keeps_its_places_and_exact_bounds():
    psa = parse_definition(prostate(min=0.05, max=99.5), origin="psa_test.yaml").column("psa")
    assert (psa.type, psa.option("places"), psa.min, psa.max) == ("decimal", 2, Decimal("0.05"), Decimal("99.5"))


@pytest.mark.parametrize(
    "raw, message, key",
    [
        (prostate(place=2), "column psa: unknown key 'place' (did you mean 'places'?)", "place"),
        (prostate(codes=["a"]), "column psa: 'codes' does not apply to decimal columns", "codes"),
        (without("places"), "column psa: a decimal column needs places", None),
        (prostate(places=-1), "column psa: places must be a whole number from 0 to 9", "places"),
        (prostate(places=1.5), "column psa: places must be a whole number from 0 to 9", "places"),
        (prostate(places=True), "column psa: places must be a whole number from 0 to 9", "places"),
        (prostate(places="2"), "column psa: places must be a whole number from 0 to 9", "places"),
        (prostate(min=5, max=4.99), "column psa: min (5) is above max (4.99)", "min"),
        (prostate(min="low"), "column psa: min must be a number", "min"),
        (prostate(max=True), "column psa: max must be a number", "max"),
        (prostate(min=0.125), "column psa: min has more than 2 decimal places", "min"),
        (prostate(max=1e13), "column psa: max has more than 13 digits before the decimal point", "max"),
    ],
)
def test_a_malformed_decimal_column_is_refused_naming_the_key(raw, message, key):
    with pytest.raises(DefinitionError) as caught:
        parse_definition(raw, origin="psa_test.yaml")
    assert message in str(caught.value) and caught.value.key == key


# -- reading a file: both of Arrow's readings --------------------------------------------------------------------


def parse(text: str, providers, typed_reading: bool):
    parser = ExtractParser(
        parse_definition(prostate(), origin="psa_test.yaml"), date(2025, 3, 31), providers, typed_reading=typed_reading
    )
    tables = list(parser.batches(io.BytesIO(text.encode())))
    return tables, parser.finish()


@pytest.mark.parametrize("typed_reading", [True, False])
def test_good_values_read_exactly_whichever_way_arrow_reads(providers, typed_reading):
    tables, report = parse(GOOD, providers, typed_reading)
    assert report.ok, report.errors
    assert str(tables[0]["psa"].type) == "decimal128(15, 2)"
    assert tables[0]["psa"].to_pylist() == GOOD_PSA


def test_long_runs_of_zeros_read_as_the_value_they_write(providers):
    tables, report = parse(
        HEADER + f"P1,RTH,2024-01-02,{'0' * 300}4.25\nP2,RTH,2024-01-02,4.5{'0' * 300}\n", providers, False
    )
    assert report.ok, report.errors
    assert tables[0]["psa"].to_pylist() == [Decimal("4.25"), Decimal("4.50")]


@pytest.mark.parametrize("typed_reading", [True, False])
def test_each_kind_of_bad_value_is_named_by_line_column_and_value(providers, typed_reading):
    _, report = parse(BAD, providers, typed_reading)
    assert [(e.line, e.column, e.value, e.message) for e in report.errors] == BAD_ERRORS
    assert report.error_count == len(BAD_ERRORS)


# -- storing, reading back and serving -----------------------------------------------------------------------------


@pytest.fixture
def prostate_audit(settings, tmp_path):
    from audits.registry import get_definition, reset_cache
    from audits.services import sync_audit

    (tmp_path / "psa_test.yaml").write_text(yaml.safe_dump(PROSTATE))
    settings.AUDIT_DEFINITION_DIRS = [*settings.AUDIT_DEFINITION_DIRS, tmp_path]
    reset_cache()
    sync_audit(get_definition("psa_test"))
    yield
    reset_cache()


def import_prostate(text: str, stream=None):
    from accounts.services import Actor
    from audits.services import import_extract

    return import_extract(
        audit_code="psa_test",
        stream=stream or io.BytesIO(text.encode()),
        file_name="psa_test.csv",
        extract_date=date(2025, 3, 31),
        actor=Actor.command_line(name="tests"),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    [GOOD, GOOD.replace("2024-01-02", "02/01/2024")],  # the second falls back from the typed reading (DD/MM/YYYY)
    ids=["typed", "fallen back to text"],
)
def test_decimals_are_stored_exactly_read_as_float64_and_served_as_their_exact_text(orgs, prostate_audit, text):
    from django.db import connection

    from api.serializers.audits import ColumnSerializer
    from api.serializers.releases import row_serializer
    from audits.registry import get_definition
    from audits.selectors import release_frame, release_rows, row_columns

    outcome = import_prostate(text)
    assert outcome.accepted, outcome.as_json()
    release = outcome.release
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_typeof(psa)::text, psa FROM {release.storage_table} ORDER BY line")  # noqa: S608
        stored = cursor.fetchall()
    assert [kind for kind, _ in stored] == ["numeric"] * 4 and [value for _, value in stored] == GOOD_PSA
    frame = release_frame(release)
    assert str(frame["psa"].dtype) == "Float64"
    assert frame["psa"].tolist()[:2] == [4.25, 0.5] and frame["psa"].isna().tolist() == [False, False, True, False]
    columns = row_columns(release)
    assert ("psa", "decimal") in columns
    served = row_serializer(columns)(release_rows(release, after_line=0, limit=10), many=True).data
    assert [row["psa"] for row in served] == ["4.25", "0.50", None, "1000.00"]
    described = ColumnSerializer(get_definition("psa_test").column("psa")).data
    assert (described["type"], described["min"], described["max"]) == ("decimal", Decimal("0"), Decimal("1000"))


@pytest.mark.django_db
def test_a_file_with_a_bad_decimal_stores_nothing(orgs, prostate_audit, table_counts):
    before = table_counts()
    outcome = import_prostate(BAD)
    assert not outcome.accepted
    assert [(e.line, e.column, e.value, e.message) for e in outcome.report.errors] == BAD_ERRORS
    assert table_counts() == before


def test_sqlite_stores_decimals_as_exact_text(tmp_path):
    """The embedded default: SQLite's REAL is a binary fraction, so a decimal is stored as its exact text."""
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "psa_test.yaml").write_text(yaml.safe_dump(PROSTATE))
    (tmp_path / "psa_test.csv").write_text(GOOD)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY"}}
    env.update(DEBUG="true", DATA_DIR=str(tmp_path), CELERY_TASK_ALWAYS_EAGER="")
    env["AUDIT_DEFINITION_DIRS"] = str(definitions)

    def manage(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "manage.py", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)

    assert manage("migrate", "--no-input", "-v0").returncode == 0
    imported = manage(
        "import_extract",
        "--audit",
        "psa_test",
        "--extract-date",
        "2025-03-31",
        "--json",
        str(tmp_path / "psa_test.csv"),
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    read = manage(
        "shell",
        "-v0",
        "-c",
        "from django.db import connection; from api.serializers.releases import row_serializer; "
        "from audits.models import Release; from audits.selectors import release_frame, release_rows, row_columns; "
        "r = Release.objects.get(audit_id='psa_test'); c = connection.cursor(); "
        "c.execute(f'SELECT typeof(psa), psa FROM {r.storage_table} ORDER BY line'); print(c.fetchall()); "
        "f = release_frame(r); print(str(f['psa'].dtype), f['psa'].tolist()[:2]); "
        "rows = row_serializer(row_columns(r))(release_rows(r, after_line=0, limit=9), many=True).data; "
        "print([row['psa'] for row in rows])",
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout.splitlines() == [
        "[('text', '4.25'), ('text', '0.50'), ('null', None), ('text', '1000.00')]",
        "Float64 [4.25, 0.5]",
        "['4.25', '0.50', None, '1000.00']",
    ]
