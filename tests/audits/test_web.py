"""The web door: analysts upload, follow the job, read the release and its data quality."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audits.models import ImportJob, Release
from audits.registry import get_definition
from audits.services import sync_audit
from tests.conftest import FIXTURES


@pytest.fixture
def analyst(orgs):
    sync_audit(get_definition("bowel"))
    user = User.objects.create_user("ana", password="pw-for-tests-only")
    user.groups.add(Group.objects.get(name="analysts:bowel"))
    return user


def upload(client, name: str, extract_date: str = "2025-03-31"):
    data = (FIXTURES / "bowel" / f"{name}.csv").read_bytes()
    return client.post(
        reverse("upload", args=["bowel"]),
        {"file": SimpleUploadedFile(f"{name}.csv", data, content_type="text/csv"), "extract_date": extract_date},
    )


@pytest.mark.django_db
def test_only_signed_in_analysts_of_the_audit_may_upload(client, analyst):
    assert client.get(reverse("upload", args=["bowel"])).status_code == 302  # to the sign-in page
    User.objects.create_user("clinician", password="pw-for-tests-only")
    client.login(username="clinician", password="pw-for-tests-only")
    assert client.get(reverse("upload", args=["bowel"])).status_code == 403
    assert upload(client, "valid").status_code == 403
    assert not ImportJob.objects.exists()
    client.login(username="ana", password="pw-for-tests-only")
    assert client.get(reverse("upload", args=["bowel"])).status_code == 200
    assert client.get(reverse("upload", args=["lung"])).status_code == 403


@pytest.mark.django_db
def test_an_accepted_upload_shows_the_release_and_its_data_quality(client, analyst, django_capture_on_commit_callbacks):
    client.force_login(analyst)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "valid")
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("import-job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == "accepted" and job.release.rows == 4 and job.release.uploaded_by == analyst
    assert job.release.origin == "web" and job.release.extract_date == date(2025, 3, 31)
    page = client.get(response["Location"]).content.decode()
    assert "Accepted" in page and f"release {job.release.version}" in page
    status = client.get(reverse("import-job-status", args=[job.pk])).json()
    assert (status["status"], status["finished"], status["percent"], status["release"]) == (
        "accepted",
        True,
        100,
        job.release_id,
    )
    detail = client.get(reverse("release-detail", args=[job.release_id])).content.decode()
    assert "Completeness by column" in detail and "<code>performance_status</code>" in detail
    assert ">75.0%<" in detail  # performance_status: 3 of 4 rows
    assert "Manchester University NHS Foundation Trust" in detail
    # The release's indicator run: done, and (four rows fit no risk model) saying which indicators it could not compute.
    assert re.search(r"Current</span></td><td>done(; [^<]*not computed for this release[^<]*)?</td>", detail)


@pytest.mark.django_db
def test_a_refused_upload_lists_line_column_value_and_stores_nothing(
    client, analyst, django_capture_on_commit_callbacks
):
    client.force_login(analyst)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, "code_not_allowed")
    job = ImportJob.objects.get()
    assert job.status == "rejected" and job.release is None and not Release.objects.exists()
    assert job.result["errors"] == [
        {"line": 5, "column": "stage", "value": "5", "message": "'5' is not an allowed stage (allowed: 1, 2, 3, 4, U)"}
    ]
    page = client.get(reverse("import-job", args=[job.pk])).content.decode()
    assert "Refused: 1 error" in page and "<td>5</td><td>stage</td>" in page


@pytest.mark.django_db
def test_an_analyst_can_withdraw_a_release_from_its_page(client, analyst, django_capture_on_commit_callbacks):
    client.force_login(analyst)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, "valid")
    release = Release.objects.get()
    response = client.post(reverse("release-withdraw", args=[release.pk]), {"reason": "wrong date"})
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.is_withdrawn and release.withdrawn_by == analyst and release.withdrawn_reason == "wrong date"
    assert Release.objects.current("bowel") is None


@pytest.mark.django_db
def test_the_home_page_lists_the_audits(client, orgs):
    page = client.get(reverse("home")).content.decode()
    assert "National Bowel Cancer Audit" in page and "National Lung Cancer Audit" in page


@pytest.mark.django_db
@pytest.mark.parametrize("download", ["columns", "trusts"])
def test_the_data_quality_downloads_of_an_audit_with_no_release_show_the_page(client, analyst, download):
    # Before any release (or after every one is withdrawn) a download link must not be a server error.
    client.login(username="ana", password="pw-for-tests-only")
    response = client.get(reverse("data-quality", args=["bowel"]) + f"?download={download}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
