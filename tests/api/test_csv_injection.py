"""The API's CSV as an attacker would use it: formula text in file names and withdrawal reasons reaches the
audit's other analysts as text, also after leading spaces; numbers, and text that is only a number, stay numbers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.services import create_token
from api.renderers import CSVRenderer
from audits.registry import get_definition
from audits.services import sync_audit
from tests.conftest import FIXTURES
from tests.csv_attacks import HOSTILE, assert_safe, hostile_history, rows_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def analyst(orgs, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    sync_audit(get_definition("bowel"))
    user = User.objects.create_user("csv-pipeline")
    user.groups.add(Group.objects.get(name="analysts:bowel"))
    _, key = create_token(user=user, name="nightly", via="cli")
    return user, {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_release_file_names_and_withdrawal_reasons_come_as_text(client, analyst):
    user, auth = analyst
    hostile_history("bowel", user)
    response = client.get(reverse("api:release-list") + "?audit=bowel&format=csv&page_size=100", **auth)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    releases = {row["version"]: row for row in rows_of(response.content)}
    for i, payload in enumerate(HOSTILE, start=1):
        assert_safe(releases[str(1000 + i)]["file_name"], payload)
        assert_safe(releases[str(1000 + i)]["withdrawn_reason"], payload)


def test_an_uploads_name_and_a_withdrawal_reason_given_through_the_api_come_back_as_text(
    client, analyst, django_capture_on_commit_callbacks
):
    user, auth = analyst
    name = "  @SUM(A1).csv"  # a spreadsheet runs it after the spaces too
    reason = '=HYPERLINK("http://x","y")'  # the API trims white space around a reason
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("api:import-list"),
            {
                "audit": "bowel",
                "extract_date": "2025-03-31",
                "file": SimpleUploadedFile(
                    name, (FIXTURES / "bowel" / "valid.csv").read_bytes(), content_type="text/csv"
                ),
            },
            **auth,
        )
    (job,) = rows_of(client.get(reverse("api:import-list") + "?format=csv", **auth).content)
    assert_safe(job["file_name"], name)
    release = job["release"]
    withdrawn = client.post(
        reverse("api:release-withdraw", args=[release]), {"reason": reason}, content_type="application/json", **auth
    )
    assert withdrawn.status_code == 200, withdrawn.content
    (row,) = rows_of(client.get(reverse("api:release-list") + "?format=csv", **auth).content)
    assert_safe(row["withdrawn_reason"], reason)
    assert_safe(row["file_name"], name)


def test_numbers_stay_numbers_and_only_text_is_neutralised():
    rendered = CSVRenderer().render([{"z": -0.5, "value": -3, "text_number": "-0.5", "label": "-1+1", "n": None}])
    (row,) = rows_of(rendered)
    assert row == {"z": "-0.5", "value": "-3", "text_number": "-0.5", "label": "'-1+1", "n": ""}
