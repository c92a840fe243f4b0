"""Signing in, in tests, as a person does: a password and, for analysts and staff, a one-time code.

With DEBUG off (as the tests run) analysts and staff must give a code from an authenticator app
after their password (``accounts.security``). The ``client`` fixture (tests/conftest.py) is this
module's ``Client``: its ``force_login`` and ``login`` also complete that second step with a confirmed
TOTP device, so a test that signs an analyst in gets a fully signed-in analyst. A test about the
second step itself signs in with ``one_time_code=False`` (or a plain ``django.test.Client``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.test import Client as DjangoClient
from django.test import RequestFactory
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice


def needs_code(user: Any) -> bool:
    """Analysts of any audit and staff (read afresh: a test may change roles after signing in)."""
    return bool(user.is_staff or user.is_superuser or user.groups.filter(name__startswith="analysts:").exists())


def verify_one_time_code(client: DjangoClient, user: Any) -> TOTPDevice:
    """Mark the client's session verified by the user's (confirmed) TOTP device, as the two-factor page does."""
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="tests", defaults={"confirmed": True})
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


class Client(DjangoClient):
    """Django's test client, whose sign-ins give the one-time code too for the accounts that need one."""

    def force_login(self, user: Any, backend: str | None = None, *, one_time_code: bool = True) -> None:
        super().force_login(user, backend)
        if one_time_code and needs_code(user):
            verify_one_time_code(self, user)

    def login(self, *, one_time_code: bool = True, **credentials: Any) -> bool:
        # django-axes needs the request to count failures by address; Django's own login() passes none.
        user = authenticate(RequestFactory().post("/accounts/login/"), **credentials)
        if user is None:
            return False
        self._login(user)
        if one_time_code and needs_code(user):
            verify_one_time_code(self, user)
        return True
