"""Staged publication: a release starts as a draft or is published at once, as its door chose; only its audit's
analysts, staff and the command line publish a draft; the public sees the published release until then; every
publication and withdrawal is in the audit log; the work that follows a publication runs once it is committed."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AllianceLead, AuditLogEntry
from accounts.services import Actor
from audits.models import ImportJob, Release
from audits.registry import get_definition
from audits.services import NotPublishable, import_extract, publish_release, sync_audit, withdraw_release
from indicators.selectors import shown_runs
from tests.conftest import FIXTURES, run_command

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-only"  # noqa: S105


class Recorder:
    """A stand-in for a Celery task of ``AFTER_PUBLISH_TASKS``: records the release ids it is sent."""

    sent: list[int] = []

    @classmethod
    def delay(cls, release_id: int) -> None:
        cls.sent.append(release_id)


class Broken:
    @staticmethod
    def delay(release_id: int) -> None:
        raise ConnectionError("the broker cannot be reached")


RECORDER = f"{__name__}.Recorder"
BROKEN = f"{__name__}.Broken"


@pytest.fixture
def people(orgs, settings, tmp_path):
    """The bowel audit's analyst, the lung audit's, staff, a clinician and an alliance lead."""
    settings.MEDIA_ROOT = tmp_path / "media"
    for code in ("bowel", "lung"):
        sync_audit(get_definition(code))
    users = {
        "analyst": User.objects.create_user("ana", password=PASSWORD),
        "other_analyst": User.objects.create_user("lungana", password=PASSWORD),
        "staff": User.objects.create_user("staff", password=PASSWORD, is_staff=True),
        "clinician": User.objects.create_user("clin", password=PASSWORD),
        "lead": User.objects.create_user("lead", password=PASSWORD),
    }
    users["analyst"].groups.add(Group.objects.get(name="analysts:bowel"))
    users["other_analyst"].groups.add(Group.objects.get(name="analysts:lung"))
    AllianceLead.objects.create(user=users["lead"], alliance_id="E56000019")
    Recorder.sent = []
    return users


def cli_import(name: str, *, publish: bool = True) -> Release:
    with (FIXTURES / "bowel" / f"{name}.csv").open("rb") as f:
        outcome = import_extract(
            audit_code="bowel",
            stream=f,
            file_name=f"{name}.csv",
            extract_date=date(2025, 3, 31),
            actor=Actor.command_line(name="tests"),
            publish=publish,
        )
    assert outcome.accepted, outcome.as_json()
    return outcome.release


def web_upload(client, name: str, **extra):
    data = (FIXTURES / "bowel" / f"{name}.csv").read_bytes()
    return client.post(
        reverse("upload", args=["bowel"]),
        {
            "file": SimpleUploadedFile(f"{name}.csv", data, content_type="text/csv"),
            "extract_date": "2025-03-31",
            **extra,
        },
    )


def published_entries() -> list[AuditLogEntry]:
    return list(AuditLogEntry.objects.filter(action=AuditLogEntry.Action.PUBLISHED).order_by("pk"))


# ---------------------------------------------------------------- the web door


def test_the_upload_form_offers_publish_at_once_unticked(client, people):
    client.force_login(people["analyst"])
    page = client.get(reverse("upload", args=["bowel"])).content.decode()
    assert 'type="checkbox" name="publish"' in page and "Publish at once" in page
    checkbox = page[page.index('name="publish"') - 40 : page.index('name="publish"') + 60]
    assert "checked" not in checkbox


def test_a_web_upload_stays_a_draft_until_published(client, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = cli_import("valid")
    shown = shown_runs()["bowel"]
    assert shown.release_id == first.pk
    client.force_login(people["analyst"])
    with django_capture_on_commit_callbacks(execute=True):
        web_upload(client, "valid_iso")
    draft = ImportJob.objects.get().release
    assert draft is not None and draft.status == Release.Status.DRAFT and draft.published_at is None
    # Its computation ran, as on any release, but the public is still shown the published release's run.
    assert draft.runs.filter(is_current=True, status="done").exists()
    assert shown_runs()["bowel"].release_id == first.pk
    assert Release.objects.current("bowel") == first
    client.logout()
    audit_page = client.get(reverse("audit", args=["bowel"])).content.decode()
    assert f"Release {first.version}," in audit_page and f"Release {draft.version}," not in audit_page
    api = client.get(reverse("api:result-list"), {"audit": "bowel", "level": "national"}).json()
    assert {row["release"] for row in api["results"]} == {first.pk}

    # The analyst reads the draft and publishes it from its page.
    client.force_login(people["analyst"])
    listing = client.get(reverse("release-list", args=["bowel"])).content.decode()
    assert "Draft, not published" in listing
    detail = client.get(reverse("release-detail", args=[draft.pk])).content.decode()
    assert "Draft, not published" in detail and reverse("release-publish", args=[draft.pk]) in detail
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("release-publish", args=[draft.pk]))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Release.Status.ACCEPTED and draft.published_by == people["analyst"]
    assert draft.published_by_name == "ana" and draft.published_at is not None
    assert shown_runs()["bowel"].release_id == draft.pk
    client.logout()
    assert f"Release {draft.version}," in client.get(reverse("audit", args=["bowel"])).content.decode()
    (entry,) = [e for e in published_entries() if e.target == f"release {draft.pk}"]
    assert (entry.actor, entry.via, entry.audit_code, entry.details) == (
        people["analyst"],
        "web",
        "bowel",
        {"version": draft.version},
    )


def test_ticking_publish_at_once_publishes_the_web_upload(client, people, django_capture_on_commit_callbacks):
    client.force_login(people["analyst"])
    with django_capture_on_commit_callbacks(execute=True):
        web_upload(client, "valid", publish="on")
    job = ImportJob.objects.get()
    assert job.publish is True
    release = job.release
    assert release.status == Release.Status.ACCEPTED and release.published_by == people["analyst"]
    (entry,) = published_entries()
    assert (entry.actor, entry.via, entry.target) == (people["analyst"], "web", f"release {release.pk}")
    assert shown_runs()["bowel"].release_id == release.pk


def test_the_publish_button_is_a_post_with_csrf_for_those_who_may_publish(client, people):
    draft = cli_import("valid", publish=False)
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(people["analyst"])
    assert csrf_client.post(reverse("release-publish", args=[draft.pk])).status_code == 403  # no CSRF token
    assert client.get(reverse("release-publish", args=[draft.pk])).status_code in (302, 405)
    for role in ("clinician", "lead", "other_analyst"):
        client.force_login(people[role])
        assert client.post(reverse("release-publish", args=[draft.pk])).status_code == 403, role
    draft.refresh_from_db()
    assert draft.is_draft and not published_entries()
    client.force_login(people["staff"])
    detail = client.get(reverse("release-detail", args=[draft.pk])).content.decode()
    assert 'name="csrfmiddlewaretoken"' in detail and reverse("release-publish", args=[draft.pk]) in detail
    assert client.post(reverse("release-publish", args=[draft.pk])).status_code == 302
    draft.refresh_from_db()
    assert draft.is_published and draft.published_by == people["staff"]


def test_the_data_quality_page_reports_on_the_draft_with_a_publish_button(client, people):
    first = cli_import("valid")
    draft = cli_import("valid_iso", publish=False)
    client.force_login(people["analyst"])
    page = client.get(reverse("data-quality", args=["bowel"])).content.decode()
    assert f"Draft release: {draft.version}, not published" in page
    assert reverse("release-publish", args=[draft.pk]) in page
    assert f"show release {first.version} until it is published" in page
    releases = client.get(reverse("data-quality", args=["bowel"]) + "?download=releases").content.decode()
    assert "draft" in releases and "published_at" in releases.splitlines()[0]


# ---------------------------------------------------------------- the command line


def test_import_extract_publishes_at_once_unless_draft(people):
    code, out, _ = run_command(
        "import_extract", str(FIXTURES / "bowel" / "valid.csv"), audit="bowel", extract_date="2025-03-31"
    )
    assert code == 0 and "published" in out
    published = Release.objects.get()
    assert published.is_published and published.published_by_name == published.uploaded_by_name
    (entry,) = published_entries()
    assert (entry.via, entry.target) == ("cli", f"release {published.pk}")

    code, out, _ = run_command(
        "import_extract",
        str(FIXTURES / "bowel" / "valid_iso.csv"),
        audit="bowel",
        extract_date="2025-03-31",
        draft=True,
    )
    draft = Release.objects.exclude(pk=published.pk).get()
    assert code == 0 and draft.is_draft and f"publish_release {draft.pk}" in out
    assert len(published_entries()) == 1
    assert Release.objects.current("bowel") == published
    assert list(Release.objects.drafts()) == [draft]


def test_the_publish_release_command_publishes_a_draft_and_explains_what_it_cannot(people):
    published = cli_import("valid")
    draft = cli_import("valid_iso", publish=False)
    code, out, _ = run_command("publish_release", str(draft.pk))
    draft.refresh_from_db()
    assert code == 0 and draft.is_published and f"Published {draft}" in out and str(published) in out
    entry = published_entries()[-1]
    assert (entry.via, entry.target, entry.actor) == ("cli", f"release {draft.pk}", None) and entry.actor_name

    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no release with id 999999"):
        run_command("publish_release", "999999")
    with pytest.raises(CommandError, match="published already"):
        run_command("publish_release", str(draft.pk))
    withdraw_release(release=published, actor=Actor.command_line(name="tests"), reason="wrong")
    with pytest.raises(CommandError, match="withdrawn"):
        run_command("publish_release", str(published.pk))
    with pytest.raises(CommandError, match="no user called"):
        run_command("publish_release", str(draft.pk), user="nobody")


def test_the_publish_release_command_records_the_named_user(people):
    draft = cli_import("valid", publish=False)
    run_command("publish_release", str(draft.pk), user="ana")
    draft.refresh_from_db()
    assert draft.published_by == people["analyst"] and draft.published_by_name == "ana"


# ---------------------------------------------------------------- the service's rules


@pytest.mark.parametrize("role", ["clinician", "lead", "other_analyst"])
def test_only_the_audits_analysts_staff_and_the_command_line_may_publish(people, role):
    draft = cli_import("valid", publish=False)
    for via in ("web", "api"):
        with pytest.raises(PermissionDenied):
            publish_release(draft, Actor(via=via, user=people[role]))
    draft.refresh_from_db()
    assert draft.is_draft and not published_entries()


def test_only_a_draft_is_published_and_never_one_older_than_the_published_release(people):
    older = cli_import("valid", publish=False)
    newer = cli_import("valid_iso", publish=False)
    actor = Actor(via="api", user=people["analyst"])
    publish_release(newer, actor)
    with pytest.raises(NotPublishable, match="published already"):
        publish_release(newer, actor)
    with pytest.raises(NotPublishable, match="older than"):
        publish_release(older, actor)
    older.refresh_from_db()
    assert older.is_draft and len(published_entries()) == 1


def test_withdrawing_a_draft_is_allowed_and_logged(client, people):
    published = cli_import("valid")
    draft = cli_import("valid_iso", publish=False)
    client.force_login(people["analyst"])
    response = client.post(reverse("release-withdraw", args=[draft.pk]), {"reason": "the wrong quarter"}, follow=True)
    assert "was never published" in response.content.decode()
    draft.refresh_from_db()
    assert draft.is_withdrawn and draft.published_at is None
    entry = AuditLogEntry.objects.get(action=AuditLogEntry.Action.WITHDREW)
    assert (entry.actor, entry.via, entry.target, entry.details) == (
        people["analyst"],
        "web",
        f"release {draft.pk}",
        {"version": draft.version, "reason": "the wrong quarter"},
    )
    assert Release.objects.current("bowel") == published
    with pytest.raises(NotPublishable, match="withdrawn"):
        publish_release(draft, Actor.command_line(name="tests"))


def test_after_publish_tasks_run_once_committed_with_the_release_id(
    people, settings, django_capture_on_commit_callbacks
):
    settings.AFTER_PUBLISH_TASKS = [RECORDER]
    draft = cli_import("valid", publish=False)
    assert Recorder.sent == []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publish_release(draft, Actor.command_line(name="tests"))
    assert Recorder.sent == []  # not before the commit
    for callback in callbacks:
        callback()
    assert Recorder.sent == [draft.pk]
    with django_capture_on_commit_callbacks(execute=True):
        at_once = cli_import("valid_iso")
    assert Recorder.sent == [draft.pk, at_once.pk]


def test_a_failing_after_publish_task_leaves_the_release_published(
    people, settings, django_capture_on_commit_callbacks
):
    settings.AFTER_PUBLISH_TASKS = [BROKEN, RECORDER]
    draft = cli_import("valid", publish=False)
    with django_capture_on_commit_callbacks(execute=True):
        publish_release(draft, Actor.command_line(name="tests"))
    draft.refresh_from_db()
    assert draft.is_published and Recorder.sent == [draft.pk]


def test_a_refused_or_unpublished_upload_sends_nothing(people, settings, django_capture_on_commit_callbacks):
    settings.AFTER_PUBLISH_TASKS = [RECORDER]
    with django_capture_on_commit_callbacks(execute=True):
        cli_import("valid", publish=False)
    assert Recorder.sent == []


# ---------------------------------------------------------------- releases from before drafts


@pytest.mark.django_db(transaction=True)
def test_releases_stored_before_drafts_count_as_published_when_they_were_uploaded():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("audits", "0004_trust_country")], [("audits", "0005_release_publication")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    audit = old.get_model("audits", "Audit").objects.create(code="bowel", name="Bowel", short_name="NBOCA")
    user = old.get_model("auth", "User").objects.create(username="ana")
    release = old.get_model("audits", "Release").objects.create(
        audit=audit,
        version=1,
        status="withdrawn",
        sha256="0" * 64,
        extract_date=date(2025, 3, 31),
        origin="web",
        uploaded_by=user,
        uploaded_by_name="ana",
        definition={},
        definition_sha="0" * 64,
        storage_table="none",
    )
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # every app as the other tests expect it
    migrated = Release.objects.get(pk=release.pk)
    assert migrated.published_at == release.uploaded_at and migrated.published_by_id == user.pk
    assert (migrated.published_by_name, migrated.status) == ("ana", "withdrawn")
