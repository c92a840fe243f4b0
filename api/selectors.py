"""Reads for the API that the apps' own selectors do not offer: each is one query.

(A release's patient rows are read through ``audits.services.read_patient_rows``, which logs each read.)
"""

from __future__ import annotations

from audits.models import Alliance, Release, Trust
from indicators.levels import ENGLAND_CODE


def current_release_ids(audit_code: str | None = None) -> dict[str, int]:
    """The current (newest accepted) release of each audit, by audit code."""
    releases = Release.objects.accepted()
    if audit_code:
        releases = releases.filter(audit_id=audit_code)
    current: dict[str, int] = {}
    for audit, pk in releases.order_by("audit_id", "-version").values_list("audit_id", "pk"):
        current.setdefault(audit, pk)
    return current


def organisation_names() -> dict[str, str]:
    """Names of every trust, alliance and England, by code (two queries)."""
    return {
        **dict(Trust.objects.values_list("code", "name")),
        **dict(Alliance.objects.values_list("code", "name")),
        ENGLAND_CODE: "England",
    }
