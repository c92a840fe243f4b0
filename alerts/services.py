"""Writes: subscriptions, their signed unsubscribe links, and the digests of a published release.

Email is sent here only, from the Celery tasks (:mod:`alerts.tasks`), never in a request. A digest is
recorded (:class:`alerts.models.Digest`, unique per subscription and release) in the transaction that sends
it, so a retried or repeated task sends none twice; a send that fails rolls its record back and the next
try sends it. (A worker killed between sending and committing may send one again: at least once.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from accounts.roles import sees_unsuppressed
from alerts.digests import Digestion, digest_email
from alerts.models import Digest, Subscription
from audits.models import Alliance, Audit, Release, Trust
from indicators.changes import ReleaseChanges, release_changes
from indicators.models import ComputationRun

logger = logging.getLogger(__name__)

Kind = Subscription.Kind
#: The salt of the unsubscribe links: a signature made for anything else does not verify here.
UNSUBSCRIBE_SALT = "alerts.unsubscribe"


class UnknownTarget(ValueError):
    """No trust, alliance or audit of that code."""


@dataclass(frozen=True)
class Target:
    kind: str
    code: str
    name: str


def target(kind: str, code: str) -> Target:
    """The trust, alliance or audit a subscription follows, its code as stored and its name."""
    code = code.strip()
    if kind == Kind.TRUST:
        found = Trust.objects.filter(code=code.upper()).values_list("code", "name").first()
    elif kind == Kind.ALLIANCE:
        found = Alliance.objects.filter(code=code.upper()).values_list("code", "name").first()
    elif kind == Kind.AUDIT:
        found = Audit.objects.filter(code=code.lower()).values_list("code", "name").first()
    else:
        raise UnknownTarget(f"no such kind of subscription {kind!r} (trust, alliance or audit)")
    if found is None:
        raise UnknownTarget(f"no {Kind(kind).label} with code {code!r}")
    return Target(kind, found[0], found[1])


def subscribe(user, kind: str, code: str) -> tuple[Subscription, bool]:
    """Follow a trust, alliance or audit (again: nothing changes). Returns the subscription and whether it is new."""
    found = target(kind, code)
    return Subscription.objects.get_or_create(user=user, kind=found.kind, code=found.code)


def unsubscribe(user, kind: str, code: str) -> bool:
    """Stop following it; whether there was a subscription."""
    found = target(kind, code)
    deleted, _ = Subscription.objects.filter(user=user, kind=found.kind, code=found.code).delete()
    return bool(deleted)


def unsubscribe_token(subscription: Subscription) -> str:
    """The signed value of a subscription's one-click unsubscribe link. It names the subscription, its user, kind
    and code, so it is good for that subscription only (a link for another's cannot be made without the
    SECRET_KEY), and for no subscription made again later under the same id."""
    return signing.dumps(
        [subscription.pk, subscription.user_id, subscription.kind, subscription.code], salt=UNSUBSCRIBE_SALT
    )


def subscription_for_token(token: str) -> Subscription | None:
    """The subscription an unsubscribe link names, or None (tampered, made for another use, or gone already)."""
    try:
        pk, user_id, kind, code = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, TypeError, ValueError):
        return None
    return Subscription.objects.filter(pk=pk, user_id=user_id, kind=kind, code=code).select_related("user").first()


def absolute(path: str) -> str:
    """A link for an email: the site's address (settings.SITE_URL) and the path."""
    return settings.SITE_URL.rstrip("/") + path


def unsubscribe_url(subscription: Subscription) -> str:
    return absolute(reverse("alerts:unsubscribe", args=[unsubscribe_token(subscription)]))


# ------------------------------------------------------------------ digests


def places_of(subscription: Subscription) -> set[str] | None:
    """The trusts and alliances whose changes a subscription hears of (None: all of them, for an audit)."""
    if subscription.kind == Kind.TRUST:
        return {subscription.code}
    if subscription.kind == Kind.ALLIANCE:
        return {subscription.code, *Trust.objects.filter(alliance_id=subscription.code).values_list("code", flat=True)}
    return None


def subscriptions_for(release: Release):
    """The subscriptions a release of this audit concerns: the audit's, and every trust's and alliance's."""
    return Subscription.objects.filter(
        Q(kind__in=[Kind.TRUST, Kind.ALLIANCE]) | Q(kind=Kind.AUDIT, code=release.audit_id)
    ).select_related("user")


def send_digests(release_id: int) -> int:
    """Send one digest per subscription for a published release whose results are ready; returns how many
    were sent now. Nothing for a release not published, not the audit's newest published one (a recompute of
    an older release tells no one), or still computing (its run's end sends them: :func:`send_run_digests`)."""
    release = Release.objects.select_related("audit").filter(pk=release_id).first()
    if release is None or Release.objects.current(release.audit_id) != release:
        return 0
    subscriptions = list(subscriptions_for(release).order_by("pk"))
    done = set(Digest.objects.filter(release=release).values_list("subscription_id", flat=True))
    waiting = [s for s in subscriptions if s.pk not in done and s.user.is_active and s.user.email]
    if not waiting:
        return 0
    views: dict[bool, ReleaseChanges | None] = {}
    sent = 0
    for subscription in waiting:
        analyst = sees_unsuppressed(subscription.user, release.audit_id)
        if analyst not in views:
            views[analyst] = release_changes(release, unsuppressed=analyst)
        changes = views[analyst]
        if changes is None:
            return sent  # still computing
        sent += _send(subscription, release, changes)
    return sent


def send_run_digests(run_id: int) -> int:
    """The digests of a run's release, once the run is its current one (see :func:`send_digests`)."""
    run = ComputationRun.objects.filter(pk=run_id, is_current=True).first()
    return 0 if run is None else send_digests(run.release_id)


def _send(subscription: Subscription, release: Release, changes: ReleaseChanges) -> int:
    try:
        name = target(subscription.kind, subscription.code).name
    except UnknownTarget:
        name = subscription.code
    places = places_of(subscription)
    email = digest_email(
        Digestion(
            kind=subscription.kind,
            code=subscription.code,
            name=name,
            audit_name=release.audit.name,
            changes=changes if places is None else changes.for_places(places),
            changes_url=absolute(reverse("release-changes", args=[release.audit_id, release.pk])),
            place_url=absolute(_place_path(subscription)),
            unsubscribe_url=unsubscribe_url(subscription),
            manage_url=absolute(reverse("alerts:subscriptions")),
        )
    )
    with transaction.atomic():
        _, created = Digest.objects.get_or_create(
            subscription=subscription,
            release=release,
            defaults={"to": subscription.user.email, "subject": email.subject[:255]},
        )
        if not created:
            return 0  # another worker sent it meanwhile
        message = EmailMessage(
            subject=email.subject,
            body=email.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[subscription.user.email],
            headers={
                # RFC 2369 and RFC 8058: mail programs offer a one-click unsubscribe that POSTs to the link.
                "List-Unsubscribe": f"<{email.unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        message.send()
    logger.info("digest of %s sent for subscription %s", release, subscription.pk)
    return 1


def _place_path(subscription: Subscription) -> str:
    if subscription.kind == Kind.TRUST:
        return reverse("trust", args=[subscription.code])
    if subscription.kind == Kind.ALLIANCE:
        return reverse("alliance", args=[subscription.code])
    return reverse("audit", args=[subscription.code])
