"""The case list: the cases a reader may see (``outliers.access.visible_cases``), where each stands, and its CSV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from audits.models import Trust
from dashboards.pages.outliers.common import definitions_of, due_words, words
from dashboards.pages.piece import CsvSchema, Piece, columns
from outliers import access
from outliers.models import OutlierCase
from outliers.services import case_stage


@dataclass(kw_only=True)
class CaseRow(Piece):
    """One case in the list: what it is about, where it stands, and by when."""

    id: int
    url: str
    audit: str
    audit_name: str
    indicator: str
    indicator_title: str
    trust: str
    trust_name: str
    period: str
    flag: str
    direction: str
    track: str
    stage: str
    stage_title: str
    due: str
    due_text: str
    overdue: bool
    status: str
    outcome: str
    release: int


#: ``?download=csv`` of the case list (the columns of ``outlier_cases --json`` and the API, in words beside).
CASES_CSV: CsvSchema[CaseRow] = columns(
    ("id", lambda r: r.id),
    ("audit", lambda r: r.audit),
    ("indicator", lambda r: r.indicator),
    ("organisation", lambda r: r.trust),
    ("period", lambda r: r.period),
    ("release", lambda r: r.release),
    ("flag", lambda r: r.flag),
    ("direction", lambda r: r.direction),
    ("track", lambda r: r.track),
    ("stage", lambda r: r.stage),
    ("stage_due", lambda r: r.due),
    ("due", lambda r: r.due_text),
    ("status", lambda r: r.status),
)


def case_rows(cases: list[OutlierCase]) -> list[CaseRow]:
    today = timezone.localdate()
    titles = definitions_of({c.audit_id for c in cases})
    names = dict(Trust.objects.filter(code__in={c.organisation for c in cases}).values_list("code", "name"))
    rows = []
    for case in cases:
        due_text, overdue = due_words(case.stage_due, case.is_open, today)
        definition = titles.get((case.audit_id, case.indicator))
        rows.append(
            CaseRow(
                id=case.pk,
                url=reverse("outlier-case", args=[case.pk]),
                audit=case.audit_id,
                audit_name=case.audit.name,
                indicator=case.indicator,
                indicator_title=definition.title if definition else case.indicator,
                trust=case.organisation,
                trust_name=names.get(case.organisation, case.organisation),
                period=case.period,
                flag=case.get_level_display(),
                direction=case.get_direction_display(),
                track=words(case.track),
                stage=case.stage,
                stage_title=case_stage(case).title,
                due=case.stage_due.isoformat() if case.stage_due else "",
                due_text=due_text,
                overdue=overdue,
                status=case.get_status_display(),
                outcome=words(case.outcome) if case.outcome else "",
                release=case.opened_release.version,
            )
        )
    return rows


@dataclass
class CaseList:
    """The cases the reader may see, open ones first, with the audits they come from (to filter by)."""

    rows: list[CaseRow]
    audits: list[tuple[str, str]]
    audit: str
    show: str
    scope: str

    @property
    def overdue(self) -> int:
        return sum(r.overdue for r in self.rows)


def _scope(user, audits: list[tuple[str, str]]) -> str:
    """Which cases the reader sees, in words."""
    if roles.is_staff(user):
        return "Every audit's cases: you are staff."
    parts = []
    if roles.analyst_audits(user):
        parts.append("every case of the audits you analyse")
    if any(roles.trusts_led(user, code) for code, _ in audits):
        parts.append("the cases of the trusts whose clinical lead you are, for those audits")
    if roles.alliance_of_lead(user):
        parts.append("the cases of your Cancer Alliance's trusts")
    return ("You see " + "; ".join(parts) + ".") if parts else ""


def case_list(user, audit: str = "", show: str = "open") -> CaseList:
    """The selector of ``/outliers/``: PermissionDenied for a reader with no role in the outlier process."""
    if not access.may_see_cases(user):
        raise PermissionDenied("Outlier cases are for the audit team, the trusts' leads and the alliances' leads.")
    cases: QuerySet[OutlierCase] = access.visible_cases(user).select_related("audit", "opened_release")
    audits = sorted({(c.audit_id, c.audit.name) for c in cases}, key=lambda pair: pair[1])
    if audit:
        cases = cases.filter(audit_id=audit)
    if show == "open":
        cases = cases.filter(status=OutlierCase.Status.OPEN)
    ordered = sorted(cases, key=lambda c: (not c.is_open, c.stage_due or date.max, c.audit_id, c.organisation, c.pk))
    return CaseList(rows=case_rows(ordered), audits=audits, audit=audit, show=show, scope=_scope(user, audits))
