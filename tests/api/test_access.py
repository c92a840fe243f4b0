"""Access and disclosure (issue 9): one place decides and records, error reports, the audit log, navigation.

Written as an attacker would try them: each service is called directly with an account that may
not act (a door that forgot to check must not matter), the audit log is made to fail (an action
whose log entry was not written must not have happened), a member of staff reads the error
reports of a file full of patient values, and a clinician follows the site's own links.
"""

from __future__ import annotations

import importlib.util
import io
from datetime import date
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from accounts.models import AuditLogEntry
from audits.models import ImportJob, Release
from indicators.models import ComputationRun
from tests.api.conftest import PASSWORD, World
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db

HEADER = (FIXTURES / "bowel" / "valid.csv").read_text().splitlines()[0]
ROW = "{id},R0A,2024-05-01,70,M,colon,{stage},1,0,2,3,gp_referral,yes,true,{surgery},,N"
# Values that only a file's rows hold: none may reach anyone but the audit's analysts.
SECRET_ID, SECRET_STAGE, SECRET_DATE = "PSECRET4417", "QSECRET", "2011-11-11"
BAD_VALUES = "\n".join(
    [
        HEADER,
        ROW.format(id=SECRET_ID, stage="2", surgery="2024-06-01"),
        ROW.format(id=SECRET_ID, stage="2", surgery="2024-06-01"),  # repeated patient id
        ROW.format(id="P3", stage=SECRET_STAGE, surgery="2024-06-01"),  # a code not allowed
        ROW.format(id="P4", stage="2", surgery=SECRET_DATE),  # surgery before diagnosis
    ]
).encode()
SECRET_ROW = ROW.format(id="PROWSECRET9", stage="2", surgery="2024-06-01") + ",extra"
WRONG_FIELDS = "\n".join([HEADER, ROW.format(id="P1", stage="2", surgery="2024-06-01"), SECRET_ROW]).encode()


def _actor(world: World, role: str, via: str = "api"):
    from accounts.services import Actor

    return Actor(via=via, user=world.users[role], ip="192.0.2.66")


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


# ---------------------------------------------------------------- 1. services decide and record


@pytest.mark.parametrize("role", ["clinician", "lead", "other_analyst"])
def test_every_service_refuses_an_account_that_may_not_act_whatever_door_called_it(world, role, table_counts):
    from audits.services import create_import_job, import_extract, read_patient_rows, withdraw_release
    from indicators.services import recompute_release

    before = table_counts()
    for via in ("web", "api"):
        actor = _actor(world, role, via)
        with pytest.raises(PermissionDenied):
            create_import_job(
                audit_code="bowel",
                upload=_upload("valid.csv", (FIXTURES / "bowel" / "valid.csv").read_bytes()),
                extract_date=date(2025, 3, 31),
                actor=actor,
            )
        with pytest.raises(PermissionDenied):
            import_extract(
                audit_code="bowel",
                stream=io.BytesIO((FIXTURES / "bowel" / "valid.csv").read_bytes()),
                file_name="valid.csv",
                extract_date=date(2025, 3, 31),
                actor=actor,
            )
        with pytest.raises(PermissionDenied):
            withdraw_release(release=world.release, actor=actor, reason="because I can")
        with pytest.raises(PermissionDenied):
            recompute_release(release=world.release, actor=actor)
        with pytest.raises(PermissionDenied):
            read_patient_rows(release=world.release, actor=actor, after_line=0, limit=10)
    assert table_counts() == before


def test_staff_manage_releases_but_the_service_refuses_them_patient_rows(world):
    from audits.services import read_patient_rows

    with pytest.raises(PermissionDenied):
        read_patient_rows(release=world.release, actor=_actor(world, "staff"), after_line=0, limit=10)
    columns, rows = read_patient_rows(release=world.release, actor=_actor(world, "analyst"), after_line=0, limit=2)
    assert [row["line"] for row in rows] == [2, 3] and ("line", "integer") in columns


def test_an_action_whose_log_entry_cannot_be_written_does_not_happen(client, world, monkeypatch, settings):
    def refuse(self, *args, **kwargs):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(AuditLogEntry, "save", refuse)
    client.raise_request_exception = False
    withdraw = client.post(
        reverse("api:release-withdraw", args=[world.release.pk]), {"reason": "test"}, **world.auth("analyst")
    )
    assert withdraw.status_code == 500
    world.release.refresh_from_db()
    assert world.release.status == Release.Status.ACCEPTED
    runs = ComputationRun.objects.count()
    recompute = client.post(reverse("api:release-recompute", args=[world.release.pk]), **world.auth("staff"))
    assert recompute.status_code == 500 and ComputationRun.objects.count() == runs
    jobs = ImportJob.objects.count()
    stored = sorted(p.name for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())
    upload = client.post(
        reverse("api:import-list"),
        {"audit": "bowel", "extract_date": "2025-03-31", "file": _upload("valid.csv", b"patient_id\n")},
        **world.auth("analyst"),
    )
    assert upload.status_code == 500 and ImportJob.objects.count() == jobs
    assert sorted(p.name for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()) == stored  # no file left
    rows = client.get(reverse("api:release-rows", args=[world.release.pk]), **world.auth("analyst"))
    assert rows.status_code == 500


def test_the_second_copy_of_the_rules_is_gone():
    assert importlib.util.find_spec("audits.permissions") is None


def test_recomputing_from_the_command_line_is_logged_by_the_service(world):
    # The run's tasks are queued when the test's transaction commits, which it never does: the command
    # stops waiting at once. The request, and its log entry, were committed before it waits.
    with pytest.raises(CommandError, match="gave up waiting"):
        call_command("compute_indicators", audit="bowel", timeout=0, stdout=io.StringIO())
    entry = AuditLogEntry.objects.get(action="recomputed")
    run = ComputationRun.objects.order_by("-pk").first()
    assert (entry.via, entry.actor, entry.target) == ("cli", None, f"release {world.release.pk}")
    assert entry.details == {"run": run.pk, "version": world.release.version} and "@" in entry.actor_name


# ---------------------------------------------------------------- 4. error reports without patient values


def _rejected_jobs(client, world: World, django_capture_on_commit_callbacks) -> list[ImportJob]:
    jobs = []
    for name, content in (("bad-values.csv", BAD_VALUES), ("wrong-fields.csv", WRONG_FIELDS)):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("api:import-list"),
                {"audit": "bowel", "extract_date": "2025-03-31", "file": _upload(name, content)},
                **world.auth("analyst"),
            )
        job = ImportJob.objects.get(pk=response.json()["id"])
        assert job.status == "rejected", job.result
        jobs.append(job)
    return jobs


SECRETS = (SECRET_ID, SECRET_STAGE, SECRET_DATE, "PROWSECRET9")


def test_staff_read_error_reports_without_a_single_patient_value(client, world, django_capture_on_commit_callbacks):
    jobs = _rejected_jobs(client, world, django_capture_on_commit_callbacks)
    analyst_sees = ""
    for job in jobs:
        analyst = client.get(reverse("api:import-detail", args=[job.pk]), **world.auth("analyst"))
        analyst_sees += analyst.content.decode()
        staff = client.get(reverse("api:import-detail", args=[job.pk]), **world.auth("staff"))
        assert staff.status_code == 200
        errors = staff.json()["result"]["errors"]
        assert errors and all(set(e) == {"line", "column", "message"} for e in errors), errors
        assert all(e["line"] for e in errors)  # where to look is kept
        body = staff.content.decode()
        leaked = [s for s in SECRETS if s in body]
        assert not leaked, (leaked, errors)
        client.force_login(world.users["staff"])
        page = client.get(reverse("import-job", args=[job.pk])).content.decode()
        assert page.count("<tr>") > 1 and not [s for s in SECRETS if s in page]
        client.logout()
    listing = client.get(reverse("api:import-list"), {"format": "csv"}, **world.auth("staff")).content.decode()
    assert not [s for s in SECRETS if s in listing]
    # The test can fail: the audit's analyst does see the values, and the messages stay useful to staff.
    assert all(s in analyst_sees for s in (SECRET_ID, SECRET_STAGE, SECRET_DATE))
    staff_view = client.get(reverse("api:import-detail", args=[jobs[0].pk]), **world.auth("staff")).json()
    staff_messages = [e["message"] for e in staff_view["result"]["errors"]]
    assert "this value is not an allowed stage (allowed: 1, 2, 3, 4, U)" in staff_messages
    assert "surgery_date is before diagnosis_date" in staff_messages


def test_a_structural_error_never_carries_the_whole_row(client, world, django_capture_on_commit_callbacks):
    _, job = _rejected_jobs(client, world, django_capture_on_commit_callbacks)
    errors = client.get(reverse("api:import-detail", args=[job.pk]), **world.auth("analyst")).json()["result"]["errors"]
    assert [(e["line"], e["message"]) for e in errors] == [(3, "this line has 18 fields but the header has 17")]
    assert "PROWSECRET9" not in errors[0]["value"] and "," not in errors[0]["value"]


# ---------------------------------------------------------------- 6. the audit log: sign-ins and reads of patient rows


def test_sign_ins_failed_sign_ins_and_sign_outs_are_in_the_audit_log(client, world):
    wrong = client.post(reverse("login"), {"username": "clinician", "password": "guess"}, REMOTE_ADDR="198.51.100.4")
    assert wrong.status_code == 200
    client.post(reverse("login"), {"username": "nobody-here", "password": "guess"}, REMOTE_ADDR="198.51.100.4")
    right = client.post(reverse("login"), {"username": "clinician", "password": PASSWORD}, REMOTE_ADDR="198.51.100.5")
    assert right.status_code == 302
    client.post(reverse("logout"), REMOTE_ADDR="198.51.100.5")
    log = list(
        AuditLogEntry.objects.filter(action__in=["signed_in", "signed_out", "sign_in_failed"])
        .order_by("pk")
        .values_list("action", "actor", "ip", "via", "target")
    )
    clinician = world.users["clinician"].pk
    assert log == [
        ("sign_in_failed", None, "198.51.100.4", "web", "user clinician"),
        ("sign_in_failed", None, "198.51.100.4", "web", "user nobody-here"),
        ("signed_in", clinician, "198.51.100.5", "web", "user clinician"),
        ("signed_out", clinician, "198.51.100.5", "web", "user clinician"),
    ]
    failed = AuditLogEntry.objects.filter(action="sign_in_failed").order_by("pk").first()
    assert "guess" not in str(failed.details)


def test_every_read_of_patient_rows_is_in_the_audit_log(client, world):
    url = reverse("api:release-rows", args=[world.release.pk])
    first = client.get(url, {"page_size": 5}, REMOTE_ADDR="192.0.2.77", **world.auth("analyst"))
    assert first.status_code == 200
    client.get(url, {"page_size": 5, "after": 6, "format": "csv"}, **world.auth("analyst"))
    client.get(url, {"page_size": 5}, HTTP_IF_NONE_MATCH=first["ETag"], **world.auth("analyst"))  # a 304 read too
    assert client.get(url, **world.auth("staff")).status_code == 403
    reads = list(
        AuditLogEntry.objects.filter(action="read_rows")
        .order_by("pk")
        .values_list("actor", "via", "audit_code", "target", "details")
    )
    analyst = world.users["analyst"].pk
    target = f"release {world.release.pk}"
    assert reads == [
        (analyst, "api", "bowel", target, {"after_line": 0, "limit": 5, "rows": 5}),
        (analyst, "api", "bowel", target, {"after_line": 6, "limit": 5, "rows": 5}),
        (analyst, "api", "bowel", target, {"after_line": 0, "limit": 5, "rows": 5}),
    ]
    assert AuditLogEntry.objects.filter(action="read_rows").order_by("pk").first().ip == "192.0.2.77"


# ---------------------------------------------------------------- 9. navigation and the 403 page


@pytest.mark.parametrize(
    ("role", "offered"),
    [
        ("public", False),
        ("clinician", False),
        ("lead", False),
        ("analyst", True),
        ("other_analyst", True),
        ("staff", True),
    ],
)
def test_the_navigation_offers_the_funnel_tool_only_to_those_who_may_open_it(client, world, role, offered):
    user = world.users[role]
    if user is not None:
        client.force_login(user)
    tool = reverse("funnel-tool")
    for name, args in (("home", []), ("search", []), ("audit", ["bowel"])):
        page = client.get(reverse(name, args=args)).content.decode()
        assert (f'href="{tool}"' in page) is offered, (role, name)
    assert (client.get(tool).status_code == 200) is offered


@pytest.mark.parametrize("role", ["clinician", "lead"])
def test_a_refused_page_says_who_may_open_it_and_how_to_ask(client, world, role):
    client.force_login(world.users[role])
    for url, who in (
        (reverse("funnel-tool"), "analysts"),
        (reverse("data-quality", args=["bowel"]), "analysts"),
        (reverse("release-detail", args=[world.release.pk]), "analysts"),
    ):
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 403 and response["Content-Type"].startswith("text/html")
        assert "Cancer audit dashboards" in page, url  # the site's own page, with its navigation
        assert who in page and "staff" in page, url  # who may open it
        assert "Ask" in page and "audit log" in page, url  # and how to ask
        assert f'href="{reverse("funnel-tool")}"' not in page


# ---------------------------------------------------------------- 1. one answer to "data quality by trust"


def test_data_quality_by_trust_is_one_answer_on_every_page_and_in_the_api(client, world):
    """The audit's analysts: every trust, exact; staff: none, like the public (pages, CSV and API agree)."""
    report = world.release.quality_report
    codes = {p["provider_code"] for p in report["providers"]}
    trusts_csv = reverse("data-quality", args=["bowel"]) + "?download=trusts"
    for role, sees in (("analyst", True), ("staff", False)):
        api = client.get(reverse("api:release-detail", args=[world.release.pk]), **world.auth(role)).json()
        client.force_login(world.users[role])
        download = client.get(trusts_csv).content.decode().splitlines()
        release_page = client.get(reverse("release-detail", args=[world.release.pk])).content.decode()
        client.logout()
        if sees:
            assert {p["provider_code"] for p in api["quality_by_trust"]} == codes
            assert {line.split(",")[0] for line in download[1:]} == codes
            assert all(code in release_page for code in codes)
        else:
            assert api["quality_by_trust"] is None, role
            assert download[1:] == [], role
            assert not [code for code in codes if f'<span class="hint">{code}</span>' in release_page], role
