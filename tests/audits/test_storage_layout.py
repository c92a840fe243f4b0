"""Where a release's rows are stored on PostgreSQL: a partition per release, and tables made before that."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from accounts.services import Actor
from audits.registry import get_definition
from audits.selectors import release_frame
from audits.services import import_extract
from audits.storage import storage_columns, storage_table_name
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db  # the suite runs on PostgreSQL (make test), as production does

BOWEL = FIXTURES / "bowel"


def _import(name: str):
    with (BOWEL / f"{name}.csv").open("rb") as stream:
        return import_extract(
            audit_code="bowel",
            stream=stream,
            file_name=f"{name}.csv",
            extract_date=date(2025, 3, 31),
            actor=Actor.command_line(name="test"),
        )


def _partitions(table: str) -> dict[str, int]:
    """Each partition of ``table`` and its row count."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
            [f'"{table}"'],
        )
        names = [row[0] for row in cursor.fetchall()]
        counts = {}
        for name in names:
            cursor.execute(f'SELECT count(*) FROM "{name}"')  # noqa: S608 - names read from the catalogue
            counts[name] = cursor.fetchone()[0]
    return counts


def test_each_release_gets_a_partition_of_its_own_and_reads_find_its_rows(orgs):
    first = _import("valid")
    assert first.accepted
    table = first.release.storage_table
    assert _partitions(table) == {f"{table}_r{first.release.pk}": 4}
    assert release_frame(first.release)["patient_id"].tolist() == ["P001", "P002", "P003", "P004"]


def test_a_refused_file_leaves_no_partition_behind(orgs):
    refused = _import("latin1")
    assert not refused.accepted
    table = storage_table_name(get_definition("bowel"))
    assert _partitions(table) == {}


def test_a_table_made_before_partitions_keeps_receiving_rows(orgs):
    """A deployment's existing plain table (with its BRIN index) is used as it is, not replaced."""
    definition = get_definition("bowel")
    table = storage_table_name(definition)
    body = ", ".join(f'"{name}" {kind}' for name, kind in storage_columns(definition))
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{table}" ({body})')  # noqa: S608 - test identifiers
        cursor.execute(f'CREATE INDEX "{table}_release" ON "{table}" USING brin ("release_id")')
    outcome = _import("valid")
    assert outcome.accepted
    assert _partitions(table) == {}
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}" WHERE release_id = %s', [outcome.release.pk])  # noqa: S608
        assert cursor.fetchone()[0] == 4
    assert release_frame(outcome.release)["patient_id"].tolist() == ["P001", "P002", "P003", "P004"]
