"""A small world for the API and role tests: a computed bowel release, one user per role, their tokens.

The release is a generated demo extract imported and computed the way production does it
(eager tasks), with one patient id replaced by a sentinel that must never reach anyone but
the bowel analysts. It is built once per test module (``built_world``) and each test rolls back
what it changes (``world``).
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import TestCase, override_settings

from accounts.models import AllianceLead
from accounts.services import Actor, create_token
from audits.models import ImportJob, Release
from audits.organisations import load_organisations
from audits.registry import get_definition
from audits.services import create_import_job, import_extract, sync_audit
from dashboards.selectors import CACHE, DERIVED
from indicators.models import IndicatorResult, TrendSeries

SENTINEL = "PTSENTINEL0001"
ROLES = ("public", "clinician", "lead", "analyst", "other_analyst", "staff")
EXTRACT_DATE = date(2026, 3, 31)
PASSWORD = "pw-for-tests-only"  # noqa: S105


@pytest.fixture(scope="session")
def demo_extract(tmp_path_factory) -> bytes:
    """A 1,500-row bowel extract (seeded), with the first patient id replaced by the sentinel."""
    path: Path = tmp_path_factory.mktemp("api") / "bowel.csv"
    call_command(
        "generate_demo_extract",
        str(path),
        audit="bowel",
        rows=1500,
        seed=11,
        extract_date=EXTRACT_DATE.isoformat(),
        stdout=io.StringIO(),
    )
    header, first, rest = path.read_text().split("\n", 2)
    first = SENTINEL + first[first.index(",") :]
    return f"{header}\n{first}\n{rest}".encode()


@dataclass
class World:
    release: Release
    job: ImportJob
    users: dict[str, User | None]
    keys: dict[str, str] = field(default_factory=dict)
    token_ids: dict[str, int] = field(default_factory=dict)
    alliance: str = "E56000019"

    def auth(self, role: str) -> dict[str, str]:
        """Request headers that authenticate as ``role`` with its API token (none for the public)."""
        return {"HTTP_AUTHORIZATION": f"Token {self.keys[role]}"} if role in self.keys else {}

    @property
    def small_result(self) -> IndicatorResult:
        """A trust's result whose numerator is a small count (1-7): suppressed for all but the analysts."""
        return (
            IndicatorResult.objects.filter(
                release=self.release, level="provider", numerator__gte=1, numerator__lte=7, denominator__gte=10
            )
            .order_by("indicator", "organisation", "period")
            .first()
        )

    @property
    def trend(self) -> TrendSeries:
        """A trust's quarterly series with an XmR chart and at least one suppressed quarter."""
        for trend in TrendSeries.objects.filter(
            run__release=self.release, level="provider", xmr__isnull=False
        ).order_by("indicator", "organisation"):
            if any(1 <= p["numerator"] <= 7 for p in trend.points):
                return trend
        raise AssertionError("the demo extract has no trust series with a small quarter")


def make_user(username: str, **extra) -> User:
    return User.objects.create_user(username, password=PASSWORD, **extra)


def build_world(demo_extract: bytes) -> World:
    """Import and compute the demo extract, and make one user per role with a token (in the caller's transaction)."""
    load_organisations()
    for code in ("bowel", "lung"):
        sync_audit(get_definition(code))
    with TestCase.captureOnCommitCallbacks(execute=True):
        outcome = import_extract(
            audit_code="bowel",
            stream=io.BytesIO(demo_extract),
            file_name="bowel.csv",
            extract_date=EXTRACT_DATE,
            actor=Actor.command_line(name="tests"),
        )
    assert outcome.accepted, outcome.as_json()
    users: dict[str, User | None] = {
        "public": None,
        "clinician": make_user("clinician"),
        "lead": make_user("lead"),
        "analyst": make_user("analyst"),
        "other_analyst": make_user("lunganalyst"),
        "staff": make_user("staff", is_staff=True),
    }
    AllianceLead.objects.create(user=users["lead"], alliance_id="E56000019")
    users["analyst"].groups.add(Group.objects.get(name="analysts:bowel"))
    users["other_analyst"].groups.add(Group.objects.get(name="analysts:lung"))
    # A second upload of the same file waits in the queue (its task is never run here).
    job = create_import_job(
        audit_code="bowel",
        upload=SimpleUploadedFile("again.csv", b"patient_id\n"),
        extract_date=EXTRACT_DATE,
        actor=Actor(via="web", user=users["analyst"]),
    )
    world = World(release=outcome.release, job=job, users=users)
    for role, user in users.items():
        if user is not None:
            token, key = create_token(user=user, name="tests", via="cli")
            world.keys[role], world.token_ids[role] = key, token.pk
    return world


@pytest.fixture(scope="module")
def built_world(django_db_setup, django_db_blocker, demo_extract, tmp_path_factory):
    """The world, built once per test module (it takes seconds) inside a transaction that is rolled back after
    the module's last test: each test runs in a savepoint of it (pytest-django's per-test transaction, nested),
    so it starts from the world as built and what it changes is undone. Transactional tests, which would flush
    it, cannot use it (pytest-django runs them after all the others, so none runs inside it)."""
    media = tmp_path_factory.mktemp("world-media")
    outer = transaction.atomic()
    outer._from_testcase = True  # type: ignore[attr-defined]  # as django.test.TestCase marks its own
    with django_db_blocker.unblock():
        outer.__enter__()
        try:
            # The API reads results, not the dashboards' page pieces: they are not built ahead here (a test that
            # opens a page builds its pieces on that first visit, as a new run's first visitor would).
            with override_settings(MEDIA_ROOT=media, AFTER_RUN_TASKS=[]):
                world = build_world(demo_extract)
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield world, media
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture
def world(built_world, orgs, settings, tmp_path, request) -> World:
    """The module's world for one test: its own copies of the objects, uploads in its own MEDIA_ROOT, no
    page pieces decoded by an earlier test (their caches are keyed by ids that are the same in every test)."""
    marker = request.node.get_closest_marker("django_db")
    if (marker and marker.kwargs.get("transaction")) or {"transactional_db", "live_server"} & set(request.fixturenames):
        raise pytest.UsageError("world is built in a transaction: a transactional test cannot use it")
    built, media = built_world
    settings.MEDIA_ROOT = tmp_path / "media"
    shutil.copytree(media, settings.MEDIA_ROOT)
    settings.AFTER_RUN_TASKS = []
    CACHE.clear()
    DERIVED.clear()
    return World(
        release=Release.objects.get(pk=built.release.pk),
        job=ImportJob.objects.get(pk=built.job.pk),
        users={role: None if user is None else User.objects.get(pk=user.pk) for role, user in built.users.items()},
        keys=dict(built.keys),
        token_ids=dict(built.token_ids),
    )
