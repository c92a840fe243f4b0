"""Uploaded extracts hold patient rows: while an import waits and runs its file is readable by the service's user
only (0600, in 0700 folders), and when the import ends, whichever way, the file is gone; the job keeps the name
and size, an accepted release its SHA-256 as well."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.services import create_token
from audits import services
from audits.ingest import load
from audits.models import ImportJob, Release
from audits.registry import get_definition
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def analyst(orgs, media):
    services.sync_audit(get_definition("bowel"))
    user = User.objects.create_user("uploader")
    user.groups.add(Group.objects.get(name="analysts:bowel"))
    return user


def submit(client, user, door: str, fixture: str) -> ImportJob:
    """Upload a bowel fixture through the web page or the API; the job is queued, not yet run."""
    data = SimpleUploadedFile(f"{fixture}.csv", (FIXTURES / "bowel" / f"{fixture}.csv").read_bytes())
    if door == "web":
        client.force_login(user)
        response = client.post(reverse("upload", args=["bowel"]), {"file": data, "extract_date": "2025-03-31"})
        assert response.status_code == 302
    else:
        _, key = create_token(user=user, name="pipeline", via="cli")
        response = client.post(
            reverse("api:import-list"),
            {"audit": "bowel", "extract_date": "2025-03-31", "file": data},
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        assert response.status_code in (201, 202, 422), response.content
    return ImportJob.objects.latest("pk")


def stored(job: ImportJob) -> Path:
    return Path(job.file.path)


@pytest.mark.parametrize("door", ["web", "api"])
@pytest.mark.parametrize("in_memory", [True, False], ids=["small-upload", "large-upload-via-temporary-file"])
def test_a_waiting_upload_is_readable_by_the_service_only(
    client, analyst, media, settings, door, in_memory, django_capture_on_commit_callbacks
):
    if not in_memory:
        settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 16  # Django streams a bigger upload to a temporary file first
    with django_capture_on_commit_callbacks(execute=False):  # the job is queued, not run
        job = submit(client, analyst, door, "valid")
    path = stored(job)
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
    folder = path.parent
    while True:  # every folder Django made for it, from the file's up to MEDIA_ROOT
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, (folder, oct(folder.stat().st_mode))
        if folder == Path(media):
            break
        folder = folder.parent


@pytest.mark.parametrize("door", ["web", "api"])
def test_an_accepted_uploads_file_is_deleted_and_its_release_keeps_sha256_size_and_name(
    client, analyst, door, django_capture_on_commit_callbacks
):
    data = (FIXTURES / "bowel" / "valid.csv").read_bytes()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        job = submit(client, analyst, door, "valid")
    path = stored(job)
    with django_capture_on_commit_callbacks(execute=True):
        for callback in queued:
            callback()
    job.refresh_from_db()
    assert job.status == "accepted"
    assert not path.exists() and not job.file
    release = Release.objects.get()
    assert release.sha256 == hashlib.sha256(data).hexdigest()
    assert (release.size_bytes, release.file_name) == (len(data), "valid.csv")
    assert (job.file_name, job.bytes_total) == ("valid.csv", len(data))


def test_a_refused_uploads_file_is_deleted(client, analyst, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        job = submit(client, analyst, "web", "code_not_allowed")
    path = stored(job)
    queued[0]()
    job.refresh_from_db()
    assert job.status == "rejected" and job.result["error_count"] == 1
    assert not path.exists() and not job.file and job.file_name == "code_not_allowed.csv"


@pytest.mark.parametrize(
    "stop",
    [RuntimeError("the database went away"), SystemExit(1)],
    ids=["an-exception", "a-worker-shutting-down"],
)
def test_a_failed_imports_file_is_deleted(client, analyst, monkeypatch, stop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = submit(client, analyst, "web", "valid")
    path = stored(job)

    def fail(**kwargs):
        assert path.is_file()  # the import is loading the file's rows when the work stops
        raise stop

    monkeypatch.setattr(load, "copy_batches", fail)
    with pytest.raises(type(stop)):
        services.run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and job.failure.startswith(type(stop).__name__)
    assert not path.exists() and not job.file
    assert not Release.objects.exists()


def test_a_redelivered_message_deletes_the_file_a_dead_worker_left_behind(
    client, analyst, django_capture_on_commit_callbacks
):
    """The worker wrote the job's result, then died before it deleted the file; Celery delivers the task again."""
    with django_capture_on_commit_callbacks(execute=False):
        job = submit(client, analyst, "web", "code_not_allowed")
    path = stored(job)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.REJECTED)
    assert services.run_import_job(job.pk).status == "rejected"
    job.refresh_from_db()
    assert not path.exists() and not job.file


def test_no_upload_is_left_in_storage_after_its_import(client, analyst, media, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for fixture in ("valid", "code_not_allowed", "empty", "latin1"):
            submit(client, analyst, "api", fixture)
    assert sorted(ImportJob.objects.values_list("status", flat=True)) == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert [p for p in Path(media).rglob("*") if not p.is_dir()] == []
