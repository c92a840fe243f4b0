"""Sign-in safeguards: the client's address, two-factor sign-in for analysts and staff, session length, lockouts.

- ``client_address``: the address a request came from, the same way for sign-in lockouts (django-axes)
  and API throttles (Django REST framework's ``NUM_PROXIES``): behind ``PROXY_COUNT`` proxies, the
  X-Forwarded-For entry the nearest one added; otherwise ``REMOTE_ADDR``.
- ``TwoFactorRequiredMiddleware``: when ``TWO_FACTOR_REQUIRED`` (DEBUG off), an analyst or member of
  staff who has given a password but no one-time code reaches nothing but the two-factor page
  (``accounts.two_factor``) and sign-out: pages redirect there, the API answers 403.
- ``SessionLengthMiddleware``: analysts and staff are signed out after ``SESSION_IDLE_SECONDS_PRIVILEGED``
  without a request, everyone else after ``SESSION_COOKIE_AGE``.
- Lockouts (django-axes) are written to the log (``cancerplan.security``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from accounts import roles

log = logging.getLogger("cancerplan.security")
TOUCHED_KEY = "_touched"  # when the session was last renewed (seconds since the epoch)
TOUCH_EVERY = 60  # seconds: a session is written at most once a minute to renew it


def client_address(request: HttpRequest) -> str | None:
    """The client's address: behind ``PROXY_COUNT`` proxies, the X-Forwarded-For entry the nearest one appended."""
    count: int = settings.PROXY_COUNT
    if count > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-min(count, len(forwarded))]
    return request.META.get("REMOTE_ADDR") or None


def is_privileged(user: Any) -> bool:
    """Analysts of any audit (they read patient rows) and staff (they run the service)."""
    if not (getattr(user, "is_authenticated", False) and getattr(user, "is_active", False)):
        return False
    return bool(user.is_staff or user.is_superuser or roles.analyst_audits(user))


def requires_two_factor(user: Any) -> bool:
    return bool(settings.TWO_FACTOR_REQUIRED) and is_privileged(user)


def needs_one_time_code(user: Any) -> bool:
    """Signed in with a password, but not yet with the one-time code this account must give."""
    return requires_two_factor(user) and not user.is_verified()


class TwoFactorRequiredMiddleware:
    """After django-otp's OTPMiddleware: hold an analyst or member of staff at the two-factor page until verified."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if needs_one_time_code(request.user) and not self._allowed(request):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": "Finish signing in: give the one-time code from your authenticator app."}, status=403
                )
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse('two-factor')}?{query}")
        return self.get_response(request)

    @staticmethod
    def _allowed(request: HttpRequest) -> bool:
        if request.path in (reverse("two-factor"), reverse("logout"), reverse("login")):
            return True
        # An API token answers for itself (DRF reads it before the session): it was created by a
        # verified session or by staff on the server.
        authorization = request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0].lower()
        return request.path.startswith("/api/") and authorization in ("token", "bearer")


class SessionLengthMiddleware:
    """Idle time-out: 30 minutes for analysts and staff, 12 hours for others (renewed at most once a minute)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            session = request.session
            seconds = settings.SESSION_IDLE_SECONDS_PRIVILEGED if is_privileged(user) else settings.SESSION_COOKIE_AGE
            now = int(time.time())
            if session.get_expiry_age() != seconds:
                session.set_expiry(seconds)
            if now - int(session.get(TOUCHED_KEY, 0)) >= TOUCH_EVERY:
                session[TOUCHED_KEY] = now  # saved by SessionMiddleware: the expiry counts from now
        return self.get_response(request)


@receiver(user_locked_out, dispatch_uid="accounts.security.lockout")
def log_lockout(sender: Any, request: HttpRequest | None = None, username: str | None = None, **kwargs: Any) -> None:
    """django-axes locked an account or an address out: say so in the log and the audit log (axes keeps
    the attempts themselves: admin site, Access attempts and Access failures)."""
    from accounts.models import AuditLogEntry  # models are ready by the time a request signs in
    from accounts.services import record

    address = kwargs.get("ip_address")
    log.warning(
        "sign-in locked out after %s failures: username=%r address=%s", settings.AXES_FAILURE_LIMIT, username, address
    )
    name = str(username or "")[:150]
    record(
        action=AuditLogEntry.Action.SIGN_IN_FAILED,
        via=AuditLogEntry.Via.WEB,
        ip=address,
        target=f"user {name}",
        details={"username": name, "locked_out": True, "failures": settings.AXES_FAILURE_LIMIT},
    )
