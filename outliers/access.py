"""Who may see which outlier cases, and how much of them (one answer for the pages; the rules are those of
``accounts.roles``, applied to a case's audit and trust).

- The audit team (the audit's analysts, and staff) sees every case of the audit and acts for it.
- A trust's clinical lead for an audit (``accounts.TrustLead``) sees that trust's cases of that audit, with
  the exact figures behind them and the trust's own patient rows of the case's release.
- A Cancer Alliance's lead sees the cases of the alliance's trusts, with the published (suppressed) figures.
- Nobody else sees a case; the public sees only a published response on the trust's page
  (``published_responses``).
- Who a case's emails went to (its history): the addresses for those who send the letters, the audit team and
  the trust's lead (its own trust's); for anyone else (an alliance's lead) each recipient's name and role only
  (``email_recipients``, used by the case page, the API and its downloads).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts import roles
from accounts.models import TrustLead
from audits.models import Release, Trust
from indicators import levels
from indicators.disclosure import publish_results
from indicators.models import IndicatorResult
from outliers.models import OutlierCase
from outliers.services import CLOSE, case_stage, may_act, recipient_names

#: What a recipient whose address the reader may not see, and whom the case no longer knows, is shown as.
HIDDEN_RECIPIENT = "a recipient (address not shown)"


#: The fields a case is listed with, in order: ``python manage.py outlier_cases`` and the API's cases (which add
#: more). ``release`` is the version that opened the case, ``flag`` its level (alarm or alert).
CASE_FIELDS = (
    "id",
    "indicator",
    "organisation",
    "period",
    "release",
    "flag",
    "direction",
    "track",
    "stage",
    "stage_due",
    "status",
)


def visible_cases(user) -> QuerySet[OutlierCase]:
    """The cases ``user`` may see (none for the public and for clinicians without a role in the process)."""
    cases = OutlierCase.objects.all()
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return cases.none()
    if roles.is_staff(user):
        return cases
    led = TrustLead.objects.filter(user=user, trust_id=OuterRef("organisation"), audit_id=OuterRef("audit_id"))
    seen = Q(audit_id__in=roles.analyst_audits(user)) | Q(Exists(led))
    alliance = roles.alliance_of_lead(user)
    if alliance:
        seen |= Q(organisation__in=Trust.objects.filter(alliance_id=alliance).values("code"))
    return cases.filter(seen)


def may_see_cases(user) -> bool:
    """Whether the user has a role in the outlier process at all (the navigation offers the case list)."""
    return roles.has_outlier_role(user)


def is_audit_team(user, case: OutlierCase) -> bool:
    return roles.can_manage_releases(user, case.audit_id)


def is_trust_lead(user, case: OutlierCase) -> bool:
    return roles.is_trust_lead(user, case.organisation, case.audit_id)


def may_see(user, case: OutlierCase) -> bool:
    if is_audit_team(user, case) or is_trust_lead(user, case):
        return True
    alliance = roles.alliance_of_lead(user)
    return bool(alliance) and Trust.objects.filter(code=case.organisation, alliance_id=alliance).exists()


def sees_exact_figures(user, case: OutlierCase) -> bool:
    """The result behind the case unsuppressed: the audit's analysts and the trust's lead (its own trust)."""
    return roles.sees_unsuppressed(user, case.audit_id) or is_trust_lead(user, case)


def may_read_trust_rows(user, case: OutlierCase) -> bool:
    """The trust's patient rows of the case's release: the audit's analysts and the trust's lead."""
    return roles.can_see_patient_rows(user, case.audit_id) or is_trust_lead(user, case)


def may_open_attachments(user, case: OutlierCase) -> bool:
    """The files kept in a case's history (e.g. the trust's response): the audit team and the trust's lead."""
    return is_audit_team(user, case) or is_trust_lead(user, case)


def sees_email_addresses(user, case: OutlierCase) -> bool:
    """The addresses a case's emails went to (trust contacts' among them): the audit team (the audit's analysts
    and staff: they send the letters) and the trust's lead (its own trust's). Anyone else reads names and roles."""
    return is_audit_team(user, case) or is_trust_lead(user, case)


def email_recipients(user, case: OutlierCase, addresses: Iterable[str]) -> list[str]:
    """Who an email of the case went to, as ``user`` may read it: the addresses (``sees_email_addresses``), else
    each recipient's name and role, never an address (data minimisation)."""
    if sees_email_addresses(user, case):
        return list(addresses)
    names = getattr(case, "_recipient_names", None)
    if names is None:  # once per case, however many events ask
        names = case._recipient_names = recipient_names(case)  # type: ignore[attr-defined]
    return [names.get(address.lower(), HIDDEN_RECIPIENT) for address in addresses]


def published_responses(trust_code: str, releases: list[Release]) -> QuerySet[OutlierCase]:
    """What the public sees of a trust's cases: closed cases whose response the audit team published, opened
    by a published release among ``releases`` (the releases the trust's page shows) or carried into one."""
    shown = [r.pk for r in releases if r.status == Release.Status.ACCEPTED]
    return (
        OutlierCase.objects.filter(
            organisation=trust_code,
            status=OutlierCase.Status.CLOSED,
            public_response_at__isnull=False,
            opened_release__status=Release.Status.ACCEPTED,
        )
        .exclude(public_response="")
        .filter(Q(opened_release_id__in=shown) | Q(latest_release_id__in=shown))
        .order_by("audit_id", "indicator", "period")
    )


def release_is_public(case: OutlierCase) -> bool:
    """Whether the release that opened the case is published: until then, its figures reach only those who
    see them exactly (a draft's figures are not public, suppressed or not)."""
    return Release.objects.accepted().filter(pk=case.opened_release_id).exists()


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
    if not release_is_public(case):
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
