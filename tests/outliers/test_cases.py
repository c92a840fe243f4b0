"""Cases open from a computed release, walk their stages by the right roles only, with deadlines in working
days, reminders then escalations when overdue, and a history that is never changed (issue 13)."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import CommandError

from accounts import roles
from accounts.models import AllianceLead, AuditLogEntry, TrustLead, TrustMember
from accounts.services import Actor
from audits.models import Release, Trust
from audits.services import withdraw_release
from indicators.models import ComputationRun, IndicatorResult, RunIndicator
from indicators.stats.flags import flag_meaning
from outliers import services
from outliers.models import CaseEvent, OutlierCase, TrustContact
from tests.conftest import run_command

pytestmark = pytest.mark.django_db
AUDIT_YEAR = re.compile(r"^\d{4}/\d{2}$")
CLI = Actor.command_line(name="tests")


def expected_flags(run) -> set[tuple[str, str, str, str, str]]:
    """Worked out here from the results, not by the service: each trust's flagged result in the latest whole
    audit year of its indicator (bowel's policy: alarms and alerts, worse and better)."""
    directions = {ri.indicator: ri.definition["direction"] for ri in RunIndicator.objects.filter(run=run)}
    rows = list(IndicatorResult.objects.filter(run=run, level="provider"))
    latest = {}
    for r in rows:
        if AUDIT_YEAR.match(r.period) and not r.partial:
            latest[r.indicator] = max(latest.get(r.indicator, ""), r.period)
    found = set()
    for r in rows:
        if r.period == latest.get(r.indicator) and r.flag != "none" and directions[r.indicator] != "no_judgement":
            level = "alarm" if r.flag.startswith("alarm") else "alert"
            found.add((r.indicator, r.organisation, r.period, level, flag_meaning(r.flag, directions[r.indicator])))
    return found


def case_keys() -> list[tuple[str, str, str, str, str]]:
    return [
        (c.indicator, c.organisation, c.period, c.level, c.direction)
        for c in OutlierCase.objects.filter(audit_id="bowel")
    ]


def test_every_flag_in_the_reporting_period_has_exactly_one_case(computed):
    run = computed["runs"]["bowel"]
    expected = expected_flags(run)
    keys = case_keys()
    assert any(level == "alarm" and direction == "worse" for *_, level, direction in expected)  # planted: a real test
    assert Counter(keys) == Counter(expected)  # one case each, and none for an unflagged result
    unflagged = IndicatorResult.objects.filter(run=run, level="provider", flag="none")
    assert not {(r.indicator, r.organisation, r.period) for r in unflagged} & {k[:3] for k in keys}
    for case in OutlierCase.objects.all():
        assert case.opened_release == case.latest_release == computed["releases"]["bowel"]
        assert case.status == "open" and case.stage == services.case_stage(case).name
        assert [e.action for e in case.events.all()] == ["opened"]
    alarm = OutlierCase.objects.filter(level="alarm", direction="worse").first()
    assert alarm.track == "alarm_worse" and alarm.stage == "data_check"
    assert "alert_worse" in {c.track for c in OutlierCase.objects.filter(level="alert", direction="worse")}
    assert AuditLogEntry.objects.filter(action="case_opened").count() == len(keys)


def test_recomputing_the_same_release_opens_no_case_again(computed, django_capture_on_commit_callbacks, settings):
    from indicators.services import start_run

    settings.AFTER_RUN_TASKS = ["outliers.tasks.open_cases"]
    before = (sorted(case_keys()), CaseEvent.objects.count())
    assert services.open_cases(computed["runs"]["bowel"]) == {"opened": 0, "persisting": 0, "cleared": 0}
    with django_capture_on_commit_callbacks(execute=True):
        run = start_run(release=computed["releases"]["bowel"])
    run.refresh_from_db()
    assert run.is_current and run.pk != computed["runs"]["bowel"].pk
    assert (sorted(case_keys()), CaseEvent.objects.count()) == before


@pytest.fixture
def people(computed, settings, tmp_path):
    """An alarm case and the people around it: the audit's analyst, staff, the trust's lead, another trust's
    lead, a clinician of the trust, the alliance's lead; the trust's contacts; the regulator's address."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.OUTLIER_REGULATOR_EMAIL = "outliers@regulator.example"
    case = OutlierCase.objects.filter(track="alarm_worse").order_by("pk").first()
    trust = Trust.objects.get(code=case.organisation)
    other = Trust.objects.exclude(code=trust.code).first()
    analyst = User.objects.create_user("case-analyst", email="analyst@audit.example")
    analyst.groups.add(Group.objects.get(name="analysts:bowel"))
    lead = User.objects.create_user("case-lead", email="lead@trust.example")
    TrustLead.objects.create(user=lead, trust=trust, audit_id="bowel")
    other_lead = User.objects.create_user("other-lead", email="other@trust.example")
    TrustLead.objects.create(user=other_lead, trust=other, audit_id="bowel")
    clinician = User.objects.create_user("case-clinician", email="clinician@trust.example")
    TrustMember.objects.create(user=clinician, trust=trust)
    alliance_lead = User.objects.create_user("case-alliance", email="alliance@nhs.example")
    AllianceLead.objects.create(user=alliance_lead, alliance=trust.alliance)
    TrustContact.objects.create(trust=trust, role="chief_executive", name="CEO", email="ceo@trust.example")
    TrustContact.objects.create(trust=trust, role="medical_director", name="MD", email="md@trust.example")
    staff = User.objects.create_user("case-staff", is_staff=True)
    return {
        "case": case,
        "trust": trust,
        "analyst": Actor(via="web", user=analyst),
        "staff": Actor(via="api", user=staff),
        "lead": Actor(via="web", user=lead),
        "other_lead": Actor(via="web", user=other_lead),
        "clinician": Actor(via="web", user=clinician),
        "alliance_lead": Actor(via="web", user=alliance_lead),
    }


def refused(case, outcome, *actors) -> None:
    for actor in actors:
        with pytest.raises(PermissionDenied):
            services.advance(case, outcome, actor)
    case.refresh_from_db()


def test_the_roles(people):
    lead, clinician, trust = people["lead"].user, people["clinician"].user, people["trust"]
    assert roles.trusts_led(lead, "bowel") == {trust.code} and roles.trusts_led(lead, "lung") == frozenset()
    assert roles.is_trust_lead(lead, trust.code, "bowel") and not roles.is_trust_lead(clinician, trust.code, "bowel")
    assert roles.trusts_of(clinician) == {trust.code} == roles.trusts_of(lead)
    assert roles.trusts_of(None) == frozenset()
    assert trust.country == Trust.Country.ENGLAND


def test_an_alarm_walks_every_stage_by_the_right_roles_only(people, django_capture_on_commit_callbacks):
    case, p = people["case"], people
    wrong = {
        "audit_team": (p["lead"], p["other_lead"], p["clinician"], p["alliance_lead"]),
        "trust_lead": (p["analyst"], p["staff"], p["other_lead"], p["clinician"], p["alliance_lead"]),
        "chief_executive": (p["other_lead"], p["clinician"], p["alliance_lead"]),
    }
    walk = [
        ("data_check", "share_with_trust", p["analyst"], "trust_review"),
        ("trust_review", "explanation", p["lead"], "decision"),
        ("decision", "confirmed", p["staff"], "confirmation"),
        ("confirmation", "confirmed_in_writing", p["analyst"], "acknowledgement"),
        ("acknowledgement", "acknowledged", p["lead"], "publication"),
        ("publication", "published", p["analyst"], None),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        for stage, outcome, actor, following in walk:
            assert case.stage == stage
            owner = services.case_stage(case).owner
            refused(case, outcome, *wrong[owner])
            with pytest.raises(services.CaseError, match="takes one of"):
                services.advance(case, "no_such_outcome", actor)
            attachment = (
                SimpleUploadedFile("response.pdf", b"%PDF-1.4 the trust's response")
                if stage == "trust_review"
                else None
            )
            case = services.advance(case, outcome, actor, note=f"{stage} done", attachment=attachment)
            if following:
                assert (case.stage, case.status) == (following, "open")
            else:
                assert (case.status, case.outcome, case.stage_due) == ("closed", "published", None)
    with pytest.raises(services.CaseError, match="closed"):
        services.advance(case, "published", p["analyst"])

    events = list(case.events.all())
    assert [e.action for e in events] == ["opened"] + ["advanced"] * 5 + ["closed"]
    assert [(e.from_stage, e.outcome, e.actor_name) for e in events[1:]] == [
        (stage, outcome, actor.display_name) for stage, outcome, actor, _ in walk
    ]
    assert events[2].attachment.read() == b"%PDF-1.4 the trust's response"
    confirmation = events[3].email  # entering "confirmation": the trust's leaders and the regulator are told
    assert confirmation["to"] == sorted(
        ["lead@trust.example", "ceo@trust.example", "md@trust.example", "outliers@regulator.example"]
    )
    assert f"case {case.pk}" in confirmation["subject"] and p["trust"].name in confirmation["body"]
    sent = [m for m in mail.outbox if f"case {case.pk}" in m.subject]
    assert [sorted(m.to) for m in sent] == [e.email["to"] for e in events if e.email.get("to")]
    log = AuditLogEntry.objects.filter(action="case_advanced", target=f"outlier case {case.pk}")
    assert log.count() == len(walk)


def test_the_chief_executives_acknowledgement_is_recorded_by_the_audit_team_or_the_trust_lead(people):
    case = people["case"]
    for outcome in ("share_with_trust",):
        case = services.advance(case, outcome, people["analyst"])
    for outcome in ("accepted", "confirmed", "confirmed_in_writing"):
        case = services.advance(case, outcome, CLI)  # the command line is trusted
    assert case.stage == "acknowledgement"
    refused(case, "acknowledged", people["clinician"], people["other_lead"])
    case = services.advance(case, "acknowledged", people["analyst"])
    assert case.stage == "publication"


def test_the_better_track_and_closing_by_the_audit_team(people):
    better = OutlierCase.objects.filter(track="better").first()
    lead = User.objects.create_user("better-lead")
    TrustLead.objects.create(user=lead, trust_id=better.organisation, audit_id="bowel")
    better = services.advance(better, "invited", people["analyst"])
    assert better.stage == "share_practice"
    refused(better, "shared", people["analyst"])
    better = services.advance(better, "shared", Actor(via="web", user=lead))
    assert (better.status, better.outcome) == ("closed", "practice_shared")
    case = people["case"]
    refused(case, services.CLOSE, people["lead"])
    case = services.advance(case, services.CLOSE, people["staff"], note="flag cleared in the next release")
    assert (case.status, case.outcome) == ("closed", "closed_by_audit_team")


def test_deadlines_skip_bank_holidays(people, monkeypatch):
    """Expected dates from gov.uk's bank holidays of England and Wales, worked out by hand."""
    case = people["case"]

    def on(day):
        monkeypatch.setattr(services.timezone, "localdate", lambda: day)

    on(date(2026, 4, 2))  # Thursday before Easter: 25 working days skip Good Friday (3 Apr), Easter Monday (6 Apr)
    case = services.advance(case, "share_with_trust", people["analyst"])  # ... and the early May bank holiday (4 May)
    assert (case.stage, case.stage_started, case.stage_due) == ("trust_review", date(2026, 4, 2), date(2026, 5, 12))
    on(date(2026, 12, 24))  # Christmas Eve: 30 working days skip 25 and 28 Dec 2026 (Boxing Day's substitute) and 1 Jan
    case = services.advance(case, "accepted", people["lead"])
    assert (case.stage, case.stage_due) == ("decision", date(2027, 2, 9))
    on(date(2026, 12, 24))  # 5 working days: 29, 30, 31 Dec, 4, 5 Jan
    case = services.advance(case, "confirmed", people["analyst"])
    assert (case.stage, case.stage_due) == ("confirmation", date(2027, 1, 5))


def test_an_overdue_stage_sends_one_reminder_then_one_escalation(
    people, monkeypatch, django_capture_on_commit_callbacks
):
    case = people["case"]
    monkeypatch.setattr(services.timezone, "localdate", lambda: date(2026, 12, 10))
    case = services.advance(case, "share_with_trust", people["analyst"])
    # 25 working days from Thu 10 Dec 2026: 11, 14-18, 21-24, 29-31 Dec (25 and 28 Dec are bank holidays),
    # 4-8 (1 Jan is one), 11-15, 18, 19 Jan 2027 -> Tue 19 Jan.
    assert (case.stage, case.stage_due) == ("trust_review", date(2027, 1, 19))

    def overdue(day):
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            events = [e for e in services.check_overdue(day) if e.case_id == case.pk]
        return events, [m for m in mail.outbox if f"case {case.pk} " in m.subject]

    assert overdue(date(2027, 1, 19)) == ([], [])  # due today: not late yet
    events, sent = overdue(date(2027, 1, 20))  # the next working day: a reminder to the trust's lead
    assert [e.action for e in events] == ["reminder"] and [m.to for m in sent] == [["lead@trust.example"]]
    assert sent[0].subject.startswith("Reminder:") and "1 working day late" in sent[0].body
    assert overdue(date(2027, 1, 21)) == ([], [])  # each step once
    assert overdue(date(2027, 1, 25)) == ([], [])  # 4 working days late
    events, sent = overdue(date(2027, 1, 26))  # 5 working days late: escalated to the medical director and the team
    assert [e.action for e in events] == ["escalation"]
    assert sent[0].to == ["analyst@audit.example", "md@trust.example"] and sent[0].subject.startswith("Escalation:")
    assert overdue(date(2027, 2, 1)) == ([], [])
    assert [e.action for e in case.events.all()] == ["opened", "advanced", "reminder", "escalation"]
    # The command does the same (nothing is left to send for this case).
    code, out, _ = run_command("outlier_reminders", date="2027-02-01")
    assert code == 0 and f"case {case.pk}:" not in out


def test_history_is_immutable(people):
    case = services.advance(people["case"], "share_with_trust", people["analyst"])
    event = case.events.last()
    event.note = "rewritten"
    with pytest.raises(PermissionDenied):
        event.save()
    with pytest.raises(PermissionDenied):
        event.delete()
    with pytest.raises(PermissionDenied):
        CaseEvent.objects.filter(case=case).update(note="rewritten")
    with pytest.raises(PermissionDenied):
        CaseEvent.objects.filter(case=case).delete()
    assert CaseEvent.objects.get(pk=event.pk).note == ""


def test_a_withdrawn_release_voids_its_cases(computed):
    release = computed["releases"]["bowel"]
    open_before = OutlierCase.objects.filter(opened_release=release, status="open").count()
    assert open_before
    withdraw_release(release=release, actor=CLI, reason="wrong extract")
    assert not OutlierCase.objects.filter(opened_release=release).exclude(status="void").exists()
    voided = CaseEvent.objects.filter(action="voided")
    assert voided.count() == open_before and {e.note for e in voided} == {"wrong extract"}


def next_release(release: Release, run: ComputationRun, clear: tuple[str, str]) -> ComputationRun:
    """A copy of the release as version 2 with the same results, except that ``clear`` (indicator, trust) is
    no longer flagged: as a newer extract would be computed."""
    newer = Release.objects.get(pk=release.pk)
    newer.pk, newer.version, newer.sha256 = None, release.version + 1, "f" * 64
    newer.save()
    copy = ComputationRun.objects.get(pk=run.pk)
    copy.pk, copy.release = None, newer
    copy.save()
    for ri in RunIndicator.objects.filter(run=run):
        ri.pk, ri.run = None, copy
        ri.save()
    results = list(IndicatorResult.objects.filter(run=run))
    for r in results:
        r.pk, r.run, r.release = None, copy, newer
        if (r.indicator, r.organisation) == clear:
            r.flag = "none"
    IndicatorResult.objects.bulk_create(results)
    return copy


def test_a_newer_release_carries_open_cases_forward(computed):
    release, run = computed["releases"]["bowel"], computed["runs"]["bowel"]
    cases = list(OutlierCase.objects.filter(opened_release=release))
    cleared = cases[0]
    newer = next_release(release, run, (cleared.indicator, cleared.organisation))
    counts = services.open_cases(newer)
    assert counts == {"opened": 0, "persisting": len(cases) - 1, "cleared": 1}
    assert services.open_cases(newer) == {"opened": 0, "persisting": 0, "cleared": 0}  # a recompute: nothing again
    cleared.refresh_from_db()
    assert (cleared.flag_persists, cleared.status, cleared.latest_release) == (False, "open", newer.release)
    assert [e.action for e in cleared.events.all()] == ["opened", "flag_cleared"]
    persisting = OutlierCase.objects.exclude(pk=cleared.pk)
    assert {(c.flag_persists, c.latest_release_id) for c in persisting} == {(True, newer.release_id)}
    assert OutlierCase.objects.count() == len(cases)  # carried forward, not opened again


def draft_copy(computed, track: str) -> ComputationRun:
    """The bowel release again as a draft (version 2) whose policy follows ``track``, with the same results, after
    the open cases of version 1 are voided (so that the copy opens its own rather than carrying them forward)."""
    release, run = computed["releases"]["bowel"], computed["runs"]["bowel"]
    OutlierCase.objects.filter(opened_release=release).update(status="void")
    copy = next_release(release, run, ("", ""))
    draft = copy.release
    policy = {**release.definition["outlier_policy"], "track": track}
    policy["extends"] = "hqip_formal" if track == "formal" else "supportive_contact"
    draft.definition = {**release.definition, "outlier_policy": policy}
    draft.status, draft.published_at, draft.published_by, draft.published_by_name = "draft", None, None, ""
    draft.save()
    return ComputationRun.objects.select_related("release").get(pk=copy.pk)


def test_a_supportive_contact_audits_cases_open_at_publication_only(
    computed, django_capture_on_commit_callbacks, settings
):
    from audits.services import publish_release
    from outliers import tasks

    assert "outliers.tasks.open_published_cases" in django_settings.AFTER_PUBLISH_TASKS  # the default
    settings.AFTER_PUBLISH_TASKS = ["outliers.tasks.open_published_cases"]
    run = draft_copy(computed, "supportive")
    draft = run.release
    expected = {(i, o, p) for i, o, p, *_ in expected_flags(run)}
    assert expected  # planted: a real test
    # The draft's run is done: no case, by the service or by the task that follows a run.
    assert services.open_cases(run) == {"opened": 0, "persisting": 0, "cleared": 0}
    assert tasks.open_cases.delay(run.pk).get()["opened"] == 0
    assert not OutlierCase.objects.filter(opened_release=draft).exists()
    # Publishing it opens them, each once, on the supportive track.
    with django_capture_on_commit_callbacks(execute=True):
        publish_release(draft, CLI)
    opened = OutlierCase.objects.filter(opened_release=draft)
    assert {(c.indicator, c.organisation, c.period) for c in opened} == expected
    assert len(opened) == len(expected) and {c.track for c in opened} == {"contact"}
    events = CaseEvent.objects.count()
    # Publishing's task again, the task that follows the published release's run (as a recompute's): nothing twice.
    assert tasks.open_published_cases.delay(draft.pk).get() == {"opened": 0, "persisting": 0, "cleared": 0}
    assert tasks.open_cases.delay(run.pk).get() == {"opened": 0, "persisting": 0, "cleared": 0}
    assert (opened.count(), CaseEvent.objects.count()) == (len(expected), events)


def test_a_supportive_contact_draft_published_before_its_run_ends_opens_its_cases_when_it_ends(
    computed, django_capture_on_commit_callbacks, settings
):
    from audits.services import publish_release
    from outliers import tasks

    settings.AFTER_PUBLISH_TASKS = ["outliers.tasks.open_published_cases"]
    run = draft_copy(computed, "supportive")
    ComputationRun.objects.filter(pk=run.pk).update(is_current=False, status="running")
    with django_capture_on_commit_callbacks(execute=True):
        publish_release(run.release, CLI)
    assert not OutlierCase.objects.filter(opened_release=run.release).exists()  # no results yet
    ComputationRun.objects.filter(pk=run.pk).update(is_current=True, status="done")
    assert tasks.open_cases.delay(run.pk).get()["opened"] == len(expected_flags(run)) > 0


def test_a_formal_audits_cases_still_open_on_the_draft_and_publication_adds_none(
    computed, django_capture_on_commit_callbacks, settings
):
    from audits.services import publish_release

    settings.AFTER_PUBLISH_TASKS = ["outliers.tasks.open_published_cases"]
    run = draft_copy(computed, "formal")
    counts = services.open_cases(run)
    opened = OutlierCase.objects.filter(opened_release=run.release)
    assert counts["opened"] == len(expected_flags(run)) == opened.count() > 0
    with django_capture_on_commit_callbacks(execute=True):
        publish_release(run.release, CLI)
    assert services.open_published_cases(run.release) == {"opened": 0, "persisting": 0, "cleared": 0}
    assert opened.count() == counts["opened"]


def test_outlier_cases_command(computed):
    code, out, _ = run_command("outlier_cases", audit="bowel", json=True)
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == OutlierCase.objects.count()
    assert {tuple(row) for row in rows} == {
        (
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
    }
    case = OutlierCase.objects.get(pk=rows[0]["id"])
    assert rows[0]["release"] == 1 and rows[0]["flag"] == case.level and rows[0]["stage_due"] == str(case.stage_due)
    code, out, _ = run_command("outlier_cases", audit="bowel")
    assert code == 0 and out.splitlines()[0].split("\t")[0] == "id" and len(out.splitlines()) == len(rows) + 1
    with pytest.raises(CommandError, match="No audit 'nosuch'"):
        run_command("outlier_cases", audit="nosuch")


def test_the_open_cases_task_follows_every_run_by_default():
    assert "outliers.tasks.open_cases" in django_settings.AFTER_RUN_TASKS
    assert django_settings.CELERY_BEAT_SCHEDULE["outlier-reminders"]["task"] == "outliers.check_overdue"
