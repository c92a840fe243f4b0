"""Personal API tokens: ``Authorization: Token <key>`` (or ``Bearer <key>``), checked against a stored hash."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.services import user_for_key

KEYWORDS = (b"token", b"bearer")


class HashedTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the header as 'Authorization: Token <key>'.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("That is not a key of this service.") from exc
        found = user_for_key(key)
        if found is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked key.")
        return found

    def authenticate_header(self, request) -> str:
        # Present, so an anonymous request that needs a user gets 401 rather than 403.
        return 'Token realm="api"'
