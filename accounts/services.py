"""Writes: the audit log, API tokens, and role changes (each role change is logged).

``Actor`` is who acts and through which door; the services of every app take one, check the
role themselves (``Actor.require`` with a rule from ``accounts.roles``) and write the audit log
(``Actor.log``) inside their own transaction, so an action and its entry are committed together.
"""

from __future__ import annotations

import getpass
import hashlib
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import AllianceLead, ApiToken, AuditLogEntry
from accounts.roles import analyst_group_name

Action = AuditLogEntry.Action
Via = AuditLogEntry.Via
TOKEN_PREFIX = "cpt_"  # noqa: S105 - a visible marker, not a secret


def client_ip(request: HttpRequest | None) -> str | None:
    """The address the request came from, as the lockouts and throttles see it (``PROXY_COUNT``)."""
    from accounts.security import client_address  # security reads roles and settings; keep this module light

    return None if request is None else client_address(request)


def record(
    *,
    action: str,
    actor=None,
    via: str,
    ip: str | None = None,
    audit_code: str = "",
    target: str = "",
    details: dict[str, Any] | None = None,
    actor_name: str = "",
) -> AuditLogEntry:
    """Add one entry to the audit log."""
    name = actor_name or (actor.get_username() if actor is not None and actor.is_authenticated else "")
    return AuditLogEntry.objects.create(
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=name,
        via=via,
        ip=ip,
        audit_code=audit_code,
        target=target[:200],
        details=details or {},
    )


@dataclass(frozen=True)
class Actor:
    """Who acts, and through which door (``AuditLogEntry.Via``): an account on the web, the API or the
    admin site, or the command line.

    The command line is trusted: whoever runs it holds the server's database credentials. Its
    identity is the account named with ``--user``, or ``name`` (by default the operating-system user
    at the host). Every other door is allowed only what ``accounts.roles`` allows its user.
    """

    via: str
    user: Any = None  # the account (AnonymousUser or None for nobody)
    ip: str | None = None
    name: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, *, via: str) -> Actor:
        """The signed-in user (or anonymous) of a web, API or admin request."""
        if via == Via.CLI:
            raise ValueError("a request is not the command line")
        return cls(via=via, user=getattr(request, "user", None), ip=client_ip(request))

    @classmethod
    def command_line(cls, user: Any = None, name: str = "") -> Actor:
        """``python manage.py ...``: as ``user`` if one is named, otherwise as ``name`` (default: os user@host)."""
        if user is None and not name:
            name = f"{getpass.getuser()}@{socket.gethostname()}"
        return cls(via=Via.CLI, user=user, name=name)

    @property
    def account(self) -> Any:
        """The acting account, or None (the command line without ``--user``, or an anonymous caller)."""
        return self.user if self.user is not None and self.user.is_authenticated else None

    @property
    def display_name(self) -> str:
        return self.name or (self.account.get_username() if self.account is not None else "")

    def may(self, rule: Callable[[Any], bool]) -> bool:
        """Whether ``rule`` (a function of ``accounts.roles`` applied to the user) allows this actor."""
        return self.via == Via.CLI or bool(rule(self.user))

    def require(self, rule: Callable[[Any], bool], message: str) -> None:
        """Raise PermissionDenied (a 403 on every door) unless ``rule`` allows this actor."""
        if not self.may(rule):
            raise PermissionDenied(message)

    def log(
        self, action: str, *, audit_code: str = "", target: str = "", details: dict[str, Any] | None = None
    ) -> AuditLogEntry:
        """Write one entry of the audit log for this actor (call it inside the action's transaction)."""
        return record(
            action=action,
            actor=self.user,
            via=self.via,
            ip=self.ip,
            actor_name=self.name,
            audit_code=audit_code,
            target=target,
            details=details,
        )


def _door(request: HttpRequest | None) -> str:
    match = getattr(request, "resolver_match", None)
    return Via.ADMIN if match is not None and match.namespace == "admin" else Via.WEB


def record_sign_in(*, user: Any, request: HttpRequest | None) -> AuditLogEntry:
    """A user signed in with their password (the web or admin sign-in page)."""
    return record(
        action=Action.SIGNED_IN,
        actor=user,
        via=_door(request),
        ip=client_ip(request),
        target=f"user {user.get_username()}",
    )


def record_sign_out(*, user: Any, request: HttpRequest | None) -> AuditLogEntry | None:
    """A signed-in user signed out (nothing is written for a visitor who was not signed in)."""
    if user is None or not user.is_authenticated:
        return None
    return record(
        action=Action.SIGNED_OUT,
        actor=user,
        via=_door(request),
        ip=client_ip(request),
        target=f"user {user.get_username()}",
    )


def record_failed_sign_in(*, username: str, request: HttpRequest | None) -> AuditLogEntry:
    """A sign-in that failed: the name tried (never the password); no account is linked, since none signed in."""
    name = str(username or "")[:150]
    return record(
        action=Action.SIGN_IN_FAILED,
        via=_door(request),
        ip=client_ip(request),
        target=f"user {name}",
        details={"username": name},
    )


def hash_key(key: str) -> str:
    # A plain SHA-256 suffices: keys are 256 random bits, so there is nothing to guess or precompute.
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def create_token(
    *, user, name: str, by=None, via: str, ip: str | None = None, actor_name: str = ""
) -> tuple[ApiToken, str]:
    """Create an API key for ``user``. Returns the token and the key: the only time the key exists in clear."""
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name[:100], prefix=key[:12], key_hash=hash_key(key))
    record(
        action=Action.TOKEN_CREATED,
        actor=by or user,
        via=via,
        ip=ip,
        actor_name=actor_name,
        target=f"user {user.get_username()}",
        details={"token": token.pk, "prefix": token.prefix, "name": token.name},
    )
    return token, key


@transaction.atomic
def revoke_token(*, token: ApiToken, by=None, via: str, ip: str | None = None, actor_name: str = "") -> ApiToken:
    """Revoke a key for good (it stays listed, marked revoked)."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record(
            action=Action.TOKEN_REVOKED,
            actor=by,
            via=via,
            ip=ip,
            actor_name=actor_name,
            target=f"user {token.user.get_username()}",
            details={"token": token.pk, "prefix": token.prefix, "name": token.name},
        )
    return token


def user_for_key(key: str) -> tuple[Any, ApiToken] | None:
    """The active user and token a key belongs to, or None. Marks the token used."""
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_key(key), revoked_at__isnull=True).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
    return token.user, token


@transaction.atomic
def set_alliance_lead(
    *, user, alliance: models.Model | None, by=None, via: str, ip: str | None = None, actor_name: str = ""
) -> None:
    """Make ``user`` the lead of ``alliance`` (an ``audits.Alliance``; None: no longer a lead)."""
    current = AllianceLead.objects.filter(user=user).first()
    before = current.alliance_id if current else None
    after = alliance.pk if alliance else None  # an alliance's code is its key
    if before == after:
        return
    if alliance is None:
        assert current is not None  # before != after, so there is a lead to remove
        current.delete()
    else:
        AllianceLead.objects.update_or_create(user=user, defaults={"alliance_id": alliance.pk, "since": timezone.now()})
    record(
        action=Action.ROLE_CHANGED,
        actor=by,
        via=via,
        ip=ip,
        actor_name=actor_name,
        target=f"user {user.get_username()}",
        details={"role": "alliance_lead", "before": before, "after": after},
    )


@transaction.atomic
def set_analyst(
    *, user, audit_code: str, member: bool, by=None, via: str, ip: str | None = None, actor_name: str = ""
) -> None:
    """Add ``user`` to (or remove from) the analysts of an audit: the group ``analysts:<audit>``."""
    group, _ = Group.objects.get_or_create(name=analyst_group_name(audit_code))
    is_member = user.groups.filter(pk=group.pk).exists()
    if is_member == member:
        return
    (user.groups.add if member else user.groups.remove)(group)
    record(
        action=Action.ROLE_CHANGED,
        actor=by,
        via=via,
        ip=ip,
        actor_name=actor_name,
        audit_code=audit_code,
        target=f"user {user.get_username()}",
        details={"role": "analyst", "audit": audit_code, "before": is_member, "after": member},
    )


def record_account_changes(
    *, user, before: dict[str, Any], after: dict[str, Any], by=None, via: str, ip: str | None = None
) -> None:
    """Log what changed in an account's staff flags and analyst groups (e.g. edited in the admin site)."""
    changed = {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
    if changed:
        record(
            action=Action.ROLE_CHANGED,
            actor=by,
            via=via,
            ip=ip,
            target=f"user {user.get_username()}",
            details={"role": "account", "changes": changed},
        )


def account_roles(user) -> dict[str, Any]:
    """The role facts of an account, to compare before and after an edit."""
    return {
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "is_active": user.is_active,
        "groups": sorted(user.groups.values_list("name", flat=True)) if user.pk else [],
    }
