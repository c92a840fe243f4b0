"""Imports at the same time, reads during an import, and an import whose database connection dies
mid-COPY, on PostgreSQL.

Each import runs on its own thread (its own connection) or in its own ``manage.py import_extract``
process. To be sure two imports really overlap, the test holds the audit's import lock
(``audits.ingest.load.lock_audit``) until both are waiting for it. A separate psycopg2 connection
watches ``pg_stat_activity`` and terminates backends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from django.contrib.auth.models import Group
from django.core.files import File
from django.db import connection, connections, transaction
from django.db.utils import OperationalError
from psycopg2 import sql

from accounts.models import AuditLogEntry
from accounts.services import Actor
from audits.ingest.load import lock_audit
from audits.models import ImportJob, Release
from audits.registry import get_definition
from audits.storage import storage_table_name
from tests.audits.test_import import write_demo

ROOT = Path(__file__).resolve().parents[2]
EXTRACT_DATE = date(2026, 3, 31)  # write_demo's
BIG_ROWS = 300_000  # COPY of this many rows lasts a second or more, long enough to be caught in the act
COPIED_FIRST = 20_000  # rows a COPY has written when the test acts on it

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    return write_demo(tmp_path_factory.mktemp("big"), BIG_ROWS)


@pytest.fixture(autouse=True)
def _no_follow_up_work(settings):
    """An accepted release would queue its indicators' computation (eagerly, in the importing thread)."""
    settings.AFTER_RELEASE_TASKS = []


@pytest.fixture(autouse=True)
def _threads_end() -> Iterator[None]:
    """A test that failed half way must not leave an import running into the next (or the flush)."""
    yield
    while Running.started:
        Running.started.pop().join(60)


@pytest.fixture
def monitor() -> Iterator[Any]:
    """A connection of its own to the test database (autocommit), to watch and terminate the others."""
    db = connection.settings_dict
    conn = psycopg2.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"])
    conn.autocommit = True
    yield conn
    conn.close()


def query(monitor, statement: str, params: tuple | None = None) -> list[tuple]:
    with monitor.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def storage_rows(monitor, release_id: int | None = None) -> int:
    """Rows in the bowel storage table (of one release if given; 0 if the table does not exist yet)."""
    table = storage_table_name(get_definition("bowel"))
    if query(monitor, "SELECT to_regclass(%s)", (table,))[0][0] is None:
        return 0
    statement = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    if release_id is None:
        return query(monitor, statement.as_string(monitor))[0][0]
    statement += sql.SQL(" WHERE release_id = %s")
    return query(monitor, statement.as_string(monitor), (release_id,))[0][0]


class Running(threading.Thread):
    """``work()`` on a thread of its own, with its own database connection (closed at the end)."""

    started: list[Running] = []

    def __init__(self, work: Callable[[], Any]):
        super().__init__(daemon=True)
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        Running.started.append(self)

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as exc:
            self.error = exc
        finally:
            connections.close_all()

    def outcome(self, timeout: float = 60) -> Any:
        """What ``work()`` returned (or raise what it raised)."""
        self.join(timeout)
        assert not self.is_alive(), f"still running after {timeout} s: a hang"
        if self.error is not None:
            raise self.error
        return self.result

    def failure(self, timeout: float) -> BaseException:
        """What ``work()`` raised, which it must have."""
        self.join(timeout)
        assert not self.is_alive(), f"still running after {timeout} s: a hang"
        assert self.error is not None, f"it did not fail: {self.result!r}"
        return self.error


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"gave up after {timeout} s waiting for {what}"
        time.sleep(0.01)
    return value


def waiting_for_locks(monitor) -> int:
    """Backends of this database blocked on a lock (the audit's import lock or a row one holds)."""
    return query(
        monitor,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )[0][0]


def start_together(monitor, starts: list[Callable[[], Any]]) -> list[Any]:
    """Start each import while this test holds the audit's import lock; let go once all are waiting."""
    with transaction.atomic():
        lock_audit("bowel")
        started = [start() for start in starts]
        wait_for(lambda: waiting_for_locks(monitor) == len(starts), f"{len(starts)} imports to wait for the lock")
    return started


def import_on_thread(path: Path, name: str) -> Running:
    from audits.services import import_extract

    def work():
        with path.open("rb") as stream:
            return import_extract(
                audit_code="bowel",
                stream=stream,
                file_name=path.name,
                extract_date=EXTRACT_DATE,
                actor=Actor.command_line(name=name),
            )

    thread = Running(work)
    thread.start()
    return thread


def import_in_process(path: Path) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "AFTER_RELEASE_TASKS": "",
    }
    command = ["manage.py", "import_extract", str(path), "--audit", "bowel", "--extract-date", "2026-03-31", "--json"]
    return subprocess.Popen(
        [sys.executable, *command], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def assert_two_releases(monitor, rows_by_file: dict[str, int]) -> None:
    """Versions 1 and 2 in the order they were stored, each with its own file's rows and no others."""
    releases = list(Release.objects.order_by("pk"))
    assert [r.version for r in releases] == [1, 2]
    assert releases[0].uploaded_at <= releases[1].uploaded_at
    assert {r.file_name: r.rows for r in releases} == rows_by_file
    assert {r.file_name: storage_rows(monitor, r.pk) for r in releases} == rows_by_file
    logged = AuditLogEntry.objects.filter(action=AuditLogEntry.Action.UPLOADED).order_by("pk")
    assert [e.target for e in logged] == [f"release {r.pk}" for r in releases]


def test_two_files_at_once_through_the_service_become_versions_1_and_2(orgs, monitor, tmp_path):
    a, b = write_demo(tmp_path, 2_000), write_demo(tmp_path, 3_000)
    threads = start_together(monitor, [lambda: import_on_thread(a, "first"), lambda: import_on_thread(b, "second")])
    outcomes = [thread.outcome() for thread in threads]
    assert [o.status for o in outcomes] == ["accepted", "accepted"], [o.report.errors[:2] for o in outcomes]
    assert sorted(o.release.version for o in outcomes) == [1, 2]
    assert_two_releases(monitor, {a.name: 2_000, b.name: 3_000})


def test_two_files_at_once_through_two_command_processes_become_versions_1_and_2(orgs, monitor, tmp_path):
    a, b = write_demo(tmp_path, 2_000), write_demo(tmp_path, 3_000)
    processes = start_together(monitor, [lambda: import_in_process(a), lambda: import_in_process(b)])
    results = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err[-2000:]
        results.append(json.loads(out))
    assert sorted(r["version"] for r in results) == [1, 2]
    assert_two_releases(monitor, {a.name: 2_000, b.name: 3_000})


def test_the_same_file_twice_at_once_is_accepted_once_and_refused_once_naming_the_release(orgs, monitor, tmp_path):
    path = write_demo(tmp_path, 2_000)
    threads = start_together(
        monitor, [lambda: import_on_thread(path, "first"), lambda: import_on_thread(path, "second")]
    )
    outcomes = sorted((thread.outcome() for thread in threads), key=lambda o: o.status)
    assert [o.status for o in outcomes] == ["accepted", "rejected"]
    accepted, refused = outcomes
    assert accepted.release.version == 1
    assert refused.release is None and refused.report.error_count == 1
    assert f"already imported as bowel release {accepted.release.version}" in refused.report.errors[0].message
    assert list(Release.objects.values_list("version", "rows")) == [(1, 2_000)]
    assert storage_rows(monitor, accepted.release.pk) == 2_000
    assert AuditLogEntry.objects.filter(action=AuditLogEntry.Action.UPLOADED).count() == 1


def copy_under_way(monitor) -> tuple[int, int]:
    """Wait for a COPY on this database to have written some rows: its backend's pid and rows so far."""
    pid, rows = wait_for(
        lambda: query(
            monitor,
            "SELECT a.pid, p.tuples_processed FROM pg_stat_activity a JOIN pg_stat_progress_copy p USING (pid) "
            "WHERE a.query LIKE 'COPY%%' AND a.datname = current_database() AND p.tuples_processed >= %s",
            (COPIED_FIRST,),
        ),
        f"a COPY to write {COPIED_FIRST} rows",
    )[0]
    assert rows < BIG_ROWS, "the COPY was caught too late"
    return pid, rows


def terminate_during_copy(monitor) -> None:
    pid, _ = copy_under_way(monitor)
    assert query(monitor, "SELECT pg_terminate_backend(%s)", (pid,)) == [(True,)]


def test_an_earlier_release_can_be_read_while_an_import_stores_rows(orgs, monitor, tmp_path, big_file):
    from audits.selectors import release_rows

    first = import_on_thread(write_demo(tmp_path, 2_000), "first").outcome()
    assert first.accepted, first.report.errors[:3]
    thread = import_on_thread(big_file, "second")
    pid, _ = copy_under_way(monitor)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '300ms'")  # waiting for the import to commit fails the test
        rows = release_rows(first.release, after_line=0, limit=3)
    assert [row["line"] for row in rows] == [2, 3, 4]
    assert query(monitor, "SELECT count(*) FROM pg_stat_progress_copy WHERE pid = %s", (pid,)) == [(1,)], (
        "the import was over before the read, which proves nothing"
    )
    second = thread.outcome()
    assert (second.status, second.release.version, second.release.rows) == ("accepted", 2, BIG_ROWS)


def says_connection_lost(text: str) -> bool:
    """A clear error: that the database connection was lost or closed (psycopg2 itself often says only
    "invalid socket"; the server's reason, when libpq got it before the socket closed, may follow)."""
    return "connection" in text and ("lost" in text or "closed" in text)


def test_a_connection_terminated_during_copy_fails_cleanly_and_stores_nothing(orgs, monitor, big_file):
    before = storage_rows(monitor)
    thread = import_on_thread(big_file, "doomed")
    terminate_during_copy(monitor)
    error = thread.failure(timeout=10)
    assert not Release.objects.exists()
    assert storage_rows(monitor) == before
    assert not AuditLogEntry.objects.filter(action=AuditLogEntry.Action.UPLOADED).exists()

    again = import_on_thread(big_file, "again").outcome()
    assert again.status == "accepted", again.report.errors[:3]
    assert (again.release.version, again.release.rows) == (1, BIG_ROWS)
    assert storage_rows(monitor, again.release.pk) == BIG_ROWS
    assert storage_rows(monitor) == before + BIG_ROWS
    # The error is Django's (as every other database error its callers see) and says what happened.
    assert isinstance(error, OperationalError), repr(error)
    assert says_connection_lost(str(error)), str(error)


def test_an_upload_job_whose_connection_is_terminated_during_copy_is_failed_with_a_reason(
    orgs, monitor, big_file, monkeypatch, django_user_model
):
    from audits import tasks
    from audits.services import create_import_job, run_import_job, sync_audit

    monkeypatch.setattr(tasks.run_import_job, "delay", lambda job_id: None)  # this test runs the job itself
    group = sync_audit(get_definition("bowel")).analyst_group_name
    user = django_user_model.objects.create_user("ana", password="pw-for-tests-only")
    user.groups.add(Group.objects.get(name=group))
    before = storage_rows(monitor)
    with big_file.open("rb") as upload:
        job = create_import_job(
            audit_code="bowel",
            upload=File(upload, name=big_file.name),
            extract_date=EXTRACT_DATE,
            actor=Actor(via=AuditLogEntry.Via.WEB, user=user),
        )
    saved = Path(job.file.path)
    thread = Running(lambda: run_import_job(job.pk))
    thread.start()
    terminate_during_copy(monitor)
    error = thread.failure(timeout=10)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert job.finished_at is not None
    assert not job.file and not saved.exists()
    assert not Release.objects.exists()
    assert storage_rows(monitor) == before
    assert [e.target for e in AuditLogEntry.objects.all()] == [f"import {job.pk}"]  # the upload, no release
    assert isinstance(error, OperationalError), repr(error)
    assert says_connection_lost(job.failure), job.failure
