"""Moving a case on: who may answer a stage (``may_act``), what it may answer (``outcomes_of``), and
``advance(case, outcome, actor, note)``: the stage's owner records its outcome; the case moves to the next
stage with a deadline in working days (``outliers.workdays``), or closes. Each step is a case event and an
entry of the audit log."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.services import Actor
from audits.models import Trust
from indicators.outlier_policy import closing_outcome
from outliers.models import OutlierCase
from outliers.services.base import CLOSE, Action, CaseClosed, CaseError, LogAction, case_stage, due_date
from outliers.services.notifications import case_email, record_event, stage_email


def may_act(user, owner: str, case: OutlierCase) -> bool:
    """Whether ``user`` may record the outcome of a stage owned by ``owner`` (the command line always may).

    audit_team: the audit's analysts and staff; trust_lead: the trust's clinical lead for the audit;
    chief_executive: the acknowledgement is recorded by the audit team or the trust lead; alliance_lead: the
    lead of the trust's Cancer Alliance, or the audit team.
    """
    audit_team = roles.can_manage_releases(user, case.audit_id)
    if owner == "audit_team":
        return audit_team
    trust_lead = roles.is_trust_lead(user, case.organisation, case.audit_id)
    if owner == "trust_lead":
        return trust_lead
    if owner == "chief_executive":
        return audit_team or trust_lead
    if owner == "alliance_lead":
        alliance = Trust.objects.filter(code=case.organisation).values_list("alliance_id", flat=True).first()
        return audit_team or (alliance is not None and roles.alliance_of_lead(user) == alliance)
    return False


def outcomes_of(case: OutlierCase) -> list[str]:
    """The outcomes the case's current stage takes (the audit team may also ``close`` it)."""
    if not case.is_open:
        return []
    return [outcome for outcome, _ in case_stage(case).outcomes] + [CLOSE]


def advance(case: OutlierCase, outcome: str, actor: Actor, note: str = "", attachment=None) -> OutlierCase:
    """Record ``outcome`` of the case's current stage by ``actor`` and move the case on.

    PermissionDenied unless the actor may act for the stage's owner (``may_act``); CaseError if the case is
    not open or the stage has no such outcome. ``attachment`` (an uploaded file, e.g. the trust's response)
    is kept with the event.
    """
    with transaction.atomic():
        case = OutlierCase.objects.select_for_update().get(pk=case.pk)
        if not case.is_open:
            raise CaseClosed(f"Case {case.pk} is {case.get_status_display().lower()}.")
        stage = case_stage(case)
        if outcome == CLOSE:
            actor.require(
                lambda user: may_act(user, "audit_team", case), "Only this audit's analysts and staff can close a case."
            )
            target = "closed:closed_by_audit_team"
        else:
            try:
                target = stage.target(outcome)
            except KeyError:
                allowed = ", ".join([o for o, _ in stage.outcomes] + [CLOSE])
                raise CaseError(f"The stage {stage.name} takes one of: {allowed}.") from None
            actor.require(
                lambda user: may_act(user, stage.owner, case),
                f"The stage {stage.name} is for the {stage.owner.replace('_', ' ')} to answer.",
            )
        today = timezone.localdate()
        closed = closing_outcome(target)
        if closed is not None:
            case.status = OutlierCase.Status.CLOSED
            case.outcome = closed
            case.stage_due = None
            case.save(update_fields=["status", "outcome", "stage_due"])
            event = record_event(
                case,
                Action.CLOSED,
                actor=actor,
                from_stage=stage.name,
                outcome=outcome,
                note=note,
                attachment=attachment,
                email=case_email(case, "closed", ("trust_lead", "audit_team"), stage=stage, outcome=closed, note=note),
            )
        else:
            following = case_stage(case, target)
            case.stage = following.name
            case.stage_started = today
            case.stage_due = due_date(today, following, case.country)
            case.save(update_fields=["stage", "stage_started", "stage_due"])
            event = record_event(
                case,
                Action.ADVANCED,
                actor=actor,
                from_stage=stage.name,
                to_stage=following.name,
                outcome=outcome,
                note=note,
                attachment=attachment,
                email=stage_email(case, following, previous=stage, outcome=outcome, note=note),
            )
        actor.log(
            LogAction.CASE_ADVANCED,
            audit_code=case.audit_id,
            target=f"outlier case {case.pk}",
            details={"event": event.pk, "from": stage.name, "outcome": outcome, "to": event.to_stage or closed},
        )
    return case
