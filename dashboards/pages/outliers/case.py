"""One case: its result (exactly or as published), stage, owner and deadline, history, the outcomes the reader
may record now, and the files its history keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from dashboards.pages.outliers.cases import CaseRow, case_rows
from dashboards.pages.outliers.common import OWNERS, definitions_of, words
from dashboards.pages.piece import Piece
from dashboards.pages.run import count_phrase, format_result, result_sentence
from indicators.definitions import IndicatorDefinition
from indicators.disclosure import publish_results
from indicators.levels import ENGLAND_CODE, NATIONAL, PROVIDER
from indicators.models import IndicatorResult
from indicators.outlier_policy import closing_outcome
from outliers import access
from outliers.models import CaseEvent, OutlierCase
from outliers.services import CLOSE, case_stage, may_act, outcomes_of

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


def _history(user, case: OutlierCase, attachments: bool) -> list[HistoryItem]:
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
                email_to=access.email_recipients(user, case, event.email.get("to", [])),
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
    (row,) = case_rows([case])
    definition = definitions_of({case.audit_id}).get((case.audit_id, case.indicator))
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
        history=_history(user, case, attachments),
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
