"""The outlier process's pages (issue 13): the cases a reader may see, one case with its result, stage,
history and the outcomes the reader may record, the trust's patient rows behind a case, and the published
responses beside a trust's results.

Unlike the other pages, nothing here is built once per run: a case changes between runs, so its pieces are
read per request (a handful of rows). Who sees what is ``outliers.access``; what may be done is decided by
``outliers.services`` (``advance``) and ``outliers.responses`` (``publish_response``), whatever door calls them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from audits.models import Release, Trust
from dashboards.pages.piece import CsvSchema, Piece, columns
from dashboards.pages.run import count_phrase, format_result, result_sentence
from indicators.definitions import IndicatorDefinition
from indicators.disclosure import publish_results
from indicators.levels import ENGLAND_CODE, NATIONAL, PROVIDER
from indicators.models import IndicatorResult
from indicators.outlier_policy import closing_outcome
from indicators.registry import indicators_for
from outliers import access
from outliers.models import CaseEvent, OutlierCase
from outliers.services import CLOSE, case_stage, may_act, outcomes_of

#: Who owns a stage, in words.
OWNERS = {
    "audit_team": "The audit team",
    "trust_lead": "The trust's clinical lead",
    "chief_executive": "The trust's chief executive (recorded by the audit team or the trust's lead)",
    "alliance_lead": "The Cancer Alliance's lead",
}
#: Patient rows shown per page (the CSV has them all), and read per query for the CSV.
ROWS_PER_PAGE = 200
ROWS_PER_READ = 5000
#: Files a case's history keeps (e.g. the trust's response): their kinds and largest size.
ATTACHMENT_SUFFIXES = (
    ".pdf",
    ".docx",
    ".odt",
    ".doc",
    ".txt",
    ".rtf",
    ".xlsx",
    ".ods",
    ".csv",
    ".png",
    ".jpg",
    ".jpeg",
)
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024


def words(name: str) -> str:
    """A policy's name (``share_with_trust``) in words (``Share with trust``)."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def due_words(due: date | None, open_: bool, today: date) -> tuple[str, bool]:
    """The deadline in words, and whether it is overdue (said in the words too, never by colour alone)."""
    if not open_:
        return "-", False
    if due is None:
        return "No deadline", False
    when = f"{due.day} {due:%B %Y}"
    if due < today:
        late = (today - due).days
        return f"Overdue: was due {when} ({late} day{'s' if late != 1 else ''} ago)", True
    return f"Due {when}", False


def attachment_name(event: CaseEvent) -> str:
    """The name a kept file was uploaded as (without its folder); "" for none."""
    return (event.attachment.name or "").rsplit("/", 1)[-1] if event.attachment else ""


def attachment_problem(upload: Any) -> str:
    """Why an uploaded file cannot be kept in a case's history ("" if it can, or if there is none)."""
    if upload is None:
        return ""
    if not upload.name.lower().endswith(ATTACHMENT_SUFFIXES):
        return "Attach a document, spreadsheet or image: " + ", ".join(ATTACHMENT_SUFFIXES) + "."
    if upload.size > ATTACHMENT_MAX_BYTES:
        return f"The file is larger than {ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB."
    return ""


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


def _titles(audit_codes: set[str]) -> dict[tuple[str, str], IndicatorDefinition]:
    found = {}
    for audit in audit_codes:
        try:
            definitions = indicators_for(audit)
        except KeyError:  # an audit no longer defined: its cases keep their codes
            continue
        found.update({(audit, d.code): d for d in definitions})
    return found


# ------------------------------------------------------------------ the list


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


def _rows(cases: list[OutlierCase]) -> list[CaseRow]:
    today = timezone.localdate()
    titles = _titles({c.audit_id for c in cases})
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
    return CaseList(rows=_rows(ordered), audits=audits, audit=audit, show=show, scope=_scope(user, audits))


# ------------------------------------------------------------------ one case


@dataclass(kw_only=True)
class CaseResult(Piece):
    """The flagged result behind a case, exactly or as published."""

    value_text: str
    ci_text: str
    counts: str
    label: str
    england_text: str
    sentence: str
    exact: bool


@dataclass(kw_only=True)
class HistoryItem(Piece):
    """One event of the case's history, in words."""

    at: str
    when: str
    who: str
    via: str
    what: str
    stage: str
    outcome: str
    note: str
    attachment_name: str
    attachment_url: str
    email_to: list[str]
    email_subject: str
    email_body: str


@dataclass(kw_only=True)
class OutcomeChoice(Piece):
    """An outcome the reader may record now, and where it leads."""

    name: str
    label: str
    leads_to: str


@dataclass
class CasePage:
    """A case as the reader may see it, and what the reader may do now."""

    case: OutlierCase
    row: CaseRow
    result: CaseResult | None
    owner: str
    history: list[HistoryItem]
    choices: list[OutcomeChoice]
    may_publish: bool
    response_draft: str
    rows_release: int | None
    audit_team: bool
    attachments: bool
    public_response: str = ""

    def context(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "row": self.row,
            "result": self.result,
            "owner": self.owner,
            "history": self.history,
            "choices": self.choices,
            "may_publish": self.may_publish,
            "response_draft": self.response_draft,
            "rows_release": self.rows_release,
            "audit_team": self.audit_team,
            "attachments": self.attachments,
            "public_response": self.public_response,
        }


def _result(case: OutlierCase, definition: IndicatorDefinition | None, exact: bool) -> CaseResult | None:
    """The stored result of the run that opened the case, through the same disclosure as every page."""
    if definition is None:
        return None
    found: dict[tuple[str, str], dict[str, Any]] = {
        (row["level"], row["organisation"]): dict(row)
        for row in IndicatorResult.objects.filter(
            run_id=case.result.get("run"), indicator=case.indicator, period=case.period
        )
        .filter(level__in=(PROVIDER, NATIONAL), organisation__in=(case.organisation, ENGLAND_CODE))
        .values()
    }
    row, national = found.get((PROVIDER, case.organisation)), found.get((NATIONAL, ENGLAND_CODE))
    if row is None or not (exact or access.release_is_public(case)):
        return None
    shown = format_result(publish_results([row], unsuppressed=exact)[0], definition)
    england = format_result(publish_results([national], unsuppressed=exact)[0], definition) if national else None
    england_text = england["value_text"] if england else "-"
    return CaseResult(
        value_text=shown["value_text"],
        ci_text=shown["ci_text"],
        counts=count_phrase(shown, definition),
        label=shown["label"],
        england_text=england_text,
        sentence=result_sentence("this trust", shown, england_text, definition),
        exact=exact,
    )


def _history(case: OutlierCase, attachments: bool) -> list[HistoryItem]:
    items = []
    for event in case.events.all():
        name = attachment_name(event)
        url = reverse("outlier-attachment", args=[case.pk, event.pk]) if name and attachments else ""
        stage = words(event.from_stage) if event.from_stage else ""
        if event.to_stage:
            stage = f"{stage} to {words(event.to_stage)}" if stage else words(event.to_stage)
        at = timezone.localtime(event.at)
        items.append(
            HistoryItem(
                at=at.isoformat(),
                when=f"{at.day} {at:%B %Y, %H:%M}",
                who=event.actor_name or "-",
                via=event.via,
                what=event.get_action_display(),
                stage=stage,
                outcome=words(event.outcome) if event.outcome else "",
                note=event.note,
                attachment_name=name,
                attachment_url=url,
                email_to=list(event.email.get("to", [])),
                email_subject=event.email.get("subject", ""),
                email_body=event.email.get("body", ""),
            )
        )
    return items


def _choices(user, case: OutlierCase) -> list[OutcomeChoice]:
    if not case.is_open:
        return []
    stage = case_stage(case)
    choices = []
    for outcome in outcomes_of(case):
        if outcome == CLOSE:
            if may_act(user, "audit_team", case):
                choices.append(OutcomeChoice(name=CLOSE, label="Close the case", leads_to="closes the case"))
            continue
        if not may_act(user, stage.owner, case):
            continue
        target = stage.target(outcome)
        closed = closing_outcome(target)
        leads_to = (
            f"closes the case ({words(closed).lower()})"
            if closed is not None
            else f"moves it to: {case_stage(case, target).title}"
        )
        choices.append(OutcomeChoice(name=outcome, label=words(outcome), leads_to=leads_to))
    return choices


def _trust_answer(case: OutlierCase) -> str:
    """The note of the trust lead's last answer (what the audit team usually publishes, edited)."""
    policy_stages = {e.from_stage for e in case.events.all() if e.from_stage}
    owned = [name for name in policy_stages if case_stage(case, name).owner == "trust_lead"]
    event = case.events.filter(from_stage__in=owned).exclude(note="").order_by("-at", "-pk").first()
    return event.note if event else ""


def visible_case(user, case_id: int) -> OutlierCase:
    """The case, if the reader may see it: 404 if there is none, PermissionDenied (403) if it is not theirs."""
    case = OutlierCase.objects.select_related("audit", "opened_release", "latest_release").filter(pk=case_id).first()
    if case is None:
        raise Http404("No such case")
    if not access.may_see(user, case):
        raise PermissionDenied("This case is for the audit team, the trust's lead and the alliance's lead.")
    return case


def case_page(user, case_id: int) -> CasePage:
    """The selector of ``/outliers/<id>/``."""
    case = visible_case(user, case_id)
    (row,) = _rows([case])
    definition = _titles({case.audit_id}).get((case.audit_id, case.indicator))
    stage = case_stage(case)
    audit_team = access.is_audit_team(user, case)
    attachments = access.may_open_attachments(user, case)
    # Offered at the stage that publishes (its outcome closes the case as "published"), or once closed.
    publishing = case.is_open and any(closing_outcome(target) == "published" for _, target in stage.outcomes)
    may_publish = audit_team and (publishing or case.status == OutlierCase.Status.CLOSED)
    return CasePage(
        case=case,
        row=row,
        result=_result(case, definition, access.sees_exact_figures(user, case)),
        owner=OWNERS.get(stage.owner, words(stage.owner)),
        history=_history(case, attachments),
        choices=_choices(user, case),
        may_publish=may_publish,
        response_draft=(case.public_response or _trust_answer(case)) if may_publish else "",
        rows_release=case.opened_release.version if access.may_read_trust_rows(user, case) else None,
        audit_team=audit_team,
        attachments=attachments,
        public_response=case.public_response if case.public_response_at else "",
    )


def attachment_of(user, case_id: int, event_id: int) -> CaseEvent:
    """A file kept in a case's history, for the audit team and the trust's lead."""
    case = visible_case(user, case_id)
    if not access.may_open_attachments(user, case):
        raise PermissionDenied("The case's files are for the audit team and the trust's lead.")
    event = case.events.filter(pk=event_id).exclude(attachment="").first()
    if event is None:
        raise Http404("No such file")
    return event


def rows_case(user, case_id: int) -> tuple[OutlierCase, Release]:
    """The case whose trust's patient rows the reader asks for, and its release: the audit's analysts and the
    trust's lead only (PermissionDenied otherwise, before any row is read)."""
    case = visible_case(user, case_id)
    if not access.may_read_trust_rows(user, case):
        raise PermissionDenied("A trust's patient rows are for the audit's analysts and the trust's lead.")
    return case, case.opened_release


# ------------------------------------------------------------------ the public trust page


@dataclass(kw_only=True)
class PublishedResponse(Piece):
    """On a trust's public page: a result reviewed with the trust, and the trust's response as published."""

    audit: str
    indicator: str
    indicator_title: str
    period: str
    response: str
    published: str


def published_responses(trust_code: str, releases: list[Release]) -> dict[str, list[PublishedResponse]]:
    """By audit: the reviewed results of the trust's page (``outliers.access.published_responses``)."""
    cases = list(access.published_responses(trust_code, releases))
    titles = _titles({c.audit_id for c in cases})
    found: dict[str, list[PublishedResponse]] = {}
    for case in cases:
        definition = titles.get((case.audit_id, case.indicator))
        at = timezone.localtime(case.public_response_at)
        found.setdefault(case.audit_id, []).append(
            PublishedResponse(
                audit=case.audit_id,
                indicator=case.indicator,
                indicator_title=definition.title if definition else case.indicator,
                period=case.period,
                response=case.public_response,
                published=f"{at.day} {at:%B %Y}",
            )
        )
    return found
