"""Property-based run of the whole API against its own OpenAPI schema, over HTTP to a live server.

Schemathesis generates requests from /api/v1/schema/ (valid and invalid parameters and bodies),
as an anonymous caller and as a bowel analyst with a token, and checks that no answer is a
server error and that every answer matches the schema's status codes, content types and shapes.
"""

from __future__ import annotations

import io

import pytest
import schemathesis
from django.contrib.auth.models import Group, User
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.services import Actor, create_token
from audits.registry import get_definition
from audits.services import import_extract, sync_audit
from tests.api.conftest import EXTRACT_DATE

pytestmark = [pytest.mark.slow, pytest.mark.schemathesis]
EXAMPLES = 25  # per operation and caller: about 30 operations, a minute or two in all


@pytest.fixture
def api_schema(live_server, transactional_db, orgs, demo_extract, settings_media):
    """The live server's schema, with a computed release behind it (tasks run in-process: no transaction here)."""
    for code in ("bowel", "lung"):
        sync_audit(get_definition(code))
    outcome = import_extract(
        audit_code="bowel",
        stream=io.BytesIO(demo_extract),
        file_name="bowel.csv",
        extract_date=EXTRACT_DATE,
        actor=Actor.command_line(name="tests"),
    )
    assert outcome.accepted
    return schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/?format=json")


@pytest.fixture
def settings_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def analyst_key(transactional_db) -> str:
    user = User.objects.create_user("fuzz")
    user.groups.add(Group.objects.get_or_create(name="analysts:bowel")[0])
    return create_token(user=user, name="schemathesis", via="cli")[1]


def test_no_request_makes_a_server_error_or_breaks_the_schema(api_schema, analyst_key):
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        # An upload whose file fails the audit's checks is a request the schema cannot tell from a good
        # one: it is rightly refused (422, with the error report), so "valid data is accepted" does not hold;
        # nor for a case's transition, whose outcomes depend on the case's current stage (400 for another).
        refused_by_state = ("POST /api/v1/imports/", "POST /api/v1/outliers/{case_id}/transition/")
        excluded = [positive_data_acceptance] if operation.label in refused_by_state else []

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate(excluded_checks=excluded)  # noqa: B023 - check() runs in this iteration
            case.call_and_validate(headers={"Authorization": f"Token {analyst_key}"}, excluded_checks=excluded)  # noqa: B023

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # gather them all: one report of every failing operation
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
