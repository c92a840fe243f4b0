"""Improvement plans (issue 13, item 5): the actions a trust records for an indicator, and whether they worked.

- Who: the trust's clinical lead for the audit (``accounts.TrustLead``), the lead of the trust's Cancer Alliance,
  the audit's analysts and staff (any trust; the command line too) add and update actions, and only they see them
  (``may_plan``); anyone else gets PermissionDenied, whatever the door.
- ``add_action`` records what, who, by when, its status and evidence for a result of the trust (a case's, or any
  flagged or unflagged one), with the published release and period it answers; ``update_action`` changes them.
  Both write the audit log (``plan_added``, ``plan_updated``, with the fields changed: old and new).
- ``before_after`` gives the indicator at the release the action was recorded and at the latest published
  release (value, interval, flag), as the reader may see them: exact for the trust's own team and the audit's
  analysts, as published for an alliance's lead and staff (``accounts.roles.sees_unsuppressed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import AuditLogEntry
from accounts.services import Actor
from audits.models import Release, Trust
from indicators.disclosure import publish_results
from indicators.levels import NATIONAL, PROVIDER
from indicators.models import IndicatorResult
from indicators.registry import indicators_for
from indicators.selectors import shown_runs
from outliers.models import ImprovementAction, OutlierCase

Status = ImprovementAction.Status
#: The fields ``update_action`` changes.
EDITABLE = ("what", "who", "due", "status", "evidence")


def may_plan(user, audit_code: str, trust_code: str, alliance_code: str | None = None) -> bool:
    """Whether ``user`` may see and keep the trust's improvement plan for the audit: the trust's lead for the audit,
    the lead of the trust's alliance (``alliance_code``, read when not given), the audit's analysts, or staff."""
    if roles.is_staff(user) or roles.is_analyst_of(user, audit_code):
        return True
    if roles.is_trust_lead(user, trust_code, audit_code):
        return True
    led = roles.alliance_of_lead(user)
    if led is None:
        return False
    if alliance_code is None:
        alliance_code = Trust.objects.filter(code=trust_code).values_list("alliance_id", flat=True).first()
    return led == alliance_code


def _require(actor: Actor, audit_code: str, trust_code: str) -> None:
    actor.require(
        lambda user: may_plan(user, audit_code, trust_code),
        "Only the trust's clinical lead for this audit, its Cancer Alliance's lead, the audit's analysts and staff "
        "keep its improvement plan.",
    )


def _headline(run_id: int, indicator: str) -> str | None:
    """The period the dashboards lead with: the longest (all audit years pooled), then the most recent."""
    national = IndicatorResult.objects.filter(run_id=run_id, indicator=indicator, level=NATIONAL).values_list(
        "period", "period_start", "period_end"
    )
    best = max(national, key=lambda p: (p[2] - p[1], p[2]), default=None)
    return best[0] if best else None


def add_action(
    actor: Actor,
    *,
    audit_code: str,
    indicator: str,
    organisation: str,
    what: str,
    who: str,
    due: date | None = None,
    status: str = Status.PLANNED,
    evidence: str = "",
    case: OutlierCase | None = None,
) -> ImprovementAction:
    """Record an action of the trust's plan for an indicator; the result it answers is the case's (its release
    and period) or the indicator's headline result in the published release."""
    _require(actor, audit_code, organisation)
    if indicator not in {d.code for d in indicators_for(audit_code)}:
        raise ValidationError(f"The audit {audit_code} has no indicator {indicator}.")
    if not Trust.objects.filter(code=organisation).exists():
        raise ValidationError(f"No trust {organisation}.")
    if case is not None and (case.audit_id, case.indicator, case.organisation) != (audit_code, indicator, organisation):
        raise ValidationError("The case is of another audit, indicator or trust.")
    _check(what=what, who=who, status=status)
    run = shown_runs().get(audit_code)
    release: Release | None = case.latest_release if case is not None else (run.release if run else None)
    period = case.period if case is not None else (_headline(run.pk, indicator) if run else None) or ""
    with transaction.atomic():
        action = ImprovementAction.objects.create(
            audit_id=audit_code,
            indicator=indicator,
            organisation=organisation,
            case=case,
            what=what.strip(),
            who=who.strip(),
            due=due,
            status=status,
            evidence=evidence.strip(),
            release=release,
            period=period,
            created_by=actor.account,
            created_by_name=actor.display_name,
        )
        actor.log(
            AuditLogEntry.Action.PLAN_ADDED,
            audit_code=audit_code,
            target=f"improvement action {action.pk}",
            details={
                "trust": organisation,
                "indicator": indicator,
                "case": case.pk if case else None,
                **{name: _plain(getattr(action, name)) for name in EDITABLE},
            },
        )
    return action


def update_action(action: ImprovementAction, actor: Actor, **changes: Any) -> ImprovementAction:
    """Change the action's what, who, due date, status or evidence; the audit log keeps each change (old, new)."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"An action's {', '.join(sorted(unknown))} cannot be changed.")
    _require(actor, action.audit_id, action.organisation)
    with transaction.atomic():
        action = ImprovementAction.objects.select_for_update().get(pk=action.pk)
        changed = {
            name: [_plain(getattr(action, name)), _plain(value)]
            for name, value in changes.items()
            if getattr(action, name) != value
        }
        if not changed:
            return action
        for name, value in changes.items():
            setattr(action, name, value.strip() if isinstance(value, str) else value)
        _check(what=action.what, who=action.who, status=action.status)
        action.updated_at = timezone.now()
        action.save(update_fields=[*changes, "updated_at"])
        actor.log(
            AuditLogEntry.Action.PLAN_UPDATED,
            audit_code=action.audit_id,
            target=f"improvement action {action.pk}",
            details={"trust": action.organisation, "indicator": action.indicator, "changed": changed},
        )
    return action


def _check(*, what: str, who: str, status: str) -> None:
    if not what.strip() or not who.strip():
        raise ValidationError("Say what the action is and who does it.")
    if status not in Status.values:
        raise ValidationError(f"The status is one of: {', '.join(Status.values)}.")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def actions_for(user, trusts: dict[str, str], audits: list[str]) -> list[ImprovementAction]:
    """The actions of these trusts ({code: alliance}) in these audits that ``user`` may see, in order."""
    found = ImprovementAction.objects.filter(organisation__in=list(trusts), audit_id__in=audits).select_related(
        "release", "case"
    )
    return [a for a in found if may_plan(user, a.audit_id, a.organisation, trusts[a.organisation])]


# ---- before and after ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """The trust's result for the indicator at one release, as the reader may see it (None figures: not shown)."""

    release: Release
    period: str
    value: float | None
    ci_lower: float | None
    ci_upper: float | None
    flag: str | None
    suppressed: bool


def before_after(action: ImprovementAction, user) -> tuple[Reading | None, Reading | None]:
    """The indicator at the release the action was recorded and at the latest published release (None when the
    audit has none, or the trust no result there; the same release twice until a newer one is published).

    The latest release's period is the action's when it has one, else its headline (an all-years period grows
    with each audit year)."""
    exact = roles.sees_unsuppressed(user, action.audit_id, action.organisation)
    before = _reading(action, action.release, action.period, exact) if action.release else None
    run = shown_runs().get(action.audit_id)
    after = None
    if run is not None:
        periods = set(
            IndicatorResult.objects.filter(
                run=run, indicator=action.indicator, level=PROVIDER, organisation=action.organisation
            ).values_list("period", flat=True)
        )
        period = action.period if action.period in periods else _headline(run.pk, action.indicator)
        after = _reading(action, run.release, period or "", exact, run_id=run.pk)
    return before, after


def _reading(
    action: ImprovementAction, release: Release, period: str, exact: bool, run_id: int | None = None
) -> Reading | None:
    rows = IndicatorResult.objects.filter(
        indicator=action.indicator, level=PROVIDER, organisation=action.organisation, period=period
    )
    rows = rows.filter(run_id=run_id) if run_id else rows.filter(run__release=release, run__is_current=True)
    row = rows.values("level", "organisation", "value", "ci_lower", "ci_upper", "flag", "suppressed", "public").first()
    if row is None:
        return None
    (published,) = publish_results([dict(row)], unsuppressed=exact)
    return Reading(
        release=release,
        period=period,
        value=published["value"],
        ci_lower=published["ci_lower"],
        ci_upper=published["ci_upper"],
        flag=published["flag"],
        suppressed=bool(published["suppressed"]) and published["value"] is None,
    )
