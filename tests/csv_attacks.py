"""CSV formula injection: the text an attacker puts where a download will show it, and what a safe cell looks like.

An analyst (or whoever holds an analyst's account or token) names an uploaded file, writes a withdrawal reason
or names the units of a funnel-tool table; the audit's other analysts download those as CSV and open them in
Excel, which runs a cell starting with ``=``, ``+``, ``-`` or ``@`` (also after spaces, a tab or a carriage
return) as a formula.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from audits.models import Audit, ImportJob, Release

HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "-1+1",
    "@SUM(A1)",
    "\t=1",
    "  =2",
    "\r=3",
    " \t+A4",
    "\n=5",
]
RUNS = ("=", "+", "-", "@", "\t", "\r")


def rows_of(content: bytes | str) -> list[dict[str, str]]:
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    return list(csv.DictReader(io.StringIO(text)))


def assert_safe(cell: str, payload: str) -> None:
    """The cell keeps the attacker's text but starts with an apostrophe: a spreadsheet shows it as text."""
    assert cell == "'" + payload, (cell, payload)
    assert not cell.lstrip().startswith(RUNS), cell


def hostile_history(audit_code: str, user) -> tuple[list[Release], list[ImportJob]]:
    """One withdrawn release and one import job per hostile text, named with it (as the upload and the reason)."""
    audit = Audit.objects.get(code=audit_code)
    releases, jobs = [], []
    for i, payload in enumerate(HOSTILE, start=1):
        releases.append(
            Release.objects.create(
                audit=audit,
                version=1000 + i,
                status=Release.Status.WITHDRAWN,
                file_name=payload,
                sha256=f"{i:064x}",
                extract_date=date(2026, 3, 31),
                origin=Release.Origin.WEB,
                uploaded_by=user,
                definition={},
                definition_sha="0" * 64,
                storage_table="none",
                withdrawn_by=user,
                withdrawn_reason=payload,
            )
        )
        jobs.append(
            ImportJob.objects.create(
                audit=audit,
                file_name=payload,
                status=ImportJob.Status.REJECTED,
                extract_date=date(2026, 3, 31),
                origin=Release.Origin.WEB,
                submitted_by=user,
            )
        )
    return releases, jobs
