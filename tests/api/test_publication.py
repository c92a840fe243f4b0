"""Staged publication through the API: an upload is a draft unless ``publish`` is true; a draft's results reach
its audit's analysts and staff only; ``POST releases/{id}/publish/`` publishes it, for those roles only, and is
in the audit log, as a withdrawal is."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AuditLogEntry
from audits.models import ImportJob, Release
from tests.api.conftest import World
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db
UPLOAD = reverse("api:import-list")
RESULTS = reverse("api:result-list")
MAY_NOT = ("clinician", "lead", "other_analyst")


def upload(client, world: World, django_capture_on_commit_callbacks, **extra) -> ImportJob:
    data = (FIXTURES / "bowel" / "valid.csv").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            UPLOAD,
            {
                "audit": "bowel",
                "extract_date": "2025-03-31",
                "file": SimpleUploadedFile("valid.csv", data, content_type="text/csv"),
                **extra,
            },
            **world.auth("analyst"),
        )
    assert response.status_code == 202, response.content
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.status == "accepted", job.result
    return job


def served_releases(client, world: World, role: str, **params) -> set[int]:
    response = client.get(RESULTS, {"audit": "bowel", "level": "national", **params}, **world.auth(role))
    assert response.status_code == 200, response.content
    return {row["release"] for row in response.json()["results"]}


def test_an_api_upload_is_a_draft_by_default_and_its_results_are_the_analysts_and_staffs_only(
    client, world, django_capture_on_commit_callbacks
):
    job = upload(client, world, django_capture_on_commit_callbacks)
    draft = job.release
    assert job.publish is False and draft.status == Release.Status.DRAFT
    polled = client.get(reverse("api:import-detail", args=[job.pk]), **world.auth("analyst")).json()
    assert polled["publish"] is False
    assert draft.runs.filter(is_current=True, status="done").exists()  # computed, as any release
    for role in ("public", *MAY_NOT, "analyst", "staff"):
        assert served_releases(client, world, role) == {world.release.pk}, role  # the published release's
        drafts = client.get(RESULTS, {"release": draft.pk}, **world.auth(role))
        listed = client.get(reverse("api:release-list"), {"audit": "bowel"}, **world.auth(role)).json()["results"]
        detail = client.get(reverse("api:release-detail", args=[draft.pk]), **world.auth(role))
        if role in ("analyst", "staff"):
            assert drafts.status_code == 200 and {r["release"] for r in drafts.json()["results"]} == {draft.pk}
            assert {(r["id"], r["status"], r["is_current"]) for r in listed} >= {(draft.pk, "draft", False)}
            assert detail.status_code == 200 and detail.json()["status"] == "draft"
        else:
            assert drafts.status_code == 404, role
            assert draft.pk not in {r["id"] for r in listed}, role
            assert detail.status_code == 404, role
    for view in ("api:model-card", "api:xmr"):
        args = ["bowel", "mortality_90d"] + (["E92000001"] if view == "api:xmr" else [])
        assert client.get(reverse(view, args=args), {"release": draft.pk}).status_code == 404, view
    audits = client.get(reverse("api:audit-list")).json()["results"]
    assert next(a for a in audits if a["code"] == "bowel")["current_release"] == world.release.pk


def test_an_api_upload_with_publish_true_is_published_at_once(client, world, django_capture_on_commit_callbacks):
    job = upload(client, world, django_capture_on_commit_callbacks, publish="true")
    release = job.release
    assert job.publish is True and release.status == Release.Status.ACCEPTED
    assert release.published_by == world.users["analyst"]
    assert served_releases(client, world, "public") == {release.pk}
    entry = AuditLogEntry.objects.get(action=AuditLogEntry.Action.PUBLISHED, target=f"release {release.pk}")
    assert (entry.actor, entry.via) == (world.users["analyst"], "api")


def test_publish_is_one_boolean_form_field(client, world):
    data = (FIXTURES / "bowel" / "valid.csv").read_bytes()
    for publish in (["true", "true"], "perhaps"):
        response = client.post(
            UPLOAD,
            {
                "audit": "bowel",
                "extract_date": "2025-03-31",
                "file": SimpleUploadedFile("v.csv", data),
                "publish": publish,
            },
            **world.auth("analyst"),
        )
        assert response.status_code == 400 and "publish" in response.json(), publish
    assert not ImportJob.objects.exclude(pk=world.job.pk).exists()


def test_the_publish_action_is_for_the_audits_analysts_and_staff(client, world, django_capture_on_commit_callbacks):
    draft = upload(client, world, django_capture_on_commit_callbacks).release
    url = reverse("api:release-publish", args=[draft.pk])
    assert client.post(url).status_code == 401
    for role in MAY_NOT:
        assert client.post(url, **world.auth(role)).status_code == 403, role
    draft.refresh_from_db()
    published = AuditLogEntry.objects.filter(action=AuditLogEntry.Action.PUBLISHED, target=f"release {draft.pk}")
    assert draft.is_draft and not published.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, REMOTE_ADDR="192.0.2.7", **world.auth("analyst"))
    assert response.status_code == 200
    detail = client.get(reverse("api:release-detail", args=[draft.pk]), **world.auth("analyst")).json()
    assert response.json() == detail
    assert detail["status"] == "accepted" and detail["is_current"] and detail["published_by"] == "analyst"
    assert served_releases(client, world, "public") == {draft.pk}
    (entry,) = published
    assert (entry.actor, entry.via, entry.ip, entry.audit_code, entry.details) == (
        world.users["analyst"],
        "api",
        "192.0.2.7",
        "bowel",
        {"version": draft.version},
    )
    again = client.post(url, **world.auth("staff"))
    assert again.status_code == 409 and "published already" in again.json()["detail"]
    withdrawn = client.post(
        reverse("api:release-withdraw", args=[world.release.pk]), {"reason": "superseded"}, **world.auth("staff")
    )
    assert withdrawn.status_code == 200
    refused = client.post(reverse("api:release-publish", args=[world.release.pk]), **world.auth("staff"))
    assert refused.status_code == 409 and "withdrawn" in refused.json()["detail"]
    assert published.all().count() == 1  # a fresh query


def test_staff_publish_and_a_draft_withdrawn_through_the_api_is_logged(
    client, world, django_capture_on_commit_callbacks
):
    first = upload(client, world, django_capture_on_commit_callbacks).release
    response = client.post(
        reverse("api:release-withdraw", args=[first.pk]), {"reason": "a test file"}, **world.auth("analyst")
    )
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    entry = AuditLogEntry.objects.get(action=AuditLogEntry.Action.WITHDREW)
    assert (entry.actor, entry.via, entry.target, entry.details) == (
        world.users["analyst"],
        "api",
        f"release {first.pk}",
        {"version": first.version, "reason": "a test file"},
    )
    assert client.post(reverse("api:release-publish", args=[first.pk]), **world.auth("staff")).status_code == 409
    assert served_releases(client, world, "public") == {world.release.pk}


def test_the_schema_documents_the_publish_action_and_field(client):
    schema = client.get(reverse("api:schema"), {"format": "json"}).json()
    action = schema["paths"]["/api/v1/releases/{release_id}/publish/"]["post"]
    assert {"200", "409"} <= set(action["responses"])
    upload_schema = schema["components"]["schemas"]["UploadRequest"]["properties"]
    assert upload_schema["publish"]["type"] == "boolean" and upload_schema["publish"]["default"] is False
