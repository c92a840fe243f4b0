"""Real faults: a Celery worker killed (SIGKILL) in the middle of an import and of a computation, on PostgreSQL and
Redis; a new worker with Celery beat finds the lost work and finishes it, with no duplicate release, no partial
rows and no partial results. Also: the broker's visibility timeout must outlast the hard time limit, and two
uploads at once on SQLite both finish.

The workers run with a 2-second lease (JOB_LEASE_SECONDS) and beat every second, so a lost job is found fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.files import File
from django.db import connection

from accounts.services import Actor
from audits.models import ImportJob, Release
from audits.registry import get_definition
from audits.services import create_import_job, sync_audit
from cancerplan.celery import app as current_app
from indicators.models import ComputationRun, IndicatorResult, RunIndicator
from indicators.selectors import current_run

ROOT = Path(__file__).resolve().parents[1]
EXTRACT_DATE = date(2026, 3, 31)
ROWS = 200_000  # imported by one worker in a second or two: long enough to be killed in the act
FAULT_ENV = {
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "JOB_LEASE_SECONDS": "2",
    "JOB_MAX_ATTEMPTS": "3",
    "CELERY_TASK_SOFT_TIME_LIMIT": "50",
    "CELERY_TASK_TIME_LIMIT": "60",
    "CELERY_VISIBILITY_TIMEOUT": "70",
    "AFTER_RUN_TASKS": "",  # the dashboards' page build is not under test here
}


def test_the_visibility_timeout_must_outlast_the_hard_time_limit():
    """Redis gives an unacknowledged task to another worker after the visibility timeout: shorter than the time
    limit, a long task still running would start twice. The default is derived from the limit; a shorter one is
    refused at start-up."""
    from django.conf import settings

    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.CELERY_TASK_TIME_LIMIT
    env = {**os.environ, "CELERY_TASK_TIME_LIMIT": "3900"}
    env.pop("CELERY_VISIBILITY_TIMEOUT", None)
    check = [
        sys.executable,
        "-c",
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'])",
    ]
    derived = subprocess.run(check, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert derived.returncode == 0 and int(derived.stdout) > 3900, derived.stderr
    refused = subprocess.run(
        check, cwd=ROOT, env={**env, "CELERY_VISIBILITY_TIMEOUT": "3600"}, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT (3600 s) must be longer than CELERY_TASK_TIME_LIMIT (3900 s)" in refused.stderr


@pytest.fixture(scope="module")
def big_extract(tmp_path_factory) -> Path:
    import pandas as pd

    from audits.demo.engine import generate_extract, write_extract
    from audits.organisations import SEED_DIR

    path = tmp_path_factory.mktemp("faults") / "bowel_big.csv"
    trusts = pd.read_csv(SEED_DIR / "trusts.csv", dtype=str)
    write_extract(generate_extract(get_definition("bowel"), ROWS, 7, EXTRACT_DATE, trusts), path)
    return path


class Workers:
    """Real worker processes (solo pool) on the test database; each can be killed outright."""

    def __init__(self, settings, tmp_path):
        db = connection.settings_dict
        self.env = {
            **os.environ,
            **FAULT_ENV,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        }
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []

    def start(self, *, beat: bool = False) -> Path:
        log = self.tmp_path / f"worker-{len(self.processes)}.log"
        command = [sys.executable, "-m", "celery", "-A", "cancerplan", "worker", "--pool=solo", "--concurrency=1"]
        command += ["--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel=INFO"]
        if beat:  # the reaper every half lease, as `celery -A cancerplan beat` sends it in production
            command += ["--beat", f"--schedule={self.tmp_path / 'beat-schedule'}"]
        with log.open("w") as out:
            process = subprocess.Popen(  # its own process group: the worker and its embedded beat
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the worker did not start:\n{log.read_text()}")
            time.sleep(0.1)
        return log

    def kill(self) -> None:
        """SIGKILL the newest worker (and its beat): no finally, no acknowledgement, nothing written."""
        process = self.processes[-1]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    pass
            try:  # whatever is left of its group (an embedded beat outlives a killed worker)
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def workers(transactional_db, settings, tmp_path):
    if not settings.CELERY_BROKER_URL:
        pytest.fail("CELERY_BROKER_URL must point at Redis for the worker tests (see README)")
    settings.MEDIA_ROOT = tmp_path / "media"
    current_app.control.purge()
    current_app.conf.task_always_eager = False
    pool = Workers(settings, tmp_path)
    yield pool
    pool.stop_all()
    current_app.conf.task_always_eager = True
    current_app.control.purge()
    # The killed workers' unacknowledged messages: Redis would hand them to a later test's worker.
    with current_app.connection_for_write() as conn:
        conn.default_channel.client.delete("unacked", "unacked_index")


def wait_for(what, condition, timeout: float, logs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    tails = "\n".join(log.read_text()[-3000:] for log in logs)
    pytest.fail(f"timed out waiting for {what}\n{tails}")


def release_rows_stored(release: Release) -> int:
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(release.storage_table)
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE release_id = %s", [release.pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.mark.worker
@pytest.mark.slow
def test_workers_killed_mid_import_and_mid_computation_leave_nothing_stuck_lost_or_doubled(
    orgs, big_extract, workers, capsys
):
    sync_audit(get_definition("bowel"))
    analyst = User.objects.create_user("faults")
    analyst.groups.add(Group.objects.get(name="analysts:bowel"))
    first = workers.start()
    with big_extract.open("rb") as handle:
        job = create_import_job(
            audit_code="bowel",
            upload=File(handle, name=big_extract.name),
            extract_date=EXTRACT_DATE,
            actor=Actor(via="api", user=analyst),
        )

    # 1. Kill the worker while it checks and loads the file (rows are being copied, nothing is committed).
    def importing():
        job.refresh_from_db()
        return job.status == "running" and job.rows_done > 0  # rows checked, the COPY under way

    wait_for("the import to be under way", importing, 60, [first])
    workers.kill()
    killed_at = time.monotonic()
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 1 and not Release.objects.exists()

    # 2. A new worker with beat: the reaper sends the job again (its holder is dead), and it is accepted once.
    second = workers.start(beat=True)

    def imported():
        job.refresh_from_db()
        return job.finished and not job.file  # its file is deleted just after its outcome is committed

    wait_for("the import to finish", imported, 60, [second])
    import_recovery = time.monotonic() - killed_at
    job.refresh_from_db()
    assert job.status == "accepted", (job.status, job.failure)
    assert job.attempts == 2 and not job.file
    release = Release.objects.get()  # one release: no duplicate
    assert (release.rows, release_rows_stored(release)) == (ROWS, ROWS)  # every row, once

    # 3. Its computation starts on the new worker: kill it while an indicator is being computed.
    def computing():
        return RunIndicator.objects.filter(run__release=release, status="running").exists()

    wait_for("an indicator to be computed", computing, 60, [second])
    workers.kill()
    killed_at = time.monotonic()
    run = ComputationRun.objects.get(release=release)
    assert run.status == "running" and current_run(release) is None  # nothing half-done is shown

    # 4. Another worker with beat finishes the run: every indicator once, its results current.
    third = workers.start(beat=True)
    wait_for(
        "the run to finish",
        lambda: ComputationRun.objects.get(pk=run.pk).status in ("done", "failed"),
        60,
        [third],
    )
    compute_recovery = time.monotonic() - killed_at
    run.refresh_from_db()
    assert run.status == "done" and run.is_current, run.progress_text
    attempts = dict(RunIndicator.objects.filter(run=run).values_list("indicator", "attempts"))
    assert set(RunIndicator.objects.filter(run=run).values_list("status", flat=True)) == {"done"}
    assert max(attempts.values()) == 2 and min(attempts.values()) == 1, attempts
    assert not IndicatorResult.objects.exclude(run=run).exists()
    national = IndicatorResult.objects.filter(run=run, level="national")
    assert national.count() == len(set(national.values_list("indicator", "period")))  # no row twice
    with capsys.disabled():
        print(
            f"\nfaults: import recovered {import_recovery:.1f} s after SIGKILL (attempts {job.attempts}); "
            f"computation recovered {compute_recovery:.1f} s after SIGKILL (attempts {attempts})"
        )


TWO_UPLOADS = """
import json, os, sys, threading
from datetime import date

import django

django.setup()
from django.contrib.auth.models import Group, User
from django.core.files import File
from django.db import connection

from accounts.services import Actor
from audits.models import ImportJob
from audits.registry import get_definition
from audits.services import create_import_job, sync_audit

sync_audit(get_definition("bowel"))
user = User.objects.create_user("analyst")
user.groups.add(Group.objects.get(name="analysts:bowel"))
start = threading.Barrier(2)
errors = []


def upload(path):
    try:
        start.wait()
        with open(path, "rb") as handle:
            create_import_job(
                audit_code="bowel", upload=File(handle, name=os.path.basename(path)),
                extract_date=date(2026, 3, 31), actor=Actor(via="web", user=user),
            )
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


threads = [threading.Thread(target=upload, args=(path,)) for path in sys.argv[1:]]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
jobs = [[status, failure] for status, failure in ImportJob.objects.values_list("status", "failure")]
print(json.dumps({"errors": errors, "jobs": jobs}))
"""


@pytest.mark.slow
def test_two_uploads_at_once_on_sqlite_are_both_accepted(tmp_path):
    """The embedded default (SQLite, tasks in-process, as `make demo` and runserver run): two analysts upload at
    the same moment. Both imports, and the computations that follow them, finish; neither fails with "database is
    locked"."""
    import json

    import pandas as pd

    from audits.demo.engine import generate_extract, write_extract
    from audits.organisations import SEED_DIR

    trusts = pd.read_csv(SEED_DIR / "trusts.csv", dtype=str)
    paths = []
    for seed in (1, 2):
        paths.append(tmp_path / f"bowel_{seed}.csv")
        write_extract(generate_extract(get_definition("bowel"), 2_000, seed, EXTRACT_DATE, trusts), paths[-1])
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")}
    env.update(DATA_DIR=str(tmp_path / "data"), CELERY_TASK_ALWAYS_EAGER="true", AFTER_RUN_TASKS="")
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr
    both = subprocess.run(
        [sys.executable, "-c", TWO_UPLOADS, *map(str, paths)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert both.returncode == 0, both.stderr[-3000:]
    outcome = json.loads(both.stdout.strip().splitlines()[-1])
    assert outcome == {"errors": [], "jobs": [["accepted", ""], ["accepted", ""]]}, both.stderr[-3000:]


IN_PROCESS_UPLOAD = """
import os, sys
from datetime import date

import django

django.setup()
from django.contrib.auth.models import User
from django.core.files import File

from accounts.services import Actor
from audits.services import create_import_job

with open(sys.argv[1], "rb") as handle:
    create_import_job(
        audit_code="bowel", upload=File(handle, name=os.path.basename(sys.argv[1])),
        extract_date=date(2026, 3, 31), actor=Actor(via="web", user=User.objects.get(username=sys.argv[2])),
    )
"""


@pytest.mark.slow
def test_an_in_process_import_killed_with_its_server_is_finished_by_the_reaper(
    transactional_db, orgs, big_extract, settings, tmp_path
):
    """The embedded default runs an upload's import in the web process: kill that process mid-import, and the
    next process to start (here `manage.py reap_jobs`; runserver and gunicorn reap when they start) finishes it."""
    sync_audit(get_definition("bowel"))
    analyst = User.objects.create_user("in-process")
    analyst.groups.add(Group.objects.get(name="analysts:bowel"))
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "AFTER_RELEASE_TASKS": "",  # the import is under test, not the computation that follows it
    }
    server = subprocess.Popen(
        [sys.executable, "-c", IN_PROCESS_UPLOAD, str(big_extract), analyst.username],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def importing():
        job = ImportJob.objects.first()
        return job is not None and job.status == "running" and job.rows_done > 0 and job

    job = wait_for("the in-process import to be under way", importing, 60)
    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=10)
    killed_at = time.monotonic()
    job.refresh_from_db()
    assert job.status == "running" and not Release.objects.exists()
    reap = subprocess.run(
        [sys.executable, "manage.py", "reap_jobs"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert reap.returncode == 0, reap.stderr[-3000:]
    recovery = time.monotonic() - killed_at
    job.refresh_from_db()
    assert job.status == "accepted" and job.attempts == 2, (job.status, job.failure, reap.stdout)
    release = Release.objects.get()
    assert (release.rows, release_rows_stored(release)) == (ROWS, ROWS)
    assert f"import {job.pk}: sent again (attempt 2 of" in reap.stdout
    print(f"\nfaults: in-process import recovered {recovery:.1f} s after SIGKILL (attempts {job.attempts})")
