"""A release once stored: withdrawing it, and reading its patient rows (each read written to the audit log)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import AuditLogEntry
from accounts.services import Actor
from audits.models import Release
from audits.selectors import release_rows, row_columns
from audits.services.access import authorise_withdraw

Action = AuditLogEntry.Action


class AlreadyWithdrawn(Exception):
    """The release was withdrawn before (nothing was changed or logged)."""


@transaction.atomic
def withdraw_release(*, release: Release, actor: Actor, reason: str) -> Release:
    """Withdraw a release: the previous one becomes current; rows are kept for reproducibility.

    Raises PermissionDenied unless the actor may, and AlreadyWithdrawn if it was withdrawn before.
    """
    authorise_withdraw(actor, release)
    release = Release.objects.select_for_update().get(pk=release.pk)
    if release.is_withdrawn:
        raise AlreadyWithdrawn(f"Release {release.pk} was already withdrawn.")
    release.status = Release.Status.WITHDRAWN
    release.withdrawn_at = timezone.now()
    release.withdrawn_by = actor.account
    release.withdrawn_reason = reason
    release.save(update_fields=["status", "withdrawn_at", "withdrawn_by", "withdrawn_reason"])
    actor.log(
        Action.WITHDREW,
        audit_code=release.audit_id,
        target=f"release {release.pk}",
        details={"version": release.version, "reason": reason},
    )
    return release


def read_patient_rows(
    *, release: Release, actor: Actor, after_line: int, limit: int, organisation: str | None = None
) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """Up to ``limit`` patient rows of a release after file line ``after_line``, and their columns; with
    ``organisation`` (a trust's code), only that trust's rows.

    For the audit's analysts; a trust's clinical lead for the audit reads its own trust's rows only (with
    ``organisation``: the outlier process's pages ask for the trust behind a case). Every read is written to
    the audit log in the same transaction (a read whose entry cannot be written fails).
    """
    actor.require(
        lambda user: (
            roles.can_see_patient_rows(user, release.audit_id)
            or (organisation is not None and roles.is_trust_lead(user, organisation, release.audit_id))
        ),
        "Patient-level rows are for this audit's analysts only (and a trust's lead, for its own trust).",
    )
    with transaction.atomic():
        columns = row_columns(release)
        rows = release_rows(release, after_line=after_line, limit=limit, organisation=organisation)
        details: dict[str, Any] = {"after_line": after_line, "limit": limit, "rows": len(rows)}
        if organisation is not None:
            details["organisation"] = organisation
        actor.log(Action.READ_ROWS, audit_code=release.audit_id, target=f"release {release.pk}", details=details)
    return columns, rows
