"""Django's sign-in signals, translated into audit log entries (``accounts.services`` writes them)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.services import record_failed_sign_in, record_sign_in, record_sign_out


@receiver(user_logged_in, dispatch_uid="accounts.audit_log.signed_in")
def _signed_in(sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any) -> None:
    record_sign_in(user=user, request=request)


@receiver(user_logged_out, dispatch_uid="accounts.audit_log.signed_out")
def _signed_out(sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any) -> None:
    record_sign_out(user=user, request=request)


@receiver(user_login_failed, dispatch_uid="accounts.audit_log.sign_in_failed")
def _sign_in_failed(
    sender: Any, credentials: dict[str, Any] | None = None, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django has already replaced the password (and anything like it) with stars; only the name is kept.
    record_failed_sign_in(username=(credentials or {}).get("username", ""), request=request)
