"""The trust's response, published: the text the public reads beside a reviewed result on the trust's page.

The audit team publishes it (often the note of the trust's answer, edited with the trust) at the case's
publication stage, or once the case is closed; it shows to the public only once the case is closed and the
release that opened it is published (``outliers.access.published_responses``). Each publication is an event
of the case's history and an entry of the audit log; a later one replaces the text, the history keeps both.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import AuditLogEntry
from accounts.services import Actor
from outliers.models import CaseEvent, OutlierCase
from outliers.services import CaseError, may_act


def publish_response(case: OutlierCase, text: str, actor: Actor) -> OutlierCase:
    """Set the case's published response. PermissionDenied unless the actor is the audit team; CaseError for a
    void case or an empty text."""
    text = text.strip()
    with transaction.atomic():
        case = OutlierCase.objects.select_for_update().get(pk=case.pk)
        actor.require(
            lambda user: may_act(user, "audit_team", case),
            "Only this audit's analysts and staff publish a trust's response.",
        )
        if case.status == OutlierCase.Status.VOID:
            raise CaseError(f"Case {case.pk} is void: its release was withdrawn.")
        if not text:
            raise CaseError("Write the response to publish.")
        case.public_response = text
        case.public_response_at = timezone.now()
        case.save(update_fields=["public_response", "public_response_at"])
        event = CaseEvent.objects.create(
            case=case,
            actor=actor.account,
            actor_name=actor.display_name[:150],
            via=actor.via,
            action=CaseEvent.Action.RESPONSE,
            from_stage=case.stage,
            note=text,
        )
        actor.log(
            AuditLogEntry.Action.CASE_ADVANCED,
            audit_code=case.audit_id,
            target=f"outlier case {case.pk}",
            details={"event": event.pk, "public_response": True},
        )
    return case
