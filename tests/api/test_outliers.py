"""/api/v1/outliers/: who sees which cases and figures, who may answer which stage, and an alarm walked
through every stage by the right roles over the API (issue 13, item 9).

The release is the outlier process's own (``computed`` in tests/conftest.py: a bowel release with planted
outliers, its cases opened by the run's after-run task).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AllianceLead, AuditLogEntry, TrustLead, TrustMember
from accounts.services import create_token
from audits.models import Trust
from indicators.models import IndicatorResult
from outliers import services
from outliers.models import OutlierCase
from tests.conftest import run_command

pytestmark = pytest.mark.django_db

ROLES = (
    "analyst",
    "other_analyst",
    "staff",
    "lead",
    "other_lead",
    "alliance_lead",
    "other_alliance_lead",
    "clinician",
    "public",
)
LIST_FIELDS = [
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
    "audit",
    "outcomes",
]
DETAIL_FIELDS = [
    *LIST_FIELDS,
    "outcome",
    "stage_started",
    "latest_release",
    "flag_persists",
    "created_at",
    "result",
    "history",
]
EVENT_FIELDS = [
    "id",
    "at",
    "action",
    "actor",
    "via",
    "from_stage",
    "to_stage",
    "outcome",
    "note",
    "release",
    "attachment",
    "email_to",
    "email_subject",
]


@dataclass
class Scene:
    case: OutlierCase
    trust: Trust
    other: Trust  # a trust of another alliance
    keys: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Token {self.keys[role]}"} if role in self.keys else {}


@pytest.fixture
def scene(computed, settings, tmp_path) -> Scene:
    """An alarm case of the computed release and one account (with an API token) per role around it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    case = OutlierCase.objects.filter(track="alarm_worse").order_by("pk").first()
    trust = Trust.objects.get(code=case.organisation)
    other = Trust.objects.exclude(alliance_id=trust.alliance_id).exclude(alliance_id=None).order_by("code").first()
    users = {
        "analyst": User.objects.create_user("api-analyst"),
        "other_analyst": User.objects.create_user("api-lung-analyst"),
        "staff": User.objects.create_user("api-staff", is_staff=True),
        "lead": User.objects.create_user("api-lead", email="lead@trust.example"),
        "other_lead": User.objects.create_user("api-other-lead"),
        "alliance_lead": User.objects.create_user("api-alliance"),
        "other_alliance_lead": User.objects.create_user("api-other-alliance"),
        "clinician": User.objects.create_user("api-clinician"),
    }
    users["analyst"].groups.add(Group.objects.get(name="analysts:bowel"))
    users["other_analyst"].groups.add(Group.objects.get_or_create(name="analysts:lung")[0])
    TrustLead.objects.create(user=users["lead"], trust=trust, audit_id="bowel")
    TrustLead.objects.create(user=users["other_lead"], trust=other, audit_id="bowel")
    AllianceLead.objects.create(user=users["alliance_lead"], alliance=trust.alliance)
    AllianceLead.objects.create(user=users["other_alliance_lead"], alliance=other.alliance)
    TrustMember.objects.create(user=users["clinician"], trust=trust)
    keys = {role: create_token(user=user, name="tests", via="cli")[1] for role, user in users.items()}
    return Scene(case=case, trust=trust, other=other, keys=keys)


def listed(client, scene: Scene, role: str, **query) -> tuple[int, list[dict]]:
    response = client.get(reverse("api:outlier-list"), {"page_size": 1000, **query}, **scene.auth(role))
    return response.status_code, (response.json()["results"] if response.status_code == 200 else [])


def transition(client, scene: Scene, role: str, case: OutlierCase, outcome: str, **extra):
    url = reverse("api:outlier-transition", args=[case.pk])
    data = {"outcome": outcome, **extra}
    if "attachment" in extra:
        return client.post(url, data, **scene.auth(role))  # multipart
    return client.post(url, data, content_type="application/json", **scene.auth(role))


def test_each_role_lists_the_cases_it_may_see(client, scene):
    bowel = set(OutlierCase.objects.filter(audit_id="bowel").values_list("pk", flat=True))
    alliance_trusts = set(Trust.objects.filter(alliance_id=scene.trust.alliance_id).values_list("code", flat=True))
    of_alliance = set(OutlierCase.objects.filter(organisation__in=alliance_trusts).values_list("pk", flat=True))
    other_alliance = set(
        OutlierCase.objects.filter(
            organisation__in=Trust.objects.filter(alliance_id=scene.other.alliance_id).values("code")
        ).values_list("pk", flat=True)
    )
    expected = {
        "analyst": (200, bowel),
        "other_analyst": (200, set()),
        "staff": (200, bowel),
        "lead": (200, set(OutlierCase.objects.filter(organisation=scene.trust.code).values_list("pk", flat=True))),
        "other_lead": (
            200,
            set(OutlierCase.objects.filter(organisation=scene.other.code).values_list("pk", flat=True)),
        ),
        "alliance_lead": (200, of_alliance),
        "other_alliance_lead": (200, other_alliance),
        "clinician": (403, set()),
        "public": (401, set()),
    }
    assert scene.case.pk in of_alliance and scene.case.pk not in other_alliance  # a real test
    for role in ROLES:
        code, rows = listed(client, scene, role)
        assert (code, {row["id"] for row in rows}) == expected[role], role


def test_the_fields_exactly_as_named(client, scene):
    case = scene.case
    _, rows = listed(client, scene, "analyst")
    assert {tuple(row) for row in rows} == {tuple(LIST_FIELDS)}
    row = next(r for r in rows if r["id"] == case.pk)
    assert row == {
        "id": case.pk,
        "indicator": case.indicator,
        "organisation": case.organisation,
        "period": case.period,
        "release": case.opened_release.version,
        "flag": case.level,
        "direction": case.direction,
        "track": case.track,
        "stage": case.stage,
        "stage_due": case.stage_due.isoformat(),
        "status": "open",
        "audit": "bowel",
        "outcomes": [outcome for outcome, _ in services.case_stage(case).outcomes] + ["close"],
    }
    detail = client.get(reverse("api:outlier-detail", args=[case.pk]), **scene.auth("analyst")).json()
    assert list(detail) == DETAIL_FIELDS
    assert {k: detail[k] for k in LIST_FIELDS} == row
    assert [list(event) for event in detail["history"]] == [EVENT_FIELDS]
    assert detail["history"][0]["action"] == "opened" and detail["history"][0]["release"] == 1
    # The list comes as CSV too, its columns the JSON fields in order.
    csv = client.get(reverse("api:outlier-list"), {"format": "csv"}, **scene.auth("analyst")).content.decode()
    assert csv.splitlines()[0] == ",".join(LIST_FIELDS)


def test_the_api_and_the_command_line_list_a_case_with_the_fields_named_once(client, scene):
    from outliers.access import CASE_FIELDS

    assert list(CASE_FIELDS) == LIST_FIELDS[: len(CASE_FIELDS)] and len(CASE_FIELDS) == 11
    _, out, _ = run_command("outlier_cases", audit="bowel", json=True)
    command = {row["id"]: row for row in json.loads(out)}
    _, rows = listed(client, scene, "analyst")
    assert rows and all(list(command[row["id"]]) == list(CASE_FIELDS) for row in rows)
    assert all({name: row[name] for name in CASE_FIELDS} == command[row["id"]] for row in rows)


def test_filters(client, scene):
    case = scene.case
    _, rows = listed(client, scene, "analyst", organisation=case.organisation.lower())
    assert rows and {r["organisation"] for r in rows} == {case.organisation}
    _, rows = listed(client, scene, "analyst", status="closed")
    assert rows == []
    _, rows = listed(client, scene, "analyst", status="open", audit="bowel")
    assert len(rows) == OutlierCase.objects.filter(audit_id="bowel", status="open").count()
    _, rows = listed(client, scene, "staff", audit="lung")
    assert rows == []
    code, _ = listed(client, scene, "analyst", status="nosuch")
    assert code == 400


def test_each_role_gets_the_detail_and_the_figures_it_may_see(client, scene):
    case = scene.case
    url = reverse("api:outlier-detail", args=[case.pk])
    expected = {
        "analyst": 200,
        "other_analyst": 404,
        "staff": 200,
        "lead": 200,
        "other_lead": 404,
        "alliance_lead": 200,
        "other_alliance_lead": 404,
        "clinician": 403,
        "public": 401,
    }
    results = {}
    for role in ROLES:
        response = client.get(url, **scene.auth(role))
        assert response.status_code == expected[role], role
        if response.status_code == 200:
            results[role] = response.json()["result"]
    # Exact counts: the audit's analysts and the trust's lead only.
    assert results["analyst"] == results["lead"] == case.result
    # Staff and the alliance's lead: the published figures (rounded to 5, or none when small numbers hide them).
    exact = case.result
    for role in ("staff", "alliance_lead"):
        published = results[role]
        assert published["flag"] in (exact["flag"], None)
        for name in ("numerator", "denominator"):
            if published[name] is not None:
                assert published[name] % 5 == 0
        if published["suppressed"]:
            assert published["numerator"] is None and published["value"] is None
    assert results["staff"] == results["alliance_lead"]


def test_a_shown_result_reaches_the_alliance_lead_rounded(client, scene):
    """A case whose result the public sees: its alliance's lead gets the published (rounded) counts, not the exact."""
    shown = [case for case in OutlierCase.objects.order_by("pk") if not case.result["suppressed"]]
    assert shown  # a real test
    case = shown[0]
    lead = User.objects.create_user("api-shown-alliance")
    AllianceLead.objects.create(user=lead, alliance=Trust.objects.get(code=case.organisation).alliance)
    key = create_token(user=lead, name="tests", via="cli")[1]
    url = reverse("api:outlier-detail", args=[case.pk])
    published = client.get(url, HTTP_AUTHORIZATION=f"Token {key}").json()["result"]
    stored = IndicatorResult.objects.get(
        run_id=case.result["run"],
        level="provider",
        indicator=case.indicator,
        organisation=case.organisation,
        period=case.period,
    )
    assert published["suppressed"] is False and published["flag"] == case.result["flag"]
    assert published["numerator"] == stored.public["numerator"] and published["numerator"] % 5 == 0
    assert published["denominator"] == stored.public["denominator"]
    assert published != case.result


def test_outcomes_are_what_the_caller_may_record(client, scene):
    case = scene.case
    url = reverse("api:outlier-detail", args=[case.pk])
    outcomes = {
        role: client.get(url, **scene.auth(role)).json()["outcomes"]
        for role in ("analyst", "staff", "lead", "alliance_lead")
    }
    assert outcomes["analyst"] == outcomes["staff"] and outcomes["analyst"][-1] == "close"
    assert outcomes["lead"] == outcomes["alliance_lead"] == []  # the data check is the audit team's


def test_each_role_may_transition_only_its_own_stage(client, scene):
    case = scene.case
    expected = {
        "other_analyst": 404,
        "lead": 403,
        "other_lead": 404,
        "alliance_lead": 403,
        "other_alliance_lead": 404,
        "clinician": 403,
        "public": 401,
    }
    for role, code in expected.items():
        assert transition(client, scene, role, case, "share_with_trust").status_code == code, role
    assert list(case.events.values_list("action", flat=True)) == ["opened"]
    assert transition(client, scene, "analyst", case, "no_such_outcome").status_code == 400
    response = transition(client, scene, "analyst", case, "share_with_trust", note="checked")
    assert response.status_code == 200 and response.json()["stage"] == "trust_review"
    # Now it is the trust's lead's: the audit team and the alliance lead may not answer for the trust.
    for role in ("analyst", "staff", "alliance_lead"):
        assert transition(client, scene, role, case, "explanation").status_code == 403, role


def test_an_alarm_walks_every_stage_through_the_api_by_the_right_roles(
    client, scene, django_capture_on_commit_callbacks
):
    case = scene.case
    walk = [
        ("data_check", "share_with_trust", "analyst", "trust_review"),
        ("trust_review", "explanation", "lead", "decision"),
        ("decision", "confirmed", "staff", "confirmation"),
        ("confirmation", "confirmed_in_writing", "analyst", "acknowledgement"),
        ("acknowledgement", "acknowledged", "lead", "publication"),
        ("publication", "published", "analyst", None),
    ]
    url = reverse("api:outlier-detail", args=[case.pk])
    with django_capture_on_commit_callbacks(execute=True):
        for stage, outcome, role, following in walk:
            before = client.get(url, **scene.auth(role)).json()
            assert before["stage"] == stage and outcome in before["outcomes"], (stage, role)
            extra = {"note": f"{stage} done"}
            if stage == "trust_review":
                extra["attachment"] = SimpleUploadedFile("response.pdf", b"%PDF-1.4 the trust's response")
            response = transition(client, scene, role, case, outcome, **extra)
            assert response.status_code == 200, (stage, response.content)
            after = response.json()
            if following:
                assert (after["stage"], after["status"]) == (following, "open")
            else:
                assert (after["status"], after["outcome"], after["stage_due"], after["outcomes"]) == (
                    "closed",
                    "published",
                    None,
                    [],
                )
    response = transition(client, scene, "analyst", case, "published")
    assert response.status_code == 409 and "closed" in response.json()["detail"]
    history = client.get(url, **scene.auth("alliance_lead")).json()["history"]
    assert [e["action"] for e in history] == ["opened"] + ["advanced"] * 5 + ["closed"]
    assert [(e["from_stage"], e["outcome"], e["via"], e["note"]) for e in history[1:]] == [
        (stage, outcome, "api", f"{stage} done") for stage, outcome, _, _ in walk
    ]
    assert [e["actor"] for e in history[1:]] == [f"api-{role}" for _, _, role, _ in walk]
    assert history[2]["attachment"] == "response.pdf"
    assert case.events.get(outcome="explanation").attachment.read() == b"%PDF-1.4 the trust's response"
    # Entering the trust's review, its lead is told: the alliance's lead reads whom by name and role, the audit
    # team (who sends the letters) by address.
    assert "api-lead (the trust's clinical lead)" in history[1]["email_to"]
    assert not any("@" in to for event in history for to in event["email_to"])
    by_analyst = client.get(url, **scene.auth("analyst")).json()["history"]
    assert "lead@trust.example" in by_analyst[1]["email_to"]
    log = AuditLogEntry.objects.filter(action="case_advanced", target=f"outlier case {case.pk}")
    assert log.count() == len(walk) and set(log.values_list("via", flat=True)) == {"api"}


def test_a_void_case_takes_no_transition(client, scene):
    from accounts.services import Actor
    from audits.services import withdraw_release

    withdraw_release(release=scene.case.opened_release, actor=Actor.command_line(name="tests"), reason="wrong")
    url = reverse("api:outlier-detail", args=[scene.case.pk])
    # A release no longer public publishes no figures; the analysts and the trust's lead keep the exact ones.
    assert client.get(url, **scene.auth("alliance_lead")).json()["result"] is None
    assert client.get(url, **scene.auth("lead")).json()["result"] == scene.case.result
    response = transition(client, scene, "analyst", scene.case, "share_with_trust")
    assert response.status_code == 409
    _, rows = listed(client, scene, "analyst", status="void")
    assert scene.case.pk in {r["id"] for r in rows}
