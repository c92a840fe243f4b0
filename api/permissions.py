"""Access checks for the API: thin calls to ``accounts.roles``, the one place the rules live."""

from __future__ import annotations

from rest_framework.exceptions import NotAuthenticated, PermissionDenied


def require(request, allowed: bool, message: str) -> None:
    """401 for an anonymous caller (so a client knows to send its token), 403 for a signed-in one."""
    if allowed:
        return
    if not request.user.is_authenticated:
        raise NotAuthenticated("Sign in, or send 'Authorization: Token <key>'.")
    raise PermissionDenied(message)


def require_signed_in(request) -> None:
    require(request, request.user.is_authenticated, "")
