"""A release once stored: publishing a draft, withdrawing it, and reading its patient rows (each written to the
audit log)."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts import roles
from accounts.models import AuditLogEntry
from accounts.services import Actor
from audits.models import Release
from audits.selectors import release_rows, row_columns
from audits.services.access import authorise_publish, authorise_withdraw

logger = logging.getLogger(__name__)
Action = AuditLogEntry.Action


class AlreadyWithdrawn(Exception):
    """The release was withdrawn before (nothing was changed or logged)."""


class NotPublishable(Exception):
    """The release is not a draft (published or withdrawn before), or a newer release is published already
    (nothing was changed or logged). The message says which."""


def publish_release(release: Release, actor: Actor) -> Release:
    """Publish a draft: from now on the public pages, the API's results and the downloads show it (once its
    computation is done; until then they keep showing the previous published release).

    Only a draft, by its audit's analysts, staff or the command line. Written to the audit log ("published")
    in the same transaction; once committed, each task of ``settings.AFTER_PUBLISH_TASKS`` is queued with the
    release id. Raises PermissionDenied unless the actor may, and NotPublishable if the release is not a draft
    or a newer release of its audit is published already (withdraw the draft instead).
    """
    authorise_publish(actor, release)
    with transaction.atomic():
        release = Release.objects.select_for_update().get(pk=release.pk)
        if not release.is_draft:
            state = "withdrawn" if release.is_withdrawn else "published already"
            raise NotPublishable(f"{release} is {state}: only a draft can be published.")
        newer = Release.objects.accepted().filter(audit_id=release.audit_id, version__gt=release.version).first()
        if newer is not None:
            raise NotPublishable(
                f"{release} is older than {newer}, which is published: publishing it would show nothing new. "
                "Withdraw the draft instead."
            )
        mark_published(release, actor)
    return release


def mark_published(release: Release, actor: Actor) -> None:
    """Publish ``release`` as ``actor`` inside the caller's transaction (``publish_release``, or an import that
    publishes at once): its fields, the audit log entry, and ``settings.AFTER_PUBLISH_TASKS`` once committed."""
    release.status = Release.Status.ACCEPTED
    release.published_at = timezone.now()
    release.published_by = actor.account
    release.published_by_name = actor.display_name[:150]
    release.save(update_fields=["status", "published_at", "published_by", "published_by_name"])
    actor.log(
        Action.PUBLISHED,
        audit_code=release.audit_id,
        target=f"release {release.pk}",
        details={"version": release.version},
    )
    for path in settings.AFTER_PUBLISH_TASKS:  # e.g. the subscribers' digests
        transaction.on_commit(partial(_send_after_publish, path, release.pk))


def _send_after_publish(path: str, release_id: int) -> None:
    """Queue (in-process: run) work that follows a publication. The release is published whatever happens here;
    a failure is logged."""
    try:
        import_string(path).delay(release_id)
    except Exception:
        logger.exception("release %s: %s failed; the release stays published", release_id, path)


@transaction.atomic
def withdraw_release(*, release: Release, actor: Actor, reason: str) -> Release:
    """Withdraw a release (published, or a draft never published): the previous published one becomes current;
    rows are kept for reproducibility.

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
