"""End to end with a real Celery worker on Redis: upload in the web, the worker validates and loads."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from audits.models import ImportJob
from audits.registry import get_definition
from audits.selectors import release_frame
from audits.services import sync_audit
from cancerplan.celery import app as current_app
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(transactional_db, settings, tmp_path):
    """A real worker process on the test database and the broker in CELERY_BROKER_URL."""
    if not settings.CELERY_BROKER_URL:
        pytest.fail("CELERY_BROKER_URL must point at Redis for the worker tests (see README)")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    current_app.control.purge()
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "cancerplan",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the worker did not start:\n{log.read_text()}")
        time.sleep(0.2)
    current_app.conf.task_always_eager = False
    yield log
    current_app.conf.task_always_eager = True
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.worker
def test_a_worker_validates_and_loads_a_web_upload(client, orgs, worker):
    sync_audit(get_definition("bowel"))
    user = User.objects.create_user("ana", password="pw-for-tests-only")
    user.groups.add(Group.objects.get(name="analysts:bowel"))
    client.force_login(user)
    data = (FIXTURES / "bowel" / "valid.csv").read_bytes()
    client.post(
        reverse("upload", args=["bowel"]), {"file": SimpleUploadedFile("valid.csv", data), "extract_date": "2025-03-31"}
    )
    job = ImportJob.objects.get()
    seen = set()
    deadline = time.monotonic() + 60
    while not job.finished and time.monotonic() < deadline:
        seen.add(client.get(reverse("import-job-status", args=[job.pk])).json()["status"])
        time.sleep(0.1)
        job.refresh_from_db()
    assert job.status == "accepted", (job.status, job.failure, worker.read_text()[-2000:])
    assert "audits.run_import_job[" in worker.read_text()  # the worker ran it, not this process
    assert seen <= {"queued", "running", "accepted"}
    assert release_frame(job.release)["patient_id"].tolist() == ["P001", "P002", "P003", "P004"]
    # The accepted release queued its computation: a run fanned out one task per indicator, on the worker.
    from indicators.models import ComputationRun

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        run = ComputationRun.objects.filter(release=job.release).first()
        if run and run.status in ("done", "failed"):
            break
        time.sleep(0.2)
    assert run is not None and run.status == "done" and run.is_current, (
        run and run.failure,
        worker.read_text()[-3000:],
    )
    # The worker logs a task's success after the task returns, so the run can be done a moment before the last
    # "succeeded" line is written: wait for it rather than read the log once.
    deadline = time.monotonic() + 30
    log = worker.read_text()
    while log.count("indicators.compute_run_indicator[") < 2 * run.total and time.monotonic() < deadline:
        time.sleep(0.2)
        log = worker.read_text()
    assert "indicators.compute_release[" in log
    assert log.count("indicators.compute_run_indicator[") >= 2 * run.total  # received and succeeded, per indicator


# --- Jobs whose process died, and outcomes kept apart (in-process; no worker needed) ---------------------------


@pytest.fixture
def analyst(orgs, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    sync_audit(get_definition("bowel"))
    user = User.objects.create_user("uploader")
    user.groups.add(Group.objects.get(name="analysts:bowel"))
    return user


DEAD_OWNER = "a-host-that-is-gone:1"  # a worker on another machine that stopped renewing its lease


def stranded_job(analyst, *, fixture: str = "valid", attempts: int = 1, file: bool = True) -> ImportJob:
    """An import job as a killed process leaves it: running, its lease long expired."""
    from datetime import timedelta

    from django.utils import timezone

    data = (FIXTURES / "bowel" / f"{fixture}.csv").read_bytes()
    long_ago = timezone.now() - timedelta(hours=2)
    job = ImportJob.objects.create(
        audit_id="bowel",
        file=SimpleUploadedFile(f"{fixture}.csv", data) if file else "",
        file_name=f"{fixture}.csv",
        extract_date="2025-03-31",
        origin="web",
        submitted_by=analyst,
        bytes_total=len(data),
        status=ImportJob.Status.RUNNING,
        started_at=long_ago,
    )
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago, attempts=attempts, owner=DEAD_OWNER)
    return job


def reap() -> str:
    from tests.conftest import run_command

    code, out, err = run_command("reap_jobs")
    assert code == 0, err
    return out


@pytest.mark.django_db(transaction=True)
def test_an_import_whose_process_died_is_run_again_by_the_reaper(analyst):
    job = stranded_job(analyst)
    out = reap()
    job.refresh_from_db()
    assert job.status == "accepted", (job.status, job.failure)
    assert job.attempts == 2 and job.release is not None and not job.file
    assert f"import {job.pk}" in out


@pytest.mark.django_db(transaction=True)
def test_an_import_whose_release_was_committed_before_its_process_died_is_accepted(analyst):
    from audits.services.imports import load_extract

    job = stranded_job(analyst, file=False)  # the file was deleted too; the release is there
    with (FIXTURES / "bowel" / "valid.csv").open("rb") as stream:  # what the job's process committed
        release = load_extract(
            audit_code="bowel",
            stream=stream,
            file_name="valid.csv",
            extract_date=date(2025, 3, 31),
            origin="web",
            user=analyst,
            uploaded_by_name=analyst.username,
            progress=None,
            log_as=None,
        ).release
    assert release is not None
    reap()
    job.refresh_from_db()
    assert job.status == "accepted" and job.release == release
    assert job.result["release"] == release.pk and job.result["rows"] == 4
    assert ImportJob.objects.count() == 1 and release.audit.releases.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_import_whose_file_is_gone_fails_and_asks_for_the_file_again(analyst):
    job = stranded_job(analyst, file=False)
    reap()
    job.refresh_from_db()
    assert job.status == "failed" and "upload the file again" in job.failure
    assert job.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_file_that_stops_its_worker_every_time_fails_after_the_last_attempt(analyst, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    job = stranded_job(analyst, attempts=3)
    reap()
    job.refresh_from_db()
    assert job.status == "failed" and "stopped its worker 3 times" in job.failure, job.failure
    assert not job.file  # an analyst's file is not kept once its job ends
    # A message of that job still in the broker (redelivered): the job stays failed, nothing runs.
    from audits.services import run_import_job

    assert run_import_job(job.pk).status == "failed"
    assert not job.audit.releases.exists()


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_message_takes_over_a_job_whose_worker_died(analyst, settings):
    """Redis delivers an unacknowledged message again once its worker is gone: the task takes the job over."""
    from audits.services import run_import_job

    settings.JOB_MAX_ATTEMPTS = 3
    job = stranded_job(analyst, attempts=2)
    assert run_import_job(job.pk).status == "accepted"
    job.refresh_from_db()
    assert job.attempts == 3
    # A second copy of the message while another worker holds a live lease: it leaves the job alone.
    live = stranded_job(analyst, fixture="code_not_allowed")
    from django.utils import timezone

    ImportJob.objects.filter(pk=live.pk).update(heartbeat_at=timezone.now())
    assert run_import_job(live.pk).status == "running"
    reap()  # nor does the reaper: its lease has not run out
    live.refresh_from_db()
    assert live.status == "running" and live.attempts == 1 and live.file


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("door", ["web", "api"])
def test_a_computation_failure_after_an_upload_was_accepted_does_not_fail_the_import(
    client, analyst, monkeypatch, door
):
    """In-process (eager) tasks: the computation that follows an accepted release fails (here: SQLite's
    "database is locked"); the import is still accepted, the web and the API answer with it, the run says why."""
    from accounts.services import create_token
    from indicators import services as indicator_services
    from indicators.models import ComputationRun

    real = indicator_services._compute

    def locked(release, code):
        if code == "early_stage":
            raise RuntimeError("database is locked")
        return real(release, code)

    monkeypatch.setattr(indicator_services, "_compute", locked)
    data = SimpleUploadedFile("valid.csv", (FIXTURES / "bowel" / "valid.csv").read_bytes())
    if door == "web":
        client.force_login(analyst)
        response = client.post(reverse("upload", args=["bowel"]), {"file": data, "extract_date": "2025-03-31"})
        assert response.status_code == 302
    else:
        _, key = create_token(user=analyst, name="pipeline", via="cli")
        response = client.post(
            reverse("api:import-list"),
            {"audit": "bowel", "extract_date": "2025-03-31", "file": data},
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "accepted"
    job = ImportJob.objects.get()
    assert job.status == "accepted" and job.release is not None and not job.failure
    run = ComputationRun.objects.get(release=job.release)
    assert run.status == "failed" and "early_stage: RuntimeError: database is locked" in run.failure


@pytest.mark.django_db(transaction=True)
def test_a_page_build_failure_after_a_run_shows_on_the_run_not_on_the_import(client, analyst, monkeypatch):
    from dashboards import services as dashboard_services
    from indicators.models import ComputationRun

    def broken(run_id):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(dashboard_services, "build_current_run_pages", broken)
    client.force_login(analyst)
    data = SimpleUploadedFile("valid.csv", (FIXTURES / "bowel" / "valid.csv").read_bytes())
    response = client.post(reverse("upload", args=["bowel"]), {"file": data, "extract_date": "2025-03-31"})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.status == "accepted" and not job.failure
    run = ComputationRun.objects.get(release=job.release)
    assert run.status == "done" and run.is_current
    assert "dashboards.tasks.build_run_pages failed (RuntimeError: database is locked)" in run.failure
    assert run.progress_text.startswith("done; ")


@pytest.mark.django_db(transaction=True)
def test_an_import_taken_over_by_another_process_meanwhile_stores_nothing_twice(analyst):
    """This process's lease ran out (a long pause) and another took the job over: this one's release is rolled
    back at its commit, and the file stays for the other."""
    from audits.services import jobs

    job = stranded_job(analyst)
    job.refresh_from_db()
    assert jobs._take(job)  # this process holds it
    ImportJob.objects.filter(pk=job.pk).update(owner="another-host:2", attempts=job.attempts + 1)  # now another
    assert jobs._run_import(job) is False
    job.refresh_from_db()
    assert job.status == "running" and job.owner == "another-host:2" and job.file
    assert not job.audit.releases.exists()
