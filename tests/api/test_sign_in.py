"""Signing in: two-factor for analysts and staff (DEBUG off), lockouts after repeated failures, session
length by role, and the minimum password length.

These tests sign in through the real sign-in page (a POST with the password), not the test client's
shortcut, so the password alone is all the session has until the one-time code is given.
"""

from __future__ import annotations

import logging
from base64 import b32decode

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditLogEntry
from tests.api.conftest import PASSWORD, World

pytestmark = pytest.mark.django_db


def sign_in(client, username: str, password: str = PASSWORD, address: str = "192.0.2.10"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


def rows_url(world: World) -> str:
    return reverse("api:release-rows", args=[world.release.pk])


def test_an_analyst_with_the_right_password_but_no_code_reaches_no_patient_row(client, world):
    device = TOTPDevice.objects.create(user=world.users["analyst"], name="phone", confirmed=True)
    assert sign_in(client, "analyst").status_code == 302
    rows = client.get(rows_url(world))
    assert rows.status_code == 403 and "one-time code" in rows.json()["detail"]
    upload = client.get(reverse("upload", args=["bowel"]))
    assert upload.status_code == 302
    assert upload["Location"] == reverse("two-factor") + "?next=%2Faudits%2Fbowel%2Fupload%2F"
    assert client.get(reverse("data-quality", args=["bowel"])).status_code == 302
    assert client.post("/api/v1/tokens/", {"name": "sneaky"}).status_code == 403  # no token without the code
    # The second step: the code from the app.
    page = client.get(upload["Location"])
    assert page.status_code == 200 and "Your one-time code" in page.content.decode()
    done = client.post(reverse("two-factor"), {"token": code(device), "next": "/audits/bowel/upload/"})
    assert done.status_code == 302 and done["Location"] == "/audits/bowel/upload/"
    assert client.get(reverse("upload", args=["bowel"])).status_code == 200
    rows = client.get(rows_url(world))
    assert rows.status_code == 200 and rows.json()["count"] == world.release.rows


def test_a_wrong_or_reused_code_is_refused(client, world):
    device = TOTPDevice.objects.create(user=world.users["analyst"], name="phone", confirmed=True)
    sign_in(client, "analyst")
    wrong = f"{(int(code(device)) + 1) % 1_000_000:06d}"
    refused = client.post(reverse("two-factor"), {"token": wrong})
    assert refused.status_code == 200 and "not right" in refused.content.decode()
    assert client.get(rows_url(world)).status_code == 403
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # no waiting in a test
    device.refresh_from_db()
    used = code(device)
    assert client.post(reverse("two-factor"), {"token": used}).status_code == 302
    client.post(reverse("logout"))
    sign_in(client, "analyst")
    assert "not right" in client.post(reverse("two-factor"), {"token": used}).content.decode()  # once only


def test_an_analyst_without_an_authenticator_app_enrols_before_anything_else(client, world):
    sign_in(client, "analyst")
    assert client.get(rows_url(world)).status_code == 403
    page = client.get(reverse("two-factor"))
    text = page.content.decode()
    assert page.status_code == 200 and "Set up two-factor sign-in" in text and "<svg" in text
    device = TOTPDevice.objects.get(user=world.users["analyst"])
    assert not device.confirmed
    secret = text.split('id="otp-secret">', 1)[1].split("<", 1)[0].replace(" ", "")
    assert b32decode(secret) == device.bin_key
    assert client.get(reverse("two-factor")).content.decode().count(secret[:4]) >= 1  # the same key on reload
    assert TOTPDevice.objects.filter(user=world.users["analyst"]).count() == 1
    assert client.post(reverse("two-factor"), {"token": code(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(rows_url(world)).status_code == 200


def test_staff_need_the_code_for_the_admin_site_and_clinicians_are_not_asked(client, world):
    sign_in(client, "staff")
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/")["Location"].startswith(reverse("two-factor"))
    client.post(reverse("logout"))
    assert sign_in(client, "clinician").status_code == 302
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("two-factor"))["Location"] == "/"  # nothing to do: on to the site


def test_the_demo_keeps_the_password_alone(client, world, settings):
    settings.TWO_FACTOR_REQUIRED = False  # DEBUG=true, as `make demo` runs
    sign_in(client, "analyst")
    assert client.get(rows_url(world)).status_code == 200


def test_an_api_token_is_not_held_at_the_second_step(client, world):
    # Tokens are created by a session that gave its code, or by staff on the server; they stand alone.
    assert client.get(rows_url(world), **world.auth("analyst")).status_code == 200


def test_ten_wrong_passwords_lock_the_account_out_from_every_address(client, world, caplog):
    with caplog.at_level(logging.WARNING, logger="cancerplan.security"):
        answers = [sign_in(client, "analyst", "wrong-password", address=f"198.51.100.{i}") for i in range(10)]
    assert [a.status_code for a in answers] == [200] * 9 + [429]  # the tenth failure locks
    locked = sign_in(client, "analyst", address="203.0.113.50")  # the right password, from a new address
    assert locked.status_code == 429 and "too many wrong sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert any("locked out" in r.getMessage() and "analyst" in r.getMessage() for r in caplog.records)
    # in the audit log: the lockout, and each attempt refused while it lasts
    entries = AuditLogEntry.objects.filter(action="sign_in_failed", details__locked_out=True)
    assert {(e.target, e.details["failures"]) for e in entries} == {("user analyst", 10)}
    assert [e.ip for e in entries.order_by("pk")] == ["198.51.100.9", "203.0.113.50"]
    assert sign_in(client, "clinician", address="203.0.113.50").status_code == 302  # other accounts: fine


def test_ten_failures_from_one_address_lock_that_address_out(client, world, caplog):
    with caplog.at_level(logging.WARNING, logger="cancerplan.security"):
        for i in range(10):
            sign_in(client, f"guess{i}", "wrong-password", address="198.51.100.99")
    assert sign_in(client, "clinician", address="198.51.100.99").status_code == 429
    assert any("198.51.100.99" in r.getMessage() for r in caplog.records)
    assert AccessAttempt.objects.filter(ip_address="198.51.100.99").exists()  # axes keeps the attempts
    assert sign_in(client, "clinician", address="198.51.100.100").status_code == 302


def test_nine_failures_then_the_right_password_signs_in_and_starts_the_count_again(client, world):
    for _ in range(9):
        sign_in(client, "clinician", "wrong-password")
    assert sign_in(client, "clinician").status_code == 302
    client.post(reverse("logout"))
    for _ in range(9):
        sign_in(client, "clinician", "wrong-password")
    assert sign_in(client, "clinician").status_code == 302


def test_analysts_and_staff_sessions_end_after_30_idle_minutes_and_others_after_12_hours(client, world):
    client.force_login(world.users["analyst"])
    client.get(reverse("home"))
    assert client.session.get_expiry_age() == 30 * 60
    assert int(client.cookies["sessionid"]["max-age"]) == 30 * 60
    client.force_login(world.users["staff"])
    client.get(reverse("home"))
    assert client.session.get_expiry_age() == 30 * 60
    client.force_login(world.users["clinician"])
    client.get(reverse("home"))
    assert client.session.get_expiry_age() == 12 * 3600


def test_passwords_are_at_least_12_characters():
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("Kx9!mQ2#vL4")  # 11
    validate_password("Kx9!mQ2#vL4z", User(username="someone"))
