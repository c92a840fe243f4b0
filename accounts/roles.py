"""Who may see and do what: one set of rules for pages, downloads and the API.

The roles (the README's table lists what each may see and do):

- **public**: anyone, signed in or not, with no other role below.
- **clinician**: any signed-in account (accounts are created by staff).
- **alliance lead**: a clinician who leads one Cancer Alliance (``accounts.AllianceLead``).
- **trust lead**: a clinician who is a trust's clinical lead for an audit (``accounts.TrustLead``);
  a clinician may also be linked to a trust (``accounts.TrustMember``).
- **audit analyst**: a member of the group ``analysts:<audit>``, for that audit only.
- **staff**: ``is_staff``; runs the service.

Two rules protect patients and are decided here only:

- patient-level rows reach that audit's analysts only (``can_see_patient_rows``), and a trust's clinical
  lead for the audit its own trust's rows (``audits.services.read_patient_rows`` with ``organisation``;
  the outlier process's pages offer them behind a case);
- small-number suppression applies to everyone but that audit's analysts, in every output
  (``sees_unsuppressed``), except to a trust's own team for that trust's own rows (its lead for the
  audit and the clinicians staff linked to it: ``own_trusts``). Staff are not exempt: they manage
  releases of every audit (upload, withdraw, recompute, import jobs) but see published figures, like the public,
  unless they are also in the audit's analyst group. Membership of that group is a role
  change, and role changes are written to the audit log.

Each function takes the user (anonymous or not) and answers from at most one query per
request for groups and trust roles together and one for the alliance, cached on the user object.

Services enforce these rules themselves (``accounts.services.Actor.require``), whatever door called
them, and write the audit log; views, API views and commands only translate. The command line is
trusted: whoever runs it holds the server's database credentials.
"""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings

_NO_ALLIANCE = ""


def analyst_group_name(audit_code: str) -> str:
    """The group whose members are the audit's analysts (created by ``audits.services.sync_audit``)."""
    return f"analysts:{audit_code}"


_GROUP_PREFIX = analyst_group_name("")


class Role(StrEnum):
    PUBLIC = "public"
    CLINICIAN = "clinician"
    ALLIANCE_LEAD = "alliance_lead"
    ANALYST = "analyst"
    STAFF = "staff"


def _signed_in(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and bool(getattr(user, "is_active", False))


def analyst_audits(user) -> frozenset[str]:
    """Codes of the audits whose analyst group the user is in (staff are not in them unless added)."""
    if not _signed_in(user):
        return frozenset()
    return _memberships(user)[0]


def is_analyst_of(user, audit_code: str) -> bool:
    """A member of the audit's analyst group (``analysts:<audit>``)."""
    return audit_code in analyst_audits(user)


def is_staff(user) -> bool:
    return _signed_in(user) and bool(user.is_staff)


def alliance_of_lead(user) -> str | None:
    """The code of the Cancer Alliance the user leads, or None."""
    if not _signed_in(user):
        return None
    cached = getattr(user, "_alliance_lead_code", None)
    if cached is None:
        from accounts.models import AllianceLead  # models load with the apps; the settings' middleware reads roles

        cached = AllianceLead.objects.filter(user=user).values_list("alliance_id", flat=True).first() or _NO_ALLIANCE
        user._alliance_lead_code = cached
    return cached or None


_Memberships = tuple[frozenset[str], frozenset[tuple[str, str]], frozenset[str]]


def _memberships(user) -> _Memberships:
    """The audits whose analyst group the user is in, the (trust, audit) pairs the user leads and the trusts the
    user is linked to as a member: one query for all three (cached on the user)."""
    cached = getattr(user, "_memberships", None)
    if cached is None:
        from django.db.models import CharField, Value

        from accounts.models import TrustLead, TrustMember  # models load with the apps

        def tagged(queryset, kind: str, *names: str):
            blank = Value("", output_field=CharField())
            return (
                queryset.order_by()
                .annotate(kind=Value(kind, output_field=CharField()), blank=blank)
                .values_list("kind", *names, *(["blank"] if len(names) == 1 else []))
            )

        rows = list(
            tagged(user.groups.filter(name__startswith=_GROUP_PREFIX), "group", "name").union(
                tagged(TrustLead.objects.filter(user=user), "lead", "trust_id", "audit_id"),
                tagged(TrustMember.objects.filter(user=user), "member", "trust_id"),
                all=True,
            )
        )
        cached = user._memberships = (
            frozenset(name[len(_GROUP_PREFIX) :] for kind, name, _ in rows if kind == "group"),
            frozenset((trust, audit) for kind, trust, audit in rows if kind == "lead"),
            frozenset(trust for kind, trust, _ in rows if kind == "member"),
        )
    return cached


def _trust_roles(user) -> tuple[frozenset[tuple[str, str]], frozenset[str]]:
    """(trust, audit) pairs the user leads, and the trusts the user is linked to as a member."""
    _, led, members = _memberships(user)
    return led, members


def trusts_led(user, audit_code: str) -> frozenset[str]:
    """Codes of the trusts whose clinical lead for the audit the user is."""
    if not _signed_in(user):
        return frozenset()
    return frozenset(trust for trust, audit in _trust_roles(user)[0] if audit == audit_code)


def is_trust_lead(user, trust_code: str, audit_code: str) -> bool:
    """The trust's clinical lead for the audit (``accounts.TrustLead``)."""
    return trust_code in trusts_led(user, audit_code)


def trusts_of(user) -> frozenset[str]:
    """Codes of the trusts the user belongs to: as a member (``accounts.TrustMember``) or a lead of any audit."""
    if not _signed_in(user):
        return frozenset()
    led, members = _trust_roles(user)
    return members | {trust for trust, _ in led}


def role_of(user, audit_code: str | None = None) -> Role:
    """The user's highest role; with ``audit_code``, "analyst" only for that audit's analysts."""
    if not _signed_in(user):
        return Role.PUBLIC
    if user.is_staff:
        return Role.STAFF
    if is_analyst_of(user, audit_code) if audit_code else bool(analyst_audits(user)):
        return Role.ANALYST
    if alliance_of_lead(user):
        return Role.ALLIANCE_LEAD
    return Role.CLINICIAN


def can_see_patient_rows(user, audit_code: str) -> bool:
    """Patient-level rows of a release: that audit's analysts only."""
    return is_analyst_of(user, audit_code)


def trust_teams_see_own_figures() -> bool:
    """``settings.TRUST_TEAMS_SEE_OWN_FIGURES`` (on by default): whether a trust's team sees its own exact figures."""
    return bool(settings.TRUST_TEAMS_SEE_OWN_FIGURES)


def own_trusts(user, audit_code: str) -> frozenset[str]:
    """The trusts whose own figures of the audit the user sees exactly: those the user leads for that audit
    (``accounts.TrustLead``) and those staff linked the user to (``accounts.TrustMember``).

    None when ``settings.TRUST_TEAMS_SEE_OWN_FIGURES`` is off. Safe when on (the default) because secondary
    suppression allows for a trust's knowledge of its own counts (``indicators.disclosure._totals``; docs/adr/0004,
    "Trust teams"; tests/api/test_disclosure_attacks.py attacks it)."""
    if not _signed_in(user) or not trust_teams_see_own_figures():
        return frozenset()
    return _trust_roles(user)[1] | trusts_led(user, audit_code)


def sees_unsuppressed(user, audit_code: str, organisation: str | None = None) -> bool:
    """Exact small counts: the audit's analysts for every row; a trust's team (its lead for the audit, its
    linked members: :func:`own_trusts`) for the rows of that trust only, when ``organisation`` names it.
    Everyone else, and a trust's team for every other row, sees suppressed, rounded counts.

    ``organisation`` is a trust's code, passed for a row at trust level only: a trust's team never gets an
    alliance's or England's figures, or another trust's, beyond what the public sees. Its own exact counts
    beside the alliance's exact ones would give the other trusts' sum back, and a neighbour's hidden count
    with it (docs/adr/0004-disclosure-control-against-differencing.md, "Trust teams").
    """
    if is_analyst_of(user, audit_code):
        return True
    return organisation is not None and organisation in own_trusts(user, audit_code)


def can_see_values_in_error_reports(user, audit_code: str) -> bool:
    """The values of an import's error report come from the file's rows: the audit's analysts only.
    Everyone else who follows the import (staff) reads line, column and message."""
    return can_see_patient_rows(user, audit_code)


def can_manage_releases(user, audit_code: str) -> bool:
    """Release pages, import jobs and their reports: the audit's analysts and staff."""
    return is_staff(user) or is_analyst_of(user, audit_code)


def can_upload(user, audit_code: str) -> bool:
    return can_manage_releases(user, audit_code)


def can_withdraw(user, audit_code: str) -> bool:
    return can_manage_releases(user, audit_code)


def can_recompute(user, audit_code: str) -> bool:
    return can_manage_releases(user, audit_code)


def quality_by_trust_scope(user, audit_code: str) -> str | None:
    """Which trusts' rows of a release's data-quality report the user may see.

    ``"all"`` for the audit's analysts (exact counts), an alliance code for an alliance lead
    (that alliance's trusts, counts suppressed), and None for everyone else, staff included (the
    report's national summary by column is public). ``audits.selectors.quality_by_trust`` applies it.
    """
    if is_analyst_of(user, audit_code):
        return "all"
    return alliance_of_lead(user)


def can_use_funnel_tool(user) -> bool:
    """The funnel tool (an analyst's own table): analysts of any audit, and staff."""
    return is_staff(user) or bool(analyst_audits(user))


def has_outlier_role(user) -> bool:
    """A part in the outlier process (its case list): the analysts of any audit, staff, a trust's lead for an
    audit, an alliance's lead. Which cases each sees is ``outliers.access.visible_cases``."""
    if not _signed_in(user):
        return False
    return is_staff(user) or bool(analyst_audits(user)) or bool(alliance_of_lead(user)) or bool(_trust_roles(user)[0])


def navigation(user) -> dict[str, bool]:
    """Which of the site's links in the navigation this user may open (only those are offered)."""
    return {"funnel_tool": can_use_funnel_tool(user), "outlier_cases": has_outlier_role(user)}


def can_hold_tokens(user) -> bool:
    """Personal API tokens: any signed-in account."""
    return _signed_in(user)
