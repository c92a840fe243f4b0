"""The trust's patient rows behind a case: its lead and the audit's analysts only, read through
``audits.services.read_patient_rows`` (each read is logged)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from audits.models import Release
from dashboards.pages.outliers.case import visible_case
from outliers import access
from outliers.models import OutlierCase

#: Patient rows shown per page (the CSV has them all), and read per query for the CSV.
ROWS_PER_PAGE = 200
ROWS_PER_READ = 5000


def all_trust_rows(read: Any, release: Release, actor: Any, organisation: str) -> tuple[list, list]:
    """Every patient row of one trust of a release, read in batches through ``read`` (``read_patient_rows``,
    which checks the reader and logs each read)."""
    columns: list = []
    rows: list = []
    after = 0
    while True:
        columns, batch = read(
            release=release, actor=actor, after_line=after, limit=ROWS_PER_READ, organisation=organisation
        )
        rows.extend(batch)
        if len(batch) < ROWS_PER_READ:
            return columns, rows
        after = batch[-1]["line"]


def rows_case(user, case_id: int) -> tuple[OutlierCase, Release]:
    """The case whose trust's patient rows the reader asks for, and its release: the audit's analysts and the
    trust's lead only (PermissionDenied otherwise, before any row is read)."""
    case = visible_case(user, case_id)
    if not access.may_read_trust_rows(user, case):
        raise PermissionDenied("A trust's patient rows are for the audit's analysts and the trust's lead.")
    return case, case.opened_release
