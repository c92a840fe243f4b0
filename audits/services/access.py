"""Who may write through which door: the roles the write services check (``accounts.roles``), and the origin
a door gives a release."""

from __future__ import annotations

from accounts import roles
from accounts.models import AuditLogEntry
from accounts.services import Actor
from audits.models import Release

Via = AuditLogEntry.Via
_ORIGINS: dict[str, str] = {Via.WEB: Release.Origin.WEB, Via.API: Release.Origin.API, Via.CLI: Release.Origin.CLI}
_DOORS: dict[str, str] = {origin: via for via, origin in _ORIGINS.items()}


def origin_of(actor: Actor) -> str:
    """The origin a release uploaded through the actor's door records (web, API or command line)."""
    if actor.via not in _ORIGINS:
        raise ValueError(f"extracts are uploaded on the web, through the API or on the command line, not {actor.via}")
    return _ORIGINS[actor.via]


def door_of(origin: str) -> str:
    """The door (``AuditLogEntry.Via``) a release's or an import job's origin names."""
    return _DOORS[origin]


def authorise_upload(actor: Actor, audit_code: str) -> None:
    """PermissionDenied unless the actor may upload the audit's extracts (its analysts and staff)."""
    actor.require(
        lambda user: roles.can_upload(user, audit_code), "Only this audit's analysts and staff can upload its extracts."
    )


def authorise_withdraw(actor: Actor, release: Release) -> None:
    """PermissionDenied unless the actor may withdraw the release (its audit's analysts and staff)."""
    actor.require(
        lambda user: roles.can_withdraw(user, release.audit_id),
        "Only this audit's analysts and staff can withdraw its releases.",
    )


def authorise_publish(actor: Actor, release: Release) -> None:
    """PermissionDenied unless the actor may publish the release (its audit's analysts and staff; the command line)."""
    actor.require(
        lambda user: roles.can_manage_releases(user, release.audit_id),
        "Only this audit's analysts and staff can publish its releases.",
    )
