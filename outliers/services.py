"""The outlier process: opening cases from a computed release, moving them on by role, and chasing overdue stages.

- ``open_cases(run)``: each trust-level result of the run in the policy's reporting period with a flag in its
  levels and directions opens a case, or carries forward the open case of an earlier release (event "flag
  persists"); an open case of an earlier release whose result is no longer flagged says "flag cleared" and
  stays open for the audit team to close. A recompute of the same release opens nothing again (the unique
  constraint on (release, indicator, trust, period), and ``get_or_create``).
- ``void_cases(release)``: a withdrawn release's cases become void (``outliers.signals`` calls it).
- ``advance(case, outcome, actor, note)``: the stage's owner (``may_act``) records its outcome; the case moves
  to the next stage with a deadline in working days (``outliers.workdays``), or closes.
- ``check_overdue(today)``: each overdue step of a stage (a reminder, then an escalation) is sent once.

Every change is a ``CaseEvent`` (never changed) and, when someone acts, an entry of the audit log. Emails are
rendered from ``templates/outliers/email/*.txt``, kept in the event, and sent by a Celery task once the
transaction commits (``outliers.tasks.send_case_email``), never in a request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts import roles
from accounts.models import AllianceLead, AuditLogEntry, TrustLead
from accounts.services import Actor
from audits.models import Release, Trust
from indicators import levels
from indicators.models import ComputationRun, IndicatorResult, RunIndicator
from indicators.outlier_policy import REPORTING_ALL, REPORTING_LATEST, Policy, Stage, closing_outcome, policy_from
from indicators.stats.flags import flag_meaning
from outliers.models import CaseEvent, OutlierCase, TrustContact
from outliers.workdays import add_working_days, working_days_between

logger = logging.getLogger(__name__)
Action = CaseEvent.Action
LogAction = AuditLogEntry.Action
#: Who the system is in a case's history and the audit log when no one acted (opening, overdue steps).
SYSTEM = "outlier process"
#: The audit team may close an open case at any stage (e.g. once its flag has cleared).
CLOSE = "close"


class CaseError(ValueError):
    """The case cannot take this outcome (closed, or no such outcome at its stage)."""


def release_policy(release: Release) -> Policy:
    """The outlier policy of the definition the release was checked against (the default if it has none)."""
    return policy_from((release.definition or {}).get("outlier_policy") or {}, origin=f"release {release.pk}")


# ---- opening -------------------------------------------------------------------------------------------


def _reporting_periods(results: list[IndicatorResult], policy: Policy) -> set[str]:
    """The periods of one indicator's trust-level results that the policy reports on."""
    if policy.reporting_period == REPORTING_ALL:
        return {r.period for r in results}
    if policy.reporting_period == REPORTING_LATEST:
        # The latest period wholly covered: the all-years period starts first, a year still being followed up
        # is partial (and gets no flags).
        whole = [r for r in results if not r.partial]
        if not whole:
            return set()
        latest = max(r.period_start for r in whole)
        return {r.period for r in whole if r.period_start == latest}
    return {policy.reporting_period}


def _flag_words(flag: str, direction: str) -> tuple[str, str] | None:
    """(level, direction) of a result's flag given the indicator's direction; None for no flag or no judgement."""
    if flag in ("", "none") or direction not in ("higher_is_better", "lower_is_better"):
        return None
    meaning = flag_meaning(flag, direction)  # type: ignore[arg-type]
    return flag.split("_", 1)[0], meaning


def _snapshot(result: IndicatorResult) -> dict[str, Any]:
    names = (
        "level",
        "period_start",
        "period_end",
        "numerator",
        "denominator",
        "observed",
        "expected",
        "value",
        "ci_lower",
        "ci_upper",
        "ci_lower_998",
        "ci_upper_998",
        "national_value",
        "limit_lower_95",
        "limit_upper_95",
        "limit_lower_998",
        "limit_upper_998",
        "z",
        "flag",
        "suppressed",
    )
    data = {name: getattr(result, name) for name in names}
    data["period_start"], data["period_end"] = str(result.period_start), str(result.period_end)
    data["run"] = result.run_id
    return data


def flagged_results(run: ComputationRun, policy: Policy) -> list[tuple[IndicatorResult, str, str]]:
    """The run's trust-level results that open a case under the policy: (result, level, direction)."""
    directions = {
        ri.indicator: (ri.definition or {}).get("direction", "") for ri in RunIndicator.objects.filter(run=run)
    }
    by_indicator: dict[str, list[IndicatorResult]] = {}
    for result in IndicatorResult.objects.filter(run=run, level=levels.PROVIDER).order_by(
        "indicator", "organisation", "period"
    ):
        by_indicator.setdefault(result.indicator, []).append(result)
    found = []
    for indicator, results in by_indicator.items():
        periods = _reporting_periods(results, policy)
        for result in results:
            words = _flag_words(result.flag, directions.get(indicator, ""))
            if result.period in periods and words and policy.track_for(*words) is not None:
                found.append((result, *words))
    return found


def open_cases(run: ComputationRun) -> dict[str, int]:
    """Open (or carry forward) the cases of a current run's flagged results; say which earlier flags cleared.

    Returns counts: {"opened", "persisting", "cleared"}. Idempotent: a recompute of the same release opens
    no case again and repeats no event.
    """
    release = run.release
    counts = {"opened": 0, "persisting": 0, "cleared": 0}
    if release.is_withdrawn:
        return counts
    policy = release_policy(release)
    today = timezone.localdate()
    countries = dict(Trust.objects.values_list("code", "country"))
    with transaction.atomic():
        earlier = {
            (case.indicator, case.organisation, case.direction): case
            for case in OutlierCase.objects.select_for_update(of=("self",))
            .filter(
                audit_id=release.audit_id,
                status=OutlierCase.Status.OPEN,
                opened_release__version__lt=release.version,
                latest_release__version__lte=release.version,  # a recompute of an older release changes nothing newer
            )
            .order_by("created_at")
        }
        carried: set[int] = set()
        for result, level, direction in flagged_results(run, policy):
            previous = earlier.get((result.indicator, result.organisation, direction))
            if previous is not None:
                carried.add(previous.pk)
                counts["persisting"] += _carry_forward(previous, release, persists=True)
                continue
            track = policy.track_for(level, direction)
            assert track is not None  # flagged_results keeps only results the policy opens cases for
            first = track.first
            country = countries.get(result.organisation) or policy.country
            case, created = OutlierCase.objects.get_or_create(
                opened_release=release,
                indicator=result.indicator,
                organisation=result.organisation,
                period=result.period,
                defaults={
                    "audit_id": release.audit_id,
                    "level": level,
                    "direction": direction,
                    "track": track.name,
                    "policy": policy.as_json(),
                    "country": country,
                    "stage": first.name,
                    "stage_started": today,
                    "stage_due": _due(today, first, country),
                    "latest_release": release,
                    "result": _snapshot(result),
                },
            )
            if created:
                counts["opened"] += 1
                _event(case, Action.OPENED, to_stage=first.name, release=release, email=_stage_email(case, first))
                Actor.command_line(name=SYSTEM).log(
                    LogAction.CASE_OPENED,
                    audit_code=release.audit_id,
                    target=f"outlier case {case.pk}",
                    details={"release": release.pk, "indicator": case.indicator, "trust": case.organisation},
                )
        for case in earlier.values():
            if case.pk not in carried:
                counts["cleared"] += _carry_forward(case, release, persists=False)
    return counts


def _carry_forward(case: OutlierCase, release: Release, *, persists: bool) -> bool:
    """Say in the case whether its flag persists in ``release``; False if it already said so (a recompute)."""
    if case.latest_release_id == release.pk and case.flag_persists == persists:
        return False
    case.latest_release = release
    case.flag_persists = persists
    case.save(update_fields=["latest_release", "flag_persists"])
    _event(case, Action.FLAG_PERSISTS if persists else Action.FLAG_CLEARED, release=release)
    return True


def void_cases(release: Release) -> int:
    """Void the open cases a withdrawn release opened (the release's withdrawal is in the audit log)."""
    count = 0
    with transaction.atomic():
        for case in OutlierCase.objects.select_for_update().filter(
            opened_release=release, status=OutlierCase.Status.OPEN
        ):
            case.status = OutlierCase.Status.VOID
            case.stage_due = None
            case.save(update_fields=["status", "stage_due"])
            _event(
                case,
                Action.VOIDED,
                from_stage=case.stage,
                release=release,
                note=release.withdrawn_reason,
                actor=release.withdrawn_by,
            )
            count += 1
    return count


# ---- moving on -----------------------------------------------------------------------------------------


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


def case_stage(case: OutlierCase, name: str = "") -> Stage:
    """A stage (the current one by default) of the case's track, from the policy snapshot it opened with."""
    policy = Policy.from_json(case.policy)
    track = next(t for t in policy.tracks if t.name == case.track)
    return track.stage(name or case.stage)


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
            raise CaseError(f"Case {case.pk} is {case.get_status_display().lower()}.")
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
            event = _event(
                case,
                Action.CLOSED,
                actor=actor,
                from_stage=stage.name,
                outcome=outcome,
                note=note,
                attachment=attachment,
                email=_email(case, "closed", ("trust_lead", "audit_team"), stage=stage, outcome=closed, note=note),
            )
        else:
            following = case_stage(case, target)
            case.stage = following.name
            case.stage_started = today
            case.stage_due = _due(today, following, case.country)
            case.save(update_fields=["stage", "stage_started", "stage_due"])
            event = _event(
                case,
                Action.ADVANCED,
                actor=actor,
                from_stage=stage.name,
                to_stage=following.name,
                outcome=outcome,
                note=note,
                attachment=attachment,
                email=_stage_email(case, following, previous=stage, outcome=outcome, note=note),
            )
        actor.log(
            LogAction.CASE_ADVANCED,
            audit_code=case.audit_id,
            target=f"outlier case {case.pk}",
            details={"event": event.pk, "from": stage.name, "outcome": outcome, "to": event.to_stage or closed},
        )
    return case


def _due(start: date, stage: Stage, country: str) -> date | None:
    return None if stage.working_days is None else add_working_days(start, stage.working_days, country)


# ---- overdue stages ------------------------------------------------------------------------------------


def check_overdue(today: date | None = None) -> list[CaseEvent]:
    """Send each overdue step of every open case's stage once (a reminder, then an escalation), as its policy
    says: a step is due ``after_working_days`` working days past the stage's due date."""
    today = today or timezone.localdate()
    sent: list[CaseEvent] = []
    for case_id in OutlierCase.objects.filter(status=OutlierCase.Status.OPEN, stage_due__lt=today).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            case = OutlierCase.objects.select_for_update().get(pk=case_id)
            if not case.is_open or case.stage_due is None:
                continue
            stage = case_stage(case)
            late = working_days_between(case.stage_due, today, case.country)
            # The steps already sent since the case entered its stage (the last event that moved it there).
            entered = case.events.filter(to_stage=case.stage).order_by("pk").values_list("pk", flat=True).last() or 0
            done = set(
                case.events.filter(
                    pk__gt=entered, action__in=(Action.REMINDER, Action.ESCALATION), from_stage=case.stage
                ).values_list("step", flat=True)
            )
            for number, step in enumerate(stage.on_overdue):
                if number in done or late < step.after_working_days:
                    continue
                kind = "reminder" if step.action == "reminder" else "escalation"
                sent.append(
                    _event(
                        case,
                        Action.REMINDER if kind == "reminder" else Action.ESCALATION,
                        from_stage=stage.name,
                        step=number,
                        email=_email(case, kind, step.notify, stage=stage, late=late),
                    )
                )
    return sent


# ---- history and notifications -------------------------------------------------------------------------


def _event(case: OutlierCase, action: str, *, actor: Actor | Any = None, **fields: Any) -> CaseEvent:
    """Write one event of the case's history; its email (if it has recipients) is sent once the transaction commits."""
    if isinstance(actor, Actor):
        user, name, via = actor.account, actor.display_name, actor.via
    elif actor is not None:  # an account (e.g. who withdrew the release)
        user, name, via = actor, actor.get_username(), ""
    else:
        user, name, via = None, SYSTEM, ""
    event = CaseEvent.objects.create(case=case, actor=user, actor_name=name[:150], via=via, action=action, **fields)
    if event.email.get("to"):
        from outliers.tasks import send_case_email  # tasks import this module

        transaction.on_commit(lambda: _queue_email(send_case_email, event.pk))
    return event


def _queue_email(task: Any, event_id: int) -> None:
    try:
        task.delay(event_id)
    except Exception:  # the event stands; the email can be sent again from its record
        logger.exception("outlier case event %s: the email could not be queued", event_id)


def _stage_email(case: OutlierCase, stage: Stage, **context: Any) -> dict[str, Any]:
    return _email(case, "stage", stage.notify, stage=stage, **context)


def _email(case: OutlierCase, kind: str, notify: Iterable[str], **context: Any) -> dict[str, Any]:
    """The notification as kept in the history: {to, subject, body} from ``outliers/email/<kind>.txt``, whose
    first line is the subject."""
    trust = Trust.objects.filter(code=case.organisation).first()
    text = render_to_string(
        f"outliers/email/{kind}.txt",
        {"case": case, "trust": trust, "trust_name": trust.name if trust else case.organisation, **context},
    )
    subject, _, body = text.strip().partition("\n")
    return {"to": recipients(case, notify), "subject": subject.strip(), "body": body.strip() + "\n"}


def recipients(case: OutlierCase, notify: Iterable[str]) -> list[str]:
    """The email addresses of the policy's recipients for this case (sorted, without repeats)."""
    users = get_user_model().objects.exclude(email="").filter(is_active=True)
    contacts = TrustContact.objects.filter(trust_id=case.organisation)
    found: set[str] = set()
    for who in notify:
        if who == "trust_lead":
            found.update(
                users.filter(
                    pk__in=TrustLead.objects.filter(trust_id=case.organisation, audit_id=case.audit_id).values("user")
                ).values_list("email", flat=True)
            )
            found.update(contacts.filter(role=TrustContact.Role.LEAD_CLINICIAN).values_list("email", flat=True))
        elif who in (TrustContact.Role.CHIEF_EXECUTIVE, TrustContact.Role.MEDICAL_DIRECTOR):
            found.update(contacts.filter(role=who).values_list("email", flat=True))
        elif who == "regulator":
            if settings.OUTLIER_REGULATOR_EMAIL:
                found.add(settings.OUTLIER_REGULATOR_EMAIL)
        elif who == "audit_team":
            found.update(
                users.filter(groups__name=roles.analyst_group_name(case.audit_id)).values_list("email", flat=True)
            )
        elif who == "alliance_lead":
            alliance = Trust.objects.filter(code=case.organisation).values_list("alliance_id", flat=True)
            found.update(
                users.filter(pk__in=AllianceLead.objects.filter(alliance_id__in=alliance).values("user")).values_list(
                    "email", flat=True
                )
            )
    return sorted(found)
