"""The pages' CSV downloads as an attacker would use them: file names, withdrawal reasons and funnel-tool unit names
that Excel would run as formulas reach the audit's other analysts as text; numbers stay numbers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audits.models import ImportJob
from audits.registry import get_definition
from audits.services import sync_audit
from tests.conftest import FIXTURES
from tests.csv_attacks import HOSTILE, assert_safe, hostile_history, rows_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def analyst(orgs, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    sync_audit(get_definition("bowel"))
    user = User.objects.create_user("csv-analyst")
    user.groups.add(Group.objects.get(name="analysts:bowel"))
    return user


def test_file_names_and_withdrawal_reasons_download_as_text(client, analyst):
    hostile_history("bowel", analyst)
    client.force_login(analyst)
    url = reverse("data-quality", args=["bowel"])
    releases = {r["version"]: r for r in rows_of(client.get(url + "?download=releases").content)}
    for i, payload in enumerate(HOSTILE, start=1):
        assert_safe(releases[str(1000 + i)]["file_name"], payload)
        assert_safe(releases[str(1000 + i)]["withdrawn_reason"], payload)
    uploads = rows_of(client.get(url + "?download=uploads").content)
    shown = {row["file_name"] for row in uploads}
    assert shown == {"'" + payload for payload in HOSTILE}


def test_a_file_uploaded_under_a_formula_name_is_listed_as_text(client, analyst, django_capture_on_commit_callbacks):
    name = "=1+2+cmd|' -C calc'!A0.csv"  # the browser sends the name; a "/" would be cut off as a folder
    client.force_login(analyst)
    data = (FIXTURES / "bowel" / "code_not_allowed.csv").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("upload", args=["bowel"]),
            {"file": SimpleUploadedFile(name, data, content_type="text/csv"), "extract_date": "2025-03-31"},
        )
    job = ImportJob.objects.get()
    assert job.file_name == name and job.status == "rejected"
    (row,) = rows_of(client.get(reverse("data-quality", args=["bowel"]) + "?download=uploads").content)
    assert_safe(row["file_name"], name)


def test_funnel_tool_unit_names_download_as_text_and_its_numbers_as_numbers(client, analyst):
    units = [(payload, n, 100) for payload, n in zip(HOSTILE, [2, 30, 45, 12, 80, 25, 60, 5, 40], strict=True)]
    table = "unit,numerator,denominator\n" + "\n".join(
        '"{}",{},{}'.format(u.replace('"', '""'), n, d) for u, n, d in units
    )
    client.force_login(analyst)
    form = {"kind": "proportion", "method": "exact", "overdispersion": "none", "table": table}
    response = client.post(reverse("funnel-tool"), {**form, "download": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = rows_of(response.content)
    # The funnel tool strips the cells it reads, so a name's leading and trailing white space is not kept.
    assert [row["unit"] for row in rows] == ["'" + payload.strip() for payload in HOSTILE]
    for row in rows:
        assert not row["unit"].lstrip().startswith(("=", "+", "-", "@"))
    low = [row for row in rows if row["z"].startswith("-")]
    assert low, "a unit below the target has a negative z"
    for row in rows:
        for column in ("value", "z", "limit_lower_95", "limit_upper_998"):
            float(row[column])  # a number, not text: no apostrophe in front of a negative value
