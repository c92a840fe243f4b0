"""Who sees which cases, what they may answer, and which figures of a case's result they see.

The roles are ``accounts.roles``'; this module only applies them to cases, for every door (API, pages):

- the audit team (the audit's analysts, and staff) sees all of the audit's cases;
- a trust's lead (``accounts.TrustLead``) sees the cases of the trusts and audits they lead;
- an alliance lead sees the cases of the alliance's trusts;
- everyone else sees none (``may_see_cases`` is False: the API answers 403, or 401 when not signed in).

A case's result snapshot holds exact, unsuppressed counts: it goes to those who may see them for that trust
(the audit's analysts and the trust's lead). Everyone else who sees the case gets the published figures of
that result (rounded, or hidden by small-number suppression; ``indicators.disclosure.publish_results``),
and nothing while the release that opened it is not public.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from accounts import roles
from audits.models import Audit, Release, Trust
from indicators import levels
from indicators.disclosure import publish_results
from indicators.models import IndicatorResult
from outliers.models import OutlierCase
from outliers.services.base import CLOSE, case_stage
from outliers.services.transitions import may_act


def _led(user) -> list[tuple[str, str]]:
    """(trust, audit) pairs the user is the clinical lead of."""
    return [
        (trust, audit)
        for audit in Audit.objects.values_list("code", flat=True)
        for trust in roles.trusts_led(user, audit)
    ]


def may_see_cases(user) -> bool:
    """Whether the user has a role that sees any outlier cases (audit team, trust lead or alliance lead)."""
    return (
        roles.is_staff(user)
        or bool(roles.analyst_audits(user))
        or bool(roles.alliance_of_lead(user))
        or bool(_led(user))
    )


def visible_cases(user) -> QuerySet[OutlierCase]:
    """The cases the user may see (none for a user without a role in the outlier process)."""
    cases = OutlierCase.objects.all()
    if roles.is_staff(user):
        return cases
    seen = Q(audit_id__in=roles.analyst_audits(user))
    for trust, audit in _led(user):
        seen |= Q(organisation=trust, audit_id=audit)
    alliance = roles.alliance_of_lead(user)
    if alliance:
        seen |= Q(organisation__in=Trust.objects.filter(alliance_id=alliance).values("code"))
    return cases.filter(seen) if seen else cases.none()


def sees_exact_figures(user, case: OutlierCase) -> bool:
    """The case's unsuppressed result: the audit's analysts and the trust's lead for the audit."""
    return roles.sees_unsuppressed(user, case.audit_id) or roles.is_trust_lead(user, case.organisation, case.audit_id)


def outcomes_for(user, case: OutlierCase) -> list[str]:
    """The outcomes of the case's current stage this user may record (``close`` for the audit team)."""
    if not case.is_open:
        return []
    stage = case_stage(case)
    allowed = [outcome for outcome, _ in stage.outcomes] if may_act(user, stage.owner, case) else []
    return allowed + ([CLOSE] if may_act(user, "audit_team", case) else [])


def case_result(user, case: OutlierCase) -> dict[str, Any] | None:
    """The flagged result as this user may see it: exact (``sees_exact_figures``), else as published (rounded
    counts and figures computed from them; none of them when small numbers hide the result), else None while
    the release that opened the case is not public."""
    if sees_exact_figures(user, case):
        return dict(case.result)
    if not Release.objects.accepted().filter(pk=case.opened_release_id).exists():
        return None
    stored = (
        IndicatorResult.objects.filter(
            run_id=case.result.get("run"),
            level=levels.PROVIDER,
            indicator=case.indicator,
            organisation=case.organisation,
            period=case.period,
        )
        .values("public", "suppressed")
        .first()
    )
    row = {**case.result, "level": levels.PROVIDER, **(stored or {"public": None, "suppressed": True})}
    return publish_results([row], unsuppressed=False)[0]
