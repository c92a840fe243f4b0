"""The outlier process's pages (issue 13): who sees which cases and figures, the outcomes each may record, a
walk of the alarm chain through the pages to the published response on the public trust page, and the
trust's patient rows behind a case (its lead and the audit's analysts only)."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AllianceLead, AuditLogEntry, TrustLead, TrustMember
from accounts.services import Actor
from audits.models import Trust
from audits.schema import parse_definition
from audits.selectors import release_rows, row_columns
from audits.services import read_patient_rows, withdraw_release
from outliers import services
from outliers.models import OutlierCase, TrustContact
from outliers.responses import publish_response
from tests.auth import Client

pytestmark = pytest.mark.django_db
CLI = Actor.command_line(name="tests")


@pytest.fixture
def people(computed, settings, tmp_path):
    """An alarm case and the people around it: the audit's analyst, staff, the trust's lead, another trust's
    lead (of a trust in another alliance), a clinician linked to the trust, the alliance's lead, a clinician
    with no role."""
    settings.MEDIA_ROOT = tmp_path / "media"
    case = OutlierCase.objects.filter(track="alarm_worse").order_by("pk").first()
    trust = Trust.objects.get(code=case.organisation)
    other_case = (
        OutlierCase.objects.exclude(organisation=trust.code)
        .exclude(organisation__in=Trust.objects.filter(alliance=trust.alliance).values("code"))
        .order_by("pk")
        .first()
    )
    other = Trust.objects.get(code=other_case.organisation)
    analyst = User.objects.create_user("page-analyst", email="analyst@audit.example")
    analyst.groups.add(Group.objects.get(name="analysts:bowel"))
    lead = User.objects.create_user("page-lead", email="lead@trust.example")
    TrustLead.objects.create(user=lead, trust=trust, audit_id="bowel")
    other_lead = User.objects.create_user("page-other-lead", email="other@trust.example")
    TrustLead.objects.create(user=other_lead, trust=other, audit_id="bowel")
    member = User.objects.create_user("page-member")
    TrustMember.objects.create(user=member, trust=trust)
    alliance_lead = User.objects.create_user("page-alliance")
    AllianceLead.objects.create(user=alliance_lead, alliance=trust.alliance)
    return {
        "case": case,
        "other_case": other_case,
        "trust": trust,
        "analyst": analyst,
        "staff": User.objects.create_user("page-staff", is_staff=True),
        "lead": lead,
        "other_lead": other_lead,
        "member": member,
        "alliance_lead": alliance_lead,
        "clinician": User.objects.create_user("page-clinician"),
    }


def as_(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def listed(user) -> set[int]:
    response = as_(user).get("/outliers/?show=all&download=csv")
    assert response.status_code == 200
    return {int(row["id"]) for row in csv.DictReader(io.StringIO(response.content.decode()))}


def test_the_case_list_shows_each_role_its_own_cases(people):
    case, trust = people["case"], people["trust"]
    every = set(OutlierCase.objects.values_list("pk", flat=True))
    alliance_trusts = set(Trust.objects.filter(alliance=trust.alliance).values_list("code", flat=True))
    assert listed(people["analyst"]) == every == listed(people["staff"])
    assert listed(people["lead"]) == set(
        OutlierCase.objects.filter(organisation=trust.code).values_list("pk", flat=True)
    )
    assert case.pk in listed(people["lead"]) and case.pk not in listed(people["other_lead"])
    assert listed(people["alliance_lead"]) == set(
        OutlierCase.objects.filter(organisation__in=alliance_trusts).values_list("pk", flat=True)
    )
    assert people["other_case"].pk not in listed(people["alliance_lead"])
    response = as_(None).get("/outliers/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    for nobody in ("member", "clinician"):
        assert as_(people[nobody]).get("/outliers/").status_code == 403

    page = as_(people["lead"]).get("/outliers/").content.decode()
    for column in ("Indicator", "Trust", "Period", "Flag", "Direction", "Track", "Stage", "Due", "Status"):
        assert f'<th scope="col">{column}</th>' in page
    assert f"/outliers/{case.pk}/" in page and f"/outliers/{people['other_case'].pk}/" not in page


def test_overdue_is_said_in_words(people):
    case = people["case"]
    OutlierCase.objects.filter(pk=case.pk).update(stage_due="2020-01-06")
    page = as_(people["analyst"]).get("/outliers/").content.decode()
    assert "Overdue: was due 6 January 2020" in page


def test_the_navigation_offers_the_cases_to_those_who_have_some(people):
    for role, offered in [
        ("analyst", True),
        ("staff", True),
        ("lead", True),
        ("alliance_lead", True),
        ("member", False),
        ("clinician", False),
    ]:
        page = as_(people[role]).get("/").content.decode()
        assert ('href="/outliers/"' in page) == offered, role
    assert 'href="/outliers/"' not in as_(None).get("/").content.decode()


def test_the_case_page_by_role(people):
    case = people["case"]
    url = f"/outliers/{case.pk}/"
    snapshot = case.result
    exact = f"<dt>Counts</dt><dd>{snapshot['numerator']} "  # "6 of 18 patients" or "6 observed, ... of 18 patients"
    for role in ("analyst", "lead"):
        page = as_(people[role]).get(url).content.decode()
        assert "Exact figures" in page, role
        assert exact in page and f"of {snapshot['denominator']} patients</dd>" in page, role
        assert f"Patient rows of this trust (release {case.opened_release.version})" in page, role
    alliance = as_(people["alliance_lead"]).get(url).content.decode()
    assert "As published" in alliance and "Patient rows" not in alliance
    if snapshot["numerator"] % 5 or snapshot["numerator"] <= 7:  # suppressed or rounded for everyone else
        assert exact not in alliance
    assert "Record the outcome" not in alliance  # the alliance lead owns no stage of this track
    analyst = as_(people["analyst"]).get(url).content.decode()
    assert 'value="share_with_trust"' in analyst and 'value="close"' in analyst
    assert "Publish this response" not in analyst  # offered at the publication stage, or once closed
    lead = as_(people["lead"]).get(url).content.decode()
    assert "Record the outcome" not in lead  # the data check is the audit team's
    for nobody in ("other_lead", "member", "clinician"):
        assert as_(people[nobody]).get(url).status_code == 403, nobody
    assert as_(None).get(url).status_code == 302
    assert as_(people["analyst"]).get("/outliers/999999/").status_code == 404


def test_an_alliance_lead_reads_who_was_emailed_by_name_and_role_never_by_address(people, settings):
    settings.OUTLIER_REGULATOR_EMAIL = "outliers@regulator.example"
    case, trust = people["case"], people["trust"]
    contacts = [
        TrustContact.objects.create(trust=trust, role=role, name=f"Contact {n}", email=f"contact-{n}@trust.example")
        for n, role in enumerate(TrustContact.Role.values)
    ]
    for outcome in ("share_with_trust", "accepted", "confirmed"):  # to the confirmation: every contact is told
        services.advance(case, outcome, CLI)
    sent = {address for to in case.events.values_list("email__to", flat=True) if to for address in to}
    assert {c.email for c in contacts} | {"lead@trust.example", "analyst@audit.example"} <= sent
    page_url, api_url = f"/outliers/{case.pk}/", f"/api/v1/outliers/{case.pk}/"
    client = as_(people["alliance_lead"])  # sees the case, does not send the letters
    page, api = client.get(page_url), client.get(api_url)
    assert page.status_code == api.status_code == 200
    for text in (page.content.decode(), api.content.decode()):
        assert not [address for address in sent if address in text]
    shown = {name for event in api.json()["history"] for name in event["email_to"]}
    assert {f"{c.name} ({c.get_role_display().lower()})" for c in contacts} <= shown
    assert {"page-lead (the trust's clinical lead)", "The regulator"} <= shown
    assert "Contact 1 (chief executive)" in page.content.decode()
    for role in ("analyst", "staff", "lead"):  # the audit team and the trust's own lead send the letters
        client = as_(people[role])
        page, api = client.get(page_url).content.decode(), client.get(api_url).content.decode()
        for text in (page, api):
            assert all(c.email in text for c in contacts), role


def test_a_wrong_role_posting_an_outcome_gets_403_and_changes_nothing(people):
    case = people["case"]
    url = f"/outliers/{case.pk}/outcome/"
    for role in ("lead", "alliance_lead"):  # may see the case, may not act at the data check
        assert as_(people[role]).post(url, {"outcome": "share_with_trust"}).status_code == 403, role
    for role in ("other_lead", "member", "clinician"):
        assert as_(people[role]).post(url, {"outcome": "share_with_trust"}).status_code == 403, role
    assert as_(people["analyst"]).get(url).status_code == 405
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(people["analyst"])
    assert csrf.post(url, {"outcome": "share_with_trust"}).status_code == 403
    case.refresh_from_db()
    assert case.stage == "data_check" and [e.action for e in case.events.all()] == ["opened"]
    # An outcome the stage does not take is said, not a server error.
    response = as_(people["analyst"]).post(url, {"outcome": "published"}, follow=True)
    assert response.status_code == 200 and "takes one of" in response.content.decode()


def step(user, case, outcome, note="", attachment=None):
    data = {"outcome": outcome, "note": note}
    if attachment is not None:
        data["attachment"] = attachment
    response = as_(user).post(f"/outliers/{case.pk}/outcome/", data)
    assert response.status_code == 302 and response["Location"] == f"/outliers/{case.pk}/"
    case.refresh_from_db()
    return case


def reviewed(trust) -> str:
    return as_(None).get(f"/trusts/{trust.code}/").content.decode()


def test_the_alarm_chain_walked_through_the_pages_ends_with_the_published_response(
    people, django_capture_on_commit_callbacks
):
    case, p, trust = people["case"], people, people["trust"]
    with django_capture_on_commit_callbacks(execute=True):
        case = step(p["analyst"], case, "share_with_trust", "Our data checked: the flag stands.")
        assert case.stage == "trust_review"
        assert 'value="explanation"' in as_(p["lead"]).get(f"/outliers/{case.pk}/").content.decode()
        answer = "Two surgeons joined mid-year; the case mix was unusual. We have reviewed every death."
        upload = SimpleUploadedFile("response.pdf", b"%PDF-1.4 the trust's response", "application/pdf")
        case = step(p["lead"], case, "explanation", answer, upload)
        assert case.stage == "decision"
        case = step(p["analyst"], case, "confirmed", "Confirmed after review.")
        case = step(p["analyst"], case, "confirmed_in_writing")
        case = step(p["lead"], case, "acknowledged", "The chief executive acknowledged on 3 March.")
        assert case.stage == "publication"

    page = as_(p["analyst"]).get(f"/outliers/{case.pk}/").content.decode()
    assert answer in page  # the trust's answer, offered as the response to publish
    event = case.events.get(outcome="explanation")
    assert f"/outliers/{case.pk}/files/{event.pk}/" in page and "response.pdf" in page
    download = as_(p["lead"]).get(f"/outliers/{case.pk}/files/{event.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4 the trust's response"
    assert download["Content-Type"] == "application/octet-stream"
    for role in ("alliance_lead", "other_lead"):
        assert as_(p[role]).get(f"/outliers/{case.pk}/files/{event.pk}/").status_code == 403, role
    assert "response.pdf" in as_(p["alliance_lead"]).get(f"/outliers/{case.pk}/").content.decode()

    # Only the audit team publishes the response; it shows to the public only once the case is closed.
    assert as_(p["lead"]).post(f"/outliers/{case.pk}/response/", {"response": "ours"}).status_code == 403
    published = "The trust reviewed every death with the audit; the case mix explains part of the difference."
    response = as_(p["analyst"]).post(f"/outliers/{case.pk}/response/", {"response": published})
    assert response.status_code == 302
    assert "This result was reviewed with the trust" not in reviewed(trust)
    case = step(p["analyst"], case, "published")
    assert (case.status, case.outcome) == ("closed", "published")

    public = reviewed(trust)
    assert "this result was reviewed with the trust" in public and published in public
    assert answer not in public  # the trust's own note stays in the case
    history = as_(p["analyst"]).get(f"/outliers/{case.pk}/").content.decode()
    for what in ("Opened", "Moved to the next stage", "The trust&#x27;s response published", "Closed"):
        assert what in history, what
    assert "page-lead" in history and "page-analyst" in history and "lead@trust.example" in history
    assert AuditLogEntry.objects.filter(target=f"outlier case {case.pk}", action="case_advanced").count() == 7


def test_nothing_of_an_unpublished_or_void_case_shows_to_the_public(people):
    case, trust = people["case"], people["trust"]
    publish_response(case, "A response not yet published: the case is open.", CLI)
    assert "not yet published" not in reviewed(trust)
    other = OutlierCase.objects.filter(organisation=trust.code).exclude(pk=case.pk).first() or case
    services.advance(other, services.CLOSE, CLI)
    publish_response(other, "Closed, then its release withdrawn.", CLI)
    assert "Closed, then its release withdrawn." in reviewed(trust)
    withdraw_release(release=case.opened_release, actor=CLI, reason="wrong extract")
    assert "Closed, then its release withdrawn." not in reviewed(trust)


# ---------------------------------------------------------------- the trust's patient rows behind a case


def trust_rows(case) -> int:
    definition = parse_definition(case.opened_release.definition)
    rows = release_rows(case.opened_release, after_line=0, limit=10**6)
    return sum(1 for row in rows if row[definition.provider] == case.organisation)


def test_the_trusts_lead_reads_its_own_patient_rows_only(people):
    case, trust = people["case"], people["trust"]
    provider = parse_definition(case.opened_release.definition).provider
    url = f"/outliers/{case.pk}/patient-rows/"
    response = as_(people["lead"]).get(url + "?download=csv")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows and {row[provider] for row in rows} == {trust.code}
    assert len(rows) == trust_rows(case)
    assert list(rows[0]) == [name for name, _ in row_columns(case.opened_release)]
    page = as_(people["lead"]).get(url + f"?organisation={people['other_case'].organisation}")
    assert (
        page.status_code == 200
        and people["other_case"].organisation not in page.content.decode().split("<tbody>")[1].split("</tbody>")[0]
    )
    log = AuditLogEntry.objects.filter(action="read_rows", actor=people["lead"])
    assert log.exists() and {entry.details["organisation"] for entry in log} == {trust.code}
    assert as_(people["analyst"]).get(url).status_code == 200


def test_nobody_else_reaches_a_trusts_patient_rows(people):
    case, other_case = people["case"], people["other_case"]
    url = f"/outliers/{case.pk}/patient-rows/"
    before = AuditLogEntry.objects.filter(action="read_rows").count()
    for role in ("other_lead", "alliance_lead", "member", "clinician", "staff"):
        for suffix in ("", "?download=csv", f"?organisation={people['trust'].code}"):
            assert as_(people[role]).get(url + suffix).status_code == 403, (role, suffix)
    assert as_(None).get(url).status_code == 302
    # Another trust's lead reaches its own case's rows, never this one's by changing the case in the URL.
    assert as_(people["other_lead"]).get(f"/outliers/{other_case.pk}/patient-rows/").status_code == 200
    assert as_(people["lead"]).get(f"/outliers/{other_case.pk}/patient-rows/").status_code == 403
    assert AuditLogEntry.objects.filter(action="read_rows").count() == before + 1  # the refused read nothing
    # The service itself refuses a trust's lead another trust's rows, and every lead the whole release.
    lead = Actor(via="web", user=people["lead"])
    with pytest.raises(PermissionDenied):
        read_patient_rows(
            release=case.opened_release, actor=lead, after_line=0, limit=5, organisation=other_case.organisation
        )
    with pytest.raises(PermissionDenied):
        read_patient_rows(release=case.opened_release, actor=lead, after_line=0, limit=5)


def test_a_draft_releases_case_shows_its_figures_only_to_those_who_see_them_exactly(people):
    """The trust's data check runs on the draft: the alliance's lead follows the case but reads no figure of a
    release the public cannot see yet, suppressed or not (the API's case_result says the same)."""
    from audits.models import Release

    case = people["case"]
    Release.objects.filter(pk=case.opened_release_id).update(status=Release.Status.DRAFT)  # rolled back after
    alliance = as_(people["alliance_lead"]).get(f"/outliers/{case.pk}/").content.decode()
    assert "As published" not in alliance and "<dt>Counts</dt>" not in alliance
    assert "not published yet" in alliance
    lead = as_(people["lead"]).get(f"/outliers/{case.pk}/").content.decode()
    assert "Exact figures" in lead
