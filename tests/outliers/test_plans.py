"""Improvement plans (issue 13, item 5): who keeps a trust's plan, the audit log of every change, the plan on the
trust and alliance pages, and the indicator before and after across two releases."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.models import AllianceLead, AuditLogEntry, TrustLead, TrustMember
from accounts.services import Actor
from audits.models import Release, Trust
from audits.registry import get_definition
from audits.services import sync_audit
from indicators.models import ComputationRun, IndicatorResult, RunIndicator
from outliers import plans
from outliers.models import ImprovementAction, OutlierCase

pytestmark = pytest.mark.django_db

AUDIT = "bowel"


@pytest.fixture
def people(computed):
    """A flagged trust (an open case's) and the people around it."""
    case = OutlierCase.objects.filter(direction="worse").order_by("pk").first()
    trust = Trust.objects.get(code=case.organisation)
    other = Trust.objects.exclude(alliance=trust.alliance).order_by("code").first()
    neighbour = Trust.objects.filter(alliance=trust.alliance).exclude(code=trust.code).order_by("code").first()

    def user(name: str, **extra) -> User:
        return User.objects.create_user(name, password="pw-for-plan-tests-only", **extra)  # noqa: S106

    analyst = user("plan-analyst")
    analyst.groups.add(Group.objects.get(name=f"analysts:{AUDIT}"))
    lead = user("plan-lead")
    TrustLead.objects.create(user=lead, trust=trust, audit_id=AUDIT)
    sync_audit(get_definition("lung"))
    lung_lead = user("plan-lung-lead")
    TrustLead.objects.create(user=lung_lead, trust=trust, audit_id="lung")
    other_lead = user("plan-other-lead")
    TrustLead.objects.create(user=other_lead, trust=other, audit_id=AUDIT)
    member = user("plan-member")
    TrustMember.objects.create(user=member, trust=trust)
    alliance_lead = user("plan-alliance")
    AllianceLead.objects.create(user=alliance_lead, alliance=trust.alliance)
    other_alliance_lead = user("plan-other-alliance")
    AllianceLead.objects.create(user=other_alliance_lead, alliance=other.alliance)
    staff = user("plan-staff", is_staff=True)
    actors = {
        name: Actor(via="web", user=u)
        for name, u in {
            "analyst": analyst,
            "lead": lead,
            "lung_lead": lung_lead,
            "other_lead": other_lead,
            "member": member,
            "alliance_lead": alliance_lead,
            "other_alliance_lead": other_alliance_lead,
            "staff": staff,
            "anonymous": AnonymousUser(),
        }.items()
    }
    return {"case": case, "trust": trust, "neighbour": neighbour, "other": other, **actors}


def add(actor: Actor, of: OutlierCase, **extra) -> ImprovementAction:
    return plans.add_action(
        actor,
        audit_code=of.audit_id,
        indicator=of.indicator,
        organisation=extra.pop("organisation", of.organisation),
        what="Weekly review of every emergency admission by the MDT",
        who="Lead colorectal surgeon",
        due=date(2027, 3, 31),
        **extra,
    )


def test_the_trusts_lead_its_alliances_lead_the_audits_analysts_and_staff_keep_the_plan_and_no_one_else(people):
    case = people["case"]
    for name in ("lead", "alliance_lead", "analyst", "staff"):
        action = add(people[name], case, case=case)
        assert (action.created_by, action.status, action.release, action.period) == (
            people[name].user,
            "planned",
            case.latest_release,
            case.period,
        )
        plans.update_action(action, people[name], status="in_progress")
    for name in ("lung_lead", "other_lead", "member", "other_alliance_lead", "anonymous"):
        with pytest.raises(PermissionDenied):
            add(people[name], case)
        with pytest.raises(PermissionDenied):
            plans.update_action(action, people[name], status="done")
    # The neighbour's plan: its alliance's lead and the analysts, not this trust's lead.
    neighbour = people["neighbour"].code
    add(people["alliance_lead"], case, organisation=neighbour)
    with pytest.raises(PermissionDenied):
        add(people["lead"], case, organisation=neighbour)
    # Staff keep any trust's plan, outside the lead's alliance too.
    add(people["staff"], case, organisation=people["other"].code)
    # The command line is trusted.
    add(Actor.command_line(name="tests"), case)


def test_staffs_changes_are_in_the_audit_log_under_their_name(people):
    case, staff = people["case"], people["staff"]
    action = add(staff, case)
    plans.update_action(action, staff, status="done")
    entries = list(AuditLogEntry.objects.filter(target=f"improvement action {action.pk}").order_by("at", "pk"))
    assert [(e.action, e.actor, e.actor_name) for e in entries] == [
        ("plan_added", staff.user, "plan-staff"),
        ("plan_updated", staff.user, "plan-staff"),
    ]
    assert (action.created_by, action.created_by_name) == (staff.user, staff.user.get_username())


def test_every_change_is_in_the_audit_log_with_old_and_new(people):
    case, lead = people["case"], people["lead"]
    action = add(lead, case)
    plans.update_action(action, lead, status="done", evidence="Audit of 40 admissions, March 2027")
    plans.update_action(action, lead, status="done")  # nothing changes: nothing logged
    entries = list(AuditLogEntry.objects.filter(target=f"improvement action {action.pk}").order_by("at", "pk"))
    assert [e.action for e in entries] == ["plan_added", "plan_updated"]
    assert entries[0].actor == lead.user and entries[0].details["what"].startswith("Weekly review")
    assert entries[1].details["changed"] == {
        "status": ["planned", "done"],
        "evidence": ["", "Audit of 40 admissions, March 2027"],
    }
    with pytest.raises(ValidationError):
        plans.update_action(action, lead, status="finished")
    with pytest.raises(ValidationError):
        plans.update_action(action, lead, organisation="RXX")
    with pytest.raises(ValidationError):
        add(lead, case, status="nearly")
    with pytest.raises(ValidationError):
        plans.add_action(lead, audit_code=AUDIT, indicator="nosuch", organisation=case.organisation, what="x", who="y")


def newer_release(computed, trust: str, indicator: str, value: float) -> ComputationRun:
    """Version 2 of the release, published, with the same results except the trust's value for the indicator (and
    no flag): as a newer extract after the trust's change would be computed."""
    release, run = computed["releases"][AUDIT], computed["runs"][AUDIT]
    newer = Release.objects.get(pk=release.pk)
    newer.pk, newer.version, newer.sha256 = None, release.version + 1, "e" * 64
    newer.save()
    copy = ComputationRun.objects.get(pk=run.pk)
    copy.pk, copy.release = None, newer
    copy.save()
    for entry in RunIndicator.objects.filter(run=run):
        entry.pk, entry.run = None, copy
        entry.save()
    results = list(IndicatorResult.objects.filter(run=run))
    for r in results:
        r.pk, r.run, r.release = None, copy, newer
        if (r.indicator, r.organisation) == (indicator, trust):
            r.value, r.ci_lower, r.ci_upper, r.flag = value, value - 0.05, value + 0.05, "none"
    IndicatorResult.objects.bulk_create(results)
    return copy


def test_the_plan_shows_the_indicator_before_and_after_the_next_release(computed, people, settings):
    settings.TRUST_TEAMS_SEE_OWN_FIGURES = True  # the lead reads its own trust's figures exactly
    case, lead = people["case"], people["lead"]
    action = add(lead, case, case=case)
    exact = IndicatorResult.objects.get(
        run=computed["runs"][AUDIT],
        indicator=case.indicator,
        level="provider",
        organisation=case.organisation,
        period=case.period,
    )
    before, after = plans.before_after(action, lead.user)
    assert before == after  # no newer release yet
    assert (before.release.version, before.value, before.flag) == (1, exact.value, exact.flag)
    assert before.flag != "none"

    newer_release(computed, case.organisation, case.indicator, value=0.123)
    before, after = plans.before_after(action, lead.user)
    assert (before.release.version, before.value, before.ci_lower, before.flag) == (
        1,
        exact.value,
        exact.ci_lower,
        exact.flag,
    )
    assert (after.release.version, after.period, after.value, after.flag) == (2, case.period, 0.123, "none")
    # The alliance's lead reads them as the public does: the trust's figures as published.
    seen_by_alliance, _ = plans.before_after(action, people["alliance_lead"].user)
    assert seen_by_alliance.value == (exact.public or {}).get("value")


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_the_trust_and_alliance_pages_show_the_plan_to_those_who_keep_it_with_before_and_after(
    client, computed, people, settings
):
    settings.TRUST_TEAMS_SEE_OWN_FIGURES = True  # the lead reads its own trust's figures exactly
    case, trust = people["case"], people["trust"]
    trust_url, alliance_url = reverse("trust", args=[trust.code]), reverse("alliance", args=[trust.alliance_id])
    client.force_login(people["lead"].user)
    assert "Improvement plan" in text_of(client.get(trust_url))
    response = client.post(
        reverse("trust-plan", args=[trust.code]),
        {
            "indicator": f"{AUDIT}:{case.indicator}",
            "what": "Daily consultant review of new admissions",
            "who": "Clinical director",
            "due": "2027-06-30",
            "status": "planned",
        },
    )
    assert response.status_code == 302 and response["Location"] == trust_url + "#plan"
    action = ImprovementAction.objects.get()
    assert (action.organisation, action.indicator, action.who, action.due) == (
        trust.code,
        case.indicator,
        "Clinical director",
        date(2027, 6, 30),
    )
    page = text_of(client.get(trust_url))
    assert "Daily consultant review of new admissions" in page and "No newer release yet" in page
    client.post(
        reverse("trust-plan", args=[trust.code]),
        {"action": action.pk, "status": "in_progress", "evidence": "Rota agreed", "back": "alliance"},
    )
    action.refresh_from_db()
    assert (action.status, action.evidence) == ("in_progress", "Rota agreed")

    newer_release(computed, case.organisation, case.indicator, value=0.111)
    client.force_login(people["alliance_lead"].user)
    page = text_of(client.get(alliance_url))
    assert "Improvement plan" in page and "Daily consultant review of new admissions" in page
    row = page.split(f'data-action="{action.pk}"')[1].split("</tr>")[0]
    assert "release 1" in row and "release 2" in row and "No newer release yet" not in row, row
    client.force_login(people["lead"].user)  # the trust's lead reads its own figures exactly: the new value
    row = text_of(client.get(trust_url)).split(f'data-action="{action.pk}"')[1].split("</tr>")[0]
    assert "release 2" in row and "11.1%" in row, row

    for name in ("member", "other_lead"):
        client.force_login(people[name].user)
        assert "Improvement plan" not in text_of(client.get(trust_url))
        refused = client.post(reverse("trust-plan", args=[trust.code]), {"action": action.pk, "status": "done"})
        assert refused.status_code == 403
    client.force_login(people["staff"].user)  # staff keep every trust's plan, through the same page
    assert "Daily consultant review of new admissions" in text_of(client.get(trust_url))
    kept = client.post(reverse("trust-plan", args=[trust.code]), {"action": action.pk, "status": "done"})
    assert kept.status_code == 302
    action.refresh_from_db()
    assert action.status == "done"
    assert AuditLogEntry.objects.filter(
        action="plan_updated", target=f"improvement action {action.pk}", actor=people["staff"].user
    ).exists()
    client.logout()
    assert "Improvement plan" not in text_of(client.get(trust_url))
    assert client.post(reverse("trust-plan", args=[trust.code]), {"action": action.pk}).status_code in (302, 403)
    action.refresh_from_db()
    assert action.status == "done"
