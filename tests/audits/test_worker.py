"""End to end with a real Celery worker on Redis: upload in the web, the worker validates and loads."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import current_app
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from audits.models import ImportJob
from audits.registry import get_definition
from audits.selectors import release_frame
from audits.services import sync_audit
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
    log = worker.read_text()
    assert "indicators.compute_release[" in log
    assert log.count("indicators.compute_run_indicator[") >= 2 * run.total  # received and succeeded, per indicator
