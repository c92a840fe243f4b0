"""Write endpoints: upload and poll, withdraw, recompute; each is in the audit log with who and where from."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AuditLogEntry
from accounts.services import create_token
from audits.models import ImportJob, Release
from audits.registry import get_definition
from audits.services import sync_audit
from indicators.models import ComputationRun
from tests.conftest import FIXTURES, run_command

UPLOAD = reverse("api:import-list")


def extract(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"{name}.csv", (FIXTURES / "bowel" / f"{name}.csv").read_bytes(), content_type="text/csv")


@pytest.fixture
def pipeline(orgs, settings, tmp_path):
    """A bowel analyst's pipeline: the user and a token header."""
    settings.MEDIA_ROOT = tmp_path / "media"
    sync_audit(get_definition("bowel"))
    user = User.objects.create_user("pipeline")
    user.groups.add(Group.objects.get(name="analysts:bowel"))
    _, key = create_token(user=user, name="nightly", via="cli")
    return user, {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.mark.django_db
def test_an_upload_is_accepted_and_the_job_can_be_polled(client, pipeline, django_capture_on_commit_callbacks):
    user, auth = pipeline
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            UPLOAD,
            {"audit": "bowel", "extract_date": "2025-03-31", "file": extract("valid")},
            REMOTE_ADDR="192.0.2.10",
            **auth,
        )
    assert response.status_code == 202  # the job was queued inside the request's transaction
    job = ImportJob.objects.get()
    assert response["Location"] == f"http://testserver{reverse('api:import-detail', args=[job.pk])}"
    polled = client.get(response["Location"], **auth).json()
    release = Release.objects.get()
    assert (polled["status"], polled["finished"], polled["release"], polled["percent"]) == (
        "accepted",
        True,
        release.pk,
        100,
    )
    assert polled["result"] == {
        "status": "accepted",
        "release": release.pk,
        "version": 1,
        "rows": 4,
        "errors": [],
        "error_count": 0,
        "warnings": release.warnings,
    }
    assert (release.origin, release.uploaded_by, release.rows) == ("api", user, 4)
    entry = AuditLogEntry.objects.get(action="uploaded")
    assert (entry.actor, entry.via, entry.ip, entry.audit_code, entry.target) == (
        user,
        "api",
        "192.0.2.10",
        "bowel",
        f"import {job.pk}",
    )
    assert entry.details == {"file_name": "valid.csv", "size_bytes": job.bytes_total, "extract_date": "2025-03-31"}


@pytest.mark.django_db
def test_a_refused_upload_reports_what_the_command_line_reports(client, pipeline, django_capture_on_commit_callbacks):
    _, auth = pipeline
    code, out, _ = run_command(
        "import_extract",
        str(FIXTURES / "bowel" / "code_not_allowed.csv"),
        audit="bowel",
        extract_date="2025-03-31",
        json=True,
    )
    assert code == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            UPLOAD, {"audit": "bowel", "extract_date": "2025-03-31", "file": extract("code_not_allowed")}, **auth
        )
    polled = client.get(response["Location"], **auth).json()
    assert polled["status"] == "rejected" and polled["release"] is None and not Release.objects.exists()
    assert polled["result"] == json.loads(out)
    assert polled["result"]["errors"] == [
        {"line": 5, "column": "stage", "value": "5", "message": "'5' is not an allowed stage (allowed: 1, 2, 3, 4, U)"}
    ]


@pytest.mark.django_db(transaction=True)
def test_with_tasks_in_process_the_answer_is_the_release_or_the_report(client, pipeline):
    """Outside a test transaction (as in a demo run) the import finishes before the answer is sent."""
    _, auth = pipeline
    accepted = client.post(UPLOAD, {"audit": "bowel", "extract_date": "2025-03-31", "file": extract("valid")}, **auth)
    assert accepted.status_code == 201 and accepted.json()["release"] == Release.objects.get().pk
    refused = client.post(
        UPLOAD, {"audit": "bowel", "extract_date": "2025-03-31", "file": extract("duplicate_patient_id")}, **auth
    )
    body = refused.json()
    assert refused.status_code == 422 and body["status"] == "rejected" and body["result"]["error_count"] >= 1
    assert {"line", "column", "value", "message"} == set(body["result"]["errors"][0])


@pytest.mark.django_db(transaction=True)
def test_with_tasks_in_process_an_import_that_fails_is_not_answered_as_still_checking(client, pipeline, monkeypatch):
    """The database went away mid-import: the answer says the import failed (503, with the reason), not 202."""
    from django.db import OperationalError

    import audits.services.jobs

    def lost(**kwargs):
        raise OperationalError("the database connection was lost while storing the rows; nothing was stored")

    monkeypatch.setattr(audits.services.jobs, "load_extract", lost)
    _, auth = pipeline
    answer = client.post(UPLOAD, {"audit": "bowel", "extract_date": "2025-03-31", "file": extract("valid")}, **auth)
    body = answer.json()
    assert answer.status_code == 503 and body["status"] == "failed"
    assert not Release.objects.exists()


@pytest.mark.django_db
def test_an_upload_needs_a_file_a_date_and_a_known_audit(client, pipeline):
    _, auth = pipeline
    missing = client.post(UPLOAD, {"audit": "bowel"}, **auth)
    assert missing.status_code == 400 and set(missing.json()) == {"extract_date", "file"}
    unknown = client.post(UPLOAD, {"audit": "nope", "extract_date": "2025-03-31", "file": extract("valid")}, **auth)
    assert unknown.status_code == 400 and "audit" in unknown.json()
    lung = client.post(UPLOAD, {"audit": "lung", "extract_date": "2025-03-31", "file": extract("valid")}, **auth)
    assert lung.status_code == 403 and not ImportJob.objects.exists()


@pytest.mark.django_db
def test_withdrawing_and_recomputing_through_the_api(client, pipeline, django_capture_on_commit_callbacks):
    user, auth = pipeline
    with django_capture_on_commit_callbacks(execute=True):
        client.post(UPLOAD, {"audit": "bowel", "extract_date": "2025-03-31", "file": extract("valid")}, **auth)
    release = Release.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        recomputed = client.post(reverse("api:release-recompute", args=[release.pk]), **auth)
    assert recomputed.status_code == 202 and recomputed["Location"].endswith(
        reverse("api:release-detail", args=[release.pk])
    )
    run = ComputationRun.objects.get(pk=recomputed.json()["id"])
    run.refresh_from_db()
    assert run.requested_by == user and run.is_current and run.status == "done"
    withdrawn = client.post(reverse("api:release-withdraw", args=[release.pk]), {"reason": "wrong extract"}, **auth)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    release.refresh_from_db()
    assert (release.status, release.withdrawn_by, release.withdrawn_reason) == ("withdrawn", user, "wrong extract")
    again = client.post(reverse("api:release-withdraw", args=[release.pk]), {"reason": "twice"}, **auth)
    assert again.status_code == 409
    log = list(AuditLogEntry.objects.order_by("pk").values_list("action", "via", "target", "ip"))
    assert log[-3:] == [
        ("uploaded", "api", f"import {ImportJob.objects.get().pk}", "127.0.0.1"),
        ("recomputed", "api", f"release {release.pk}", "127.0.0.1"),
        ("withdrew", "api", f"release {release.pk}", "127.0.0.1"),
    ]
    assert AuditLogEntry.objects.get(action="withdrew").details == {"version": 1, "reason": "wrong extract"}


@pytest.mark.django_db
def test_the_web_pages_and_the_commands_write_the_audit_log_too(client, pipeline, django_capture_on_commit_callbacks):
    user, _ = pipeline
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("upload", args=["bowel"]),
            {"file": extract("valid"), "extract_date": "2025-03-31"},
            REMOTE_ADDR="198.51.100.7",
        )
    release = Release.objects.get()
    client.post(reverse("release-withdraw", args=[release.pk]), {"reason": "typo"}, REMOTE_ADDR="198.51.100.7")
    code, _, _ = run_command(
        "import_extract", str(FIXTURES / "bowel" / "valid_iso.csv"), audit="bowel", extract_date="2025-03-31"
    )
    assert code == 0
    newer = Release.objects.get(version=2)
    run_command("withdraw_release", str(newer.pk), reason="test")
    log = list(AuditLogEntry.objects.order_by("pk").values_list("action", "via", "ip", "actor"))
    assert log[-5:] == [
        ("uploaded", "web", "198.51.100.7", user.pk),
        ("withdrew", "web", "198.51.100.7", user.pk),
        ("uploaded", "cli", None, None),
        ("published", "cli", None, None),  # the command line publishes at once (unless --draft)
        ("withdrew", "cli", None, None),
    ]
    cli = AuditLogEntry.objects.filter(via="cli", action="uploaded").get()
    assert "@" in cli.actor_name and cli.target == f"release {newer.pk}" and cli.details["status"] == "accepted"
