"""Tokens (hashed, shown once, revocable), the audit log (read-only, staff), role changes, and the schema."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from openapi_spec_validator import validate

from accounts import roles
from accounts.models import AllianceLead, ApiToken, AuditLogEntry
from accounts.services import hash_key, record
from audits.registry import get_definition
from audits.services import sync_audit
from tests.conftest import run_command

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-only"  # noqa: S105
TOKENS = reverse("api:token-list")


def test_a_token_is_shown_once_stored_hashed_and_revocable(client):
    user = User.objects.create_user("bi-team", password=PASSWORD)
    client.force_login(user)
    created = client.post(TOKENS, {"name": "power bi"}, REMOTE_ADDR="203.0.113.5")
    assert created.status_code == 201 and created["Cache-Control"].count("no-store") == 1
    key = created.json()["key"]
    token = ApiToken.objects.get()
    assert token.key_hash == hash_key(key) and key not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert "key" not in client.get(TOKENS).json()["results"][0]
    assert key not in client.get(reverse("api:token-detail", args=[token.pk])).content.decode()
    client.logout()
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"}
    assert client.get(TOKENS, **headers).json()["results"][0]["prefix"] == key[:12]
    token.refresh_from_db()
    assert token.last_used_at is not None
    revoked = client.delete(reverse("api:token-detail", args=[token.pk]), **headers)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert client.get(TOKENS, **headers).status_code == 401
    log = list(AuditLogEntry.objects.order_by("pk").values_list("action", "actor", "ip"))
    assert log == [
        ("signed_in", user.pk, None),  # force_login has no request address
        ("token_created", user.pk, "203.0.113.5"),
        ("signed_out", user.pk, None),
        ("token_revoked", user.pk, "127.0.0.1"),
    ]


def test_a_token_of_an_inactive_user_or_a_made_up_key_is_refused(client):
    user = User.objects.create_user("gone")
    _, out, _ = run_command("create_api_token", "gone", name="old")
    key = out.strip()
    assert client.get(TOKENS, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    user.is_active = False
    user.save()
    assert client.get(TOKENS, HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    assert client.get(TOKENS, HTTP_AUTHORIZATION="Token cpt_made-up").status_code == 401
    assert client.get(TOKENS, HTTP_AUTHORIZATION="Token").status_code == 401
    code, out, _ = run_command("revoke_api_token", ApiToken.objects.get().prefix)
    assert code == 0 and ApiToken.objects.get().revoked_at is not None


def test_staff_read_the_audit_log_and_nobody_edits_it(client):
    staff = User.objects.create_user("ops", is_staff=True)  # staff, with no model permissions at all
    entry = record(action="withdrew", actor=staff, via="web", ip="192.0.2.1", target="release 1")
    client.force_login(staff)
    changelist = client.get(reverse("admin:accounts_auditlogentry_changelist"))
    assert changelist.status_code == 200 and "release 1" in changelist.content.decode()
    assert client.get(reverse("admin:accounts_auditlogentry_change", args=[entry.pk])).status_code == 200
    assert client.get(reverse("admin:accounts_auditlogentry_add")).status_code == 403
    assert (
        client.post(reverse("admin:accounts_auditlogentry_change", args=[entry.pk]), {"target": "nothing"}).status_code
        == 403
    )
    assert (
        client.post(reverse("admin:accounts_auditlogentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )
    entry.refresh_from_db()
    assert entry.target == "release 1"
    with pytest.raises(PermissionDenied):
        entry.save()
    with pytest.raises(PermissionDenied):
        entry.delete()
    clinician = User.objects.create_user("doc")
    client.force_login(clinician)
    assert client.get(reverse("admin:accounts_auditlogentry_changelist")).status_code == 302


def test_role_changes_in_the_admin_and_the_command_are_logged(client, orgs):
    sync_audit(get_definition("bowel"))
    admin_user = User.objects.create_superuser("root", password=PASSWORD)
    ana = User.objects.create_user("ana")
    client.force_login(admin_user)
    form = {
        "username": "ana",
        "is_active": "on",
        "groups": [Group.objects.get(name="analysts:bowel").pk],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "10:00:00",
    }
    response = client.post(reverse("admin:auth_user_change", args=[ana.pk]), form, REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert roles.is_analyst_of(User.objects.get(pk=ana.pk), "bowel")
    entry = AuditLogEntry.objects.get(action="role_changed")
    assert (entry.actor, entry.via, entry.ip, entry.target) == (admin_user, "admin", "192.0.2.9", "user ana")
    assert entry.details["changes"] == {"groups": {"before": [], "after": ["analysts:bowel"]}}
    code, out, _ = run_command("set_role", "ana", alliance_lead="e56000019", not_analyst=["bowel"])
    assert code == 0 and "leads E56000019" in out
    ana = User.objects.get(pk=ana.pk)
    assert roles.role_of(ana) == roles.Role.ALLIANCE_LEAD and roles.alliance_of_lead(ana) == "E56000019"
    assert AllianceLead.objects.get().alliance_id == "E56000019"
    changes = list(AuditLogEntry.objects.filter(via="cli").order_by("pk").values_list("details", flat=True))
    assert changes == [
        {"role": "analyst", "audit": "bowel", "before": True, "after": False},
        {"role": "alliance_lead", "before": None, "after": "E56000019"},
    ]


def test_the_roles_answer_the_same_questions_the_readme_table_does(orgs):
    sync_audit(get_definition("bowel"))
    staff = User.objects.create_user("s", is_staff=True)
    analyst = User.objects.create_user("a")
    analyst.groups.add(Group.objects.get(name="analysts:bowel"))
    clinician = User.objects.create_user("c")
    from django.contrib.auth.models import AnonymousUser

    public = AnonymousUser()
    assert [roles.role_of(u) for u in (public, clinician, analyst, staff)] == [
        "public",
        "clinician",
        "analyst",
        "staff",
    ]
    assert roles.role_of(analyst, "lung") == "clinician"
    for check in (roles.can_see_patient_rows, roles.sees_unsuppressed):
        assert [check(u, "bowel") for u in (public, clinician, analyst, staff)] == [False, False, True, False]
        assert check(analyst, "lung") is False
    for check in (roles.can_upload, roles.can_withdraw, roles.can_recompute):
        assert [check(u, "bowel") for u in (public, clinician, analyst, staff)] == [False, False, True, True]


def test_the_schema_validates_and_the_documentation_page_works_offline(client):
    response = client.get(reverse("api:schema"), {"format": "json"})
    schema = json.loads(response.content)
    validate(schema)
    assert {"/api/v1/results/", "/api/v1/imports/", "/api/v1/releases/{release_id}/rows/"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"
    docs = client.get(reverse("api:docs")).content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle." in docs and "cdn" not in docs
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")  # served by us, no CDN


@pytest.mark.django_db
def test_behind_a_proxy_the_log_records_the_clients_address_not_the_proxys(client, settings):
    """The audit log uses the same client address as the lockouts and throttles (PROXY_COUNT)."""
    settings.PROXY_COUNT = 1
    user = User.objects.create_user("proxied")
    client.force_login(user)
    created = client.post(
        TOKENS,
        {"name": "laptop"},
        content_type="application/json",
        REMOTE_ADDR="10.0.0.2",  # the proxy
        HTTP_X_FORWARDED_FOR="198.51.100.7",  # the address the proxy saw
    )
    assert created.status_code == 201
    assert AuditLogEntry.objects.get(action="token_created").ip == "198.51.100.7"
