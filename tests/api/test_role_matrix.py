"""Every role against every page, download and endpoint, as listed by the URLconf when the test runs.

A URL name that is not in EXPECTED fails the test: a new page or endpoint must say here who may
open it. Every response is also searched for a sentinel patient id, which only the bowel
analysts' patient-rows endpoint may contain; and every API list must come as CSV too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import AuditLogEntry
from audits.models import ImportJob, Release, Trust
from tests.api.conftest import ROLES, SENTINEL, World
from tests.conftest import FIXTURES

# Roles, in order: public, clinician, alliance lead, bowel analyst, lung analyst (other audit), staff.
ALL_200 = (200, 200, 200, 200, 200, 200)
SIGNED_IN_PAGE = (302, 200, 200, 200, 200, 200)
MANAGERS_PAGE = (302, 403, 403, 200, 403, 200)  # the audit's analysts and staff; anonymous to sign-in
MANAGERS_API = (401, 403, 403, 200, 403, 200)
ANALYSTS_ONLY_API = (401, 403, 403, 200, 403, 403)
SIGNED_IN_API = (401, 200, 200, 200, 200, 200)
STAFF_ADMIN = (302, 302, 302, 302, 302, 200)

# name: (method, expected status by role, query string or POST data)
EXPECTED: dict[str, tuple[str, tuple[int, ...], dict]] = {
    # pages: public dashboards (the dashboards app)
    "home": ("GET", ALL_200, {}),
    "search": ("GET", ALL_200, {"q": "manchester"}),
    "audit": ("GET", ALL_200, {}),
    "indicator": ("GET", ALL_200, {}),
    # the false-discovery-rate view of an indicator's funnel: the audit's analysts and staff
    "indicator-fdr": ("GET", MANAGERS_PAGE, {}),
    "inequalities": ("GET", ALL_200, {}),
    "trust": ("GET", ALL_200, {}),
    "trust-trend": ("GET", ALL_200, {}),
    "trust-flag-check": ("GET", ALL_200, {}),
    "alliance": ("GET", ALL_200, {}),
    # a trust's improvement plan (a trust of the lead's alliance): its alliance's lead, the audit's analysts and staff
    # (and the trust's lead); the form's unknown indicator sends them back with a message. Staff: 302, no longer 403
    # (issue 13: staff keep any trust's plan, as they move cases on)
    "trust-plan": ("POST", (302, 403, 302, 302, 403, 302), {"indicator": "bowel:nosuch", "what": "x", "who": "y"}),
    "alliance-trend": ("GET", ALL_200, {}),
    # board-ready outputs and where to act first: public, from published (suppressed) figures
    "alliance-act-first": ("GET", ALL_200, {}),
    "alliance-print": ("GET", ALL_200, {}),
    "trust-print": ("GET", ALL_200, {}),
    # a trust's page in plain words for patients and the public: the public figures, whoever reads it
    "trust-for-patients": ("GET", ALL_200, {}),
    # outlier cases' pages: those with a role in the outlier process (the audit team, trusts' and alliances'
    # leads); a clinician with none gets 403. The world has no case: a case's pages are 404 for the signed-in
    # (tests/outliers/test_pages.py has the matrix of a real case)
    "outlier-cases": ("GET", (302, 403, 200, 200, 200, 200), {}),
    "outlier-case": ("GET", (302, 404, 404, 404, 404, 404), {}),
    "outlier-case-advance": ("POST", (302, 404, 404, 404, 404, 404), {"outcome": "close"}),
    "outlier-case-response": ("POST", (302, 404, 404, 404, 404, 404), {}),
    "outlier-attachment": ("GET", (302, 404, 404, 404, 404, 404), {}),
    "outlier-case-rows": ("GET", (302, 404, 404, 404, 404, 404), {}),
    "funnel-tool": ("GET", (302, 403, 403, 200, 200, 200), {}),  # analysts of any audit, and staff
    "release-changes": ("GET", ALL_200, {}),  # a published release: public under suppression
    "data-quality": ("GET", MANAGERS_PAGE, {}),
    "data-quality-status": ("GET", MANAGERS_PAGE, {}),
    # pages: releases and uploads (the audits app)
    "release-list": ("GET", MANAGERS_PAGE, {}),
    "upload": ("GET", MANAGERS_PAGE, {}),
    "import-job": ("GET", MANAGERS_PAGE, {}),
    "import-job-status": ("GET", MANAGERS_PAGE, {}),
    "release-detail": ("GET", MANAGERS_PAGE, {}),
    # without a reason nothing is withdrawn: the managers are sent back to the release with a message
    "release-withdraw": ("POST", (302, 403, 403, 302, 403, 302), {}),
    # email alerts: a signed-in user's own subscriptions; the digest's signed unsubscribe link ("set-password"
    # is no valid token: 404 for everyone); following needs a POST (a GET is sent on to the subscriptions page)
    "alerts:subscriptions": ("GET", SIGNED_IN_PAGE, {}),
    "alerts:subscribe": ("GET", (302,) * 6, {}),
    "alerts:unsubscribe-own": ("POST", (302,) * 6, {}),  # no such trust: back with a message
    "alerts:unsubscribe": ("GET", (404,) * 6, {}),
    # the world's release is published already: nothing is published, the managers are sent back with a message
    "release-publish": ("POST", (302, 403, 403, 302, 403, 302), {}),
    # accounts
    "login": ("GET", ALL_200, {}),
    # the second step of signing in: anonymous to sign-in; everyone signed in (analysts and staff with
    # their code, as this test's client signs them in) is sent on to the page they asked for
    "two-factor": ("GET", (302,) * 6, {}),
    "logout": ("GET", (405,) * 6, {}),
    "password_change": ("GET", SIGNED_IN_PAGE, {}),
    "password_change_done": ("GET", SIGNED_IN_PAGE, {}),
    "password_reset": ("GET", ALL_200, {}),
    "password_reset_done": ("GET", ALL_200, {}),
    "password_reset_confirm": ("GET", ALL_200, {}),
    "password_reset_complete": ("GET", ALL_200, {}),
    "admin:index": ("GET", STAFF_ADMIN, {}),
    "admin:accounts_auditlogentry_changelist": ("GET", STAFF_ADMIN, {}),
    # API: published figures, for everyone
    "api:root": ("GET", ALL_200, {}),
    "api:schema": ("GET", ALL_200, {}),
    "api:docs": ("GET", ALL_200, {}),
    "api:redoc": ("GET", ALL_200, {}),
    "api:audit-list": ("GET", ALL_200, {}),
    "api:audit-detail": ("GET", ALL_200, {}),
    "api:indicator-list": ("GET", ALL_200, {}),
    "api:indicator-detail": ("GET", ALL_200, {}),
    "api:model-card": ("GET", ALL_200, {}),
    "api:xmr": ("GET", ALL_200, {}),
    "api:alliance-list": ("GET", ALL_200, {}),
    "api:alliance-detail": ("GET", ALL_200, {}),
    "api:trust-list": ("GET", ALL_200, {}),
    "api:trust-detail": ("GET", ALL_200, {}),
    "api:successor-list": ("GET", ALL_200, {}),
    "api:release-list": ("GET", ALL_200, {}),
    "api:release-detail": ("GET", ALL_200, {}),
    "api:result-list": ("GET", ALL_200, {}),
    "api:inequalities": (
        "GET",
        ALL_200,
        {"audit": "bowel", "indicator": "emergency_presentation", "dimension": "deprivation"},
    ),
    # API: signed in
    "api:token-list": ("GET", SIGNED_IN_API, {}),
    "api:token-detail": ("GET", (401, 404, 404, 200, 404, 404), {}),  # the analyst's token: theirs alone
    "api:import-list": ("GET", SIGNED_IN_API, {}),  # each sees the uploads of the audits they manage
    # API: the audit's analysts and staff
    "api:import-detail": ("GET", MANAGERS_API, {}),
    "api:release-rows": ("GET", ANALYSTS_ONLY_API, {}),
    # API: outlier cases, for those with a role in the outlier process (the audit team, trusts' and alliances'
    # leads); a clinician with none gets 403. The world has no case: those who may see cases get a 404 here
    # (tests/api/test_outliers.py has the matrix of a real case).
    "api:outlier-list": ("GET", (401, 403, 200, 200, 200, 200), {}),
    "api:outlier-detail": ("GET", (401, 403, 404, 404, 404, 404), {}),
    "api:outlier-transition": ("POST", (401, 403, 404, 404, 404, 404), {}),
    # writes, with a body that lacks what is needed: permission is checked first (403), then the body (400)
    "api:release-withdraw": ("POST", (401, 403, 403, 400, 403, 400), {}),
    "api:release-recompute": ("POST", (401, 403, 403, 202, 403, 202), {}),
    # the world's release is published already: 409 for those who may publish
    "api:release-publish": ("POST", (401, 403, 403, 409, 403, 409), {}),
}
# Writes sent to the upload endpoint (the same URL name as its GET list).
UPLOAD = ("POST", (401, 403, 403, 400, 403, 400), {"audit": "bowel", "extract_date": "2026-03-31"})


def url_names(patterns=None, namespace: str = "") -> dict[str, list[str]]:
    """Every named URL and its keyword arguments, from the URLconf (the admin site: its index and our log)."""
    found: dict[str, list[str]] = {}
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            if inner == "admin:":
                found.update({name: [] for name in ("admin:index", "admin:accounts_auditlogentry_changelist")})
                continue
            found.update(url_names(pattern.url_patterns, inner))
        elif isinstance(pattern, URLPattern) and pattern.name:
            found[namespace + pattern.name] = list(pattern.pattern.converters) or _kwargs_of(pattern)
    return found


def _kwargs_of(pattern: URLPattern) -> list[str]:
    regex = pattern.pattern.regex
    return list(regex.groupindex)


def kwargs_for(name: str, kwargs: list[str], world: World) -> dict[str, object]:
    trend = world.trend
    alliance_code = world.alliance
    by_name = {
        "code": {
            "indicator": trend.indicator,
            "indicator-fdr": trend.indicator,
            "inequalities": trend.indicator,
            "trust": trend.organisation,
            "trust-trend": trend.organisation,
            "trust-flag-check": trend.organisation,
            "trust-plan": trend.organisation,  # replaced below by a trust of the lead's alliance
            "alliance": alliance_code,
            "alliance-trend": alliance_code,
            "alliance-act-first": alliance_code,
            "alliance-print": alliance_code,
            "trust-print": trend.organisation,
            "trust-for-patients": trend.organisation,
            "api:trust-detail": trend.organisation,
            "api:alliance-detail": alliance_code,
        }
    }
    values = {
        "audit_code": "bowel",
        "indicator": "mortality_90d" if name == "api:model-card" else trend.indicator,
        "indicator_code": trend.indicator,
        "organisation": trend.organisation,
        "release_id": world.release.pk,
        "case_id": 1,
        "event_id": 1,
        "job_id": world.job.pk,
        "token_id": world.token_ids["analyst"],
        "uidb64": "MQ",
        "token": "set-password",
    }
    out = {}
    for kwarg in kwargs:
        if kwarg in by_name and name in by_name[kwarg]:
            out[kwarg] = by_name[kwarg][name]
        elif kwarg in values:
            out[kwarg] = values[kwarg]
        else:
            raise AssertionError(f"{name}: say in kwargs_for() what to pass as <{kwarg}>")
    if name == "alliance-trend":  # the alliance's own series of the same indicator
        out["code"] = alliance_code
    if name == "trust-plan":  # a trust of the alliance the lead leads
        out["code"] = Trust.objects.filter(alliance_id=alliance_code).order_by("code").values_list("code", flat=True)[0]
    return out


def request(client, world: World, role: str, name: str, method: str, data: dict, url: str):
    user = world.users[role]
    if name.startswith("api:"):
        headers = world.auth(role)
    else:
        headers = {}
        if user is not None:
            client.force_login(user)
    call = client.post if method == "POST" else client.get
    return call(url, data, **headers)


def test_every_url_in_the_urlconf_has_its_row_in_the_matrix():
    missing = sorted(set(url_names()) - set(EXPECTED))
    assert not missing, f"add these URL names to EXPECTED in {__file__}: {missing}"
    stale = sorted(set(EXPECTED) - set(url_names()))
    assert not stale, f"these names are no longer in the URLconf: {stale}"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_matrix_says_everywhere(client, world, role):
    index = ROLES.index(role)
    client.raise_request_exception = False  # a crashing page is a 500 in the list, not the end of the run
    wrong, leaks = [], []
    # Run the writes last, so that a permitted one cannot change what the reads see.
    names = sorted(url_names().items(), key=lambda item: (EXPECTED[item[0]][0] == "POST", item[0]))
    for name, kwargs in names:
        method, statuses, data = EXPECTED[name]
        url = reverse(name, kwargs=kwargs_for(name, kwargs, world))
        response = request(client, world, role, name, method, data, url)
        if response.status_code != statuses[index]:
            wrong.append(f"{method} {url} ({name}): {response.status_code}, expected {statuses[index]}")
        body = b"".join(response) if response.streaming else response.content
        if SENTINEL.encode() in body and not (name == "api:release-rows" and role == "analyst"):
            leaks.append(f"{url} ({name}) shows a patient id to {role}")
        client.logout()
    method, statuses, data = UPLOAD
    response = request(client, world, role, "api:import-list", method, data, reverse("api:import-list"))
    if response.status_code != statuses[index]:
        wrong.append(f"POST upload: {response.status_code}, expected {statuses[index]}")
    assert not leaks, "\n".join(leaks)
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


@pytest.mark.django_db
def test_the_sentinel_patient_is_in_the_rows_the_analyst_gets(client, world):
    """The leak check above can fail: the analyst's rows, JSON and CSV, do hold the sentinel."""
    url = reverse("api:release-rows", args=[world.release.pk])
    assert SENTINEL in client.get(url, **world.auth("analyst")).content.decode()
    assert SENTINEL in client.get(url, {"format": "csv"}, **world.auth("analyst")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["public", "analyst"])
def test_every_api_list_comes_as_csv_too(client, world, role):
    lists = [name for name in url_names() if name.startswith("api:") and name.endswith("-list")]
    assert len(lists) >= 9
    for name in lists:
        kwargs = kwargs_for(name, url_names()[name], world)
        response = client.get(reverse(name, kwargs=kwargs), {"format": "csv"}, **world.auth(role))
        expected = EXPECTED[name][1][ROLES.index(role)]
        assert response.status_code == expected, (name, response.status_code)
        if expected == 200:
            assert response["Content-Type"].startswith("text/csv"), name
            assert response.content.decode().count("\r\n") >= 1, name  # at least the header


# ---------------------------------------------------------------- hostile shapes of an upload (issue 9, part 1)
#
# What an attacker with a token tries on POST /api/v1/imports/: the audit they may not upload to sent
# as a file part (whose name, not its content, a choice field would read), repeated (one value for
# the check, the other for the import), as JSON, the extract date as a file part, and more than one
# file part. Only ``audit`` and ``extract_date`` as plain form fields, once each, with exactly one
# file part ``file``, is an upload.


def _valid_extract(name: str = "valid.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (FIXTURES / "bowel" / "valid.csv").read_bytes(), content_type="text/csv")


def _part(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/plain")


DATE = "2025-03-31"
HOSTILE_UPLOADS: dict[str, Callable[[], dict[str, Any]]] = {
    "audit as a file part named bowel": lambda: {
        "audit": _part("bowel", b"bowel"),
        "extract_date": DATE,
        "file": _valid_extract(),
    },
    "audit as a file part holding bowel": lambda: {
        "audit": _part("x", b"bowel"),
        "extract_date": DATE,
        "file": _valid_extract(),
    },
    "audit repeated, bowel first": lambda: {"audit": ["bowel", "lung"], "extract_date": DATE, "file": _valid_extract()},
    "audit repeated, bowel last": lambda: {"audit": ["lung", "bowel"], "extract_date": DATE, "file": _valid_extract()},
    "audit as a plain field and as a file part": lambda: {
        "audit": ["lung", _part("bowel", b"bowel")],
        "extract_date": DATE,
        "file": _valid_extract(),
    },
    "extract_date as a file part": lambda: {
        "audit": "bowel",
        "extract_date": _part(DATE, DATE.encode()),
        "file": _valid_extract(),
    },
    "extract_date repeated": lambda: {"audit": "bowel", "extract_date": [DATE, "2026-03-31"], "file": _valid_extract()},
    "two file parts named file": lambda: {
        "audit": "bowel",
        "extract_date": DATE,
        "file": [_valid_extract(), _valid_extract("second.csv")],
    },
    "a second file part under another name": lambda: {
        "audit": "bowel",
        "extract_date": DATE,
        "file": _valid_extract(),
        "extract": _valid_extract("second.csv"),
    },
}
JSON_UPLOAD = {"audit": "bowel", "extract_date": DATE, "file": "patient_id\nP1\n"}


def _state() -> tuple[list[tuple[int, str, str]], int, int, int | None]:
    releases = list(Release.objects.order_by("pk").values_list("pk", "audit_id", "status"))
    current = Release.objects.current("bowel")
    return (
        releases,
        ImportJob.objects.count(),
        AuditLogEntry.objects.filter(action=AuditLogEntry.Action.UPLOADED).count(),
        current.pk if current else None,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["clinician", "lead", "other_analyst"])
def test_no_shape_of_upload_lets_a_non_analyst_publish_a_bowel_release(
    client, world, role, django_capture_on_commit_callbacks
):
    """Each shape gets a 4xx and nothing changes: no job, no release, no log entry, the same current release.

    The jobs' tasks run as they would in production (on commit), so an upload that slipped through
    would become a release here.
    """
    before = _state()
    wrong = []
    url = reverse("api:import-list")
    shapes = {
        **HOSTILE_UPLOADS,
        "the ordinary shape": lambda: {"audit": "bowel", "extract_date": DATE, "file": _valid_extract()},
    }
    for shape, data in shapes.items():
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, data(), **world.auth(role))
        if not 400 <= response.status_code < 500:
            wrong.append(f"{shape}: {response.status_code} {response.content[:200]!r}")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, JSON_UPLOAD, content_type="application/json", **world.auth(role))
    if not 400 <= response.status_code < 500:
        wrong.append(f"audit as JSON: {response.status_code}")
    assert not wrong, f"{role}:\n" + "\n".join(wrong)
    assert _state() == before


@pytest.mark.django_db
def test_the_audits_own_analyst_must_use_the_one_shape_too(client, world, django_capture_on_commit_callbacks):
    """Hostile shapes are refused with 400 whoever sends them; JSON is 415; the ordinary shape is an upload."""
    before = _state()
    url = reverse("api:import-list")
    for shape, data in HOSTILE_UPLOADS.items():
        response = client.post(url, data(), **world.auth("analyst"))
        assert response.status_code == 400, (shape, response.status_code, response.content[:300])
    json_upload = client.post(url, JSON_UPLOAD, content_type="application/json", **world.auth("analyst"))
    assert json_upload.status_code == 415
    assert _state() == before
    with django_capture_on_commit_callbacks(execute=True):
        ordinary = client.post(
            url, {"audit": "bowel", "extract_date": DATE, "file": _valid_extract()}, **world.auth("analyst")
        )
    assert ordinary.status_code == 202, ordinary.content[:300]
    job = ImportJob.objects.get(pk=ordinary.json()["id"])
    job.refresh_from_db()
    assert (
        job.status == "accepted"
        and job.release.audit_id == "bowel"
        and job.release.uploaded_by == world.users["analyst"]
    )


@pytest.mark.django_db
def test_a_hostile_shape_is_named_in_the_answer(client, world):
    url = reverse("api:import-list")
    as_file = client.post(url, HOSTILE_UPLOADS["audit as a file part named bowel"](), **world.auth("analyst"))
    assert "audit" in as_file.json()
    repeated = client.post(url, HOSTILE_UPLOADS["audit repeated, bowel last"](), **world.auth("analyst"))
    assert "audit" in repeated.json()
    extra = client.post(url, HOSTILE_UPLOADS["a second file part under another name"](), **world.auth("analyst"))
    assert "extract" in extra.json()
