"""A case's history and its notifications: each event is written once (``record_event``); its email is
rendered from ``templates/outliers/email/<kind>.txt``, kept in the event, and sent by a Celery task once
the transaction commits (``outliers.tasks.send_case_email``), never in a request. ``recipients`` turns the
policy's roles (trust_lead, chief_executive, ...) into addresses; ``recipient_names`` says whose each address
is, for readers who see names and roles but not addresses (``outliers.access.email_recipients``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.template.loader import render_to_string

from accounts import roles
from accounts.models import AllianceLead, TrustLead
from accounts.services import Actor
from audits.models import Trust
from indicators.outlier_policy import Stage
from outliers.models import CaseEvent, OutlierCase, TrustContact
from outliers.services.base import SYSTEM

logger = logging.getLogger(__name__)


def record_event(case: OutlierCase, action: str, *, actor: Actor | Any = None, **fields: Any) -> CaseEvent:
    """Write one event of the case's history; its email (if it has recipients) is sent once the transaction commits."""
    if isinstance(actor, Actor):
        user, name, via = actor.account, actor.display_name, actor.via
    elif actor is not None:  # an account (e.g. who withdrew the release)
        user, name, via = actor, actor.get_username(), ""
    else:
        user, name, via = None, SYSTEM, ""
    event = CaseEvent.objects.create(case=case, actor=user, actor_name=name[:150], via=via, action=action, **fields)
    if event.email.get("to"):
        from outliers.tasks import send_case_email  # tasks import this module

        transaction.on_commit(lambda: _queue_email(send_case_email, event.pk))
    return event


def _queue_email(task: Any, event_id: int) -> None:
    try:
        task.delay(event_id)
    except Exception:  # the event stands; the email can be sent again from its record
        logger.exception("outlier case event %s: the email could not be queued", event_id)


def stage_email(case: OutlierCase, stage: Stage, **context: Any) -> dict[str, Any]:
    return case_email(case, "stage", stage.notify, stage=stage, **context)


def case_email(case: OutlierCase, kind: str, notify: Iterable[str], **context: Any) -> dict[str, Any]:
    """The notification as kept in the history: {to, subject, body} from ``outliers/email/<kind>.txt``, whose
    first line is the subject."""
    trust = Trust.objects.filter(code=case.organisation).first()
    text = render_to_string(
        f"outliers/email/{kind}.txt",
        {"case": case, "trust": trust, "trust_name": trust.name if trust else case.organisation, **context},
    )
    subject, _, body = text.strip().partition("\n")
    return {"to": recipients(case, notify), "subject": subject.strip(), "body": body.strip() + "\n"}


def recipients(case: OutlierCase, notify: Iterable[str]) -> list[str]:
    """The email addresses of the policy's recipients for this case (sorted, without repeats)."""
    users = get_user_model().objects.exclude(email="").filter(is_active=True)
    contacts = TrustContact.objects.filter(trust_id=case.organisation)
    found: set[str] = set()
    for who in notify:
        if who == "trust_lead":
            found.update(
                users.filter(
                    pk__in=TrustLead.objects.filter(trust_id=case.organisation, audit_id=case.audit_id).values("user")
                ).values_list("email", flat=True)
            )
            found.update(contacts.filter(role=TrustContact.Role.LEAD_CLINICIAN).values_list("email", flat=True))
        elif who in (TrustContact.Role.CHIEF_EXECUTIVE, TrustContact.Role.MEDICAL_DIRECTOR):
            found.update(contacts.filter(role=who).values_list("email", flat=True))
        elif who == "regulator":
            if settings.OUTLIER_REGULATOR_EMAIL:
                found.add(settings.OUTLIER_REGULATOR_EMAIL)
        elif who == "audit_team":
            found.update(
                users.filter(groups__name=roles.analyst_group_name(case.audit_id)).values_list("email", flat=True)
            )
        elif who == "alliance_lead":
            alliance = Trust.objects.filter(code=case.organisation).values_list("alliance_id", flat=True)
            found.update(
                users.filter(pk__in=AllianceLead.objects.filter(alliance_id__in=alliance).values("user")).values_list(
                    "email", flat=True
                )
            )
    return sorted(found)


def recipient_names(case: OutlierCase) -> dict[str, str]:
    """Each address the case's notifications may go to (lower case), as "name (role)": the trust's contacts,
    its leads for the audit, the audit's analysts, the alliance's leads and the regulator."""
    users = get_user_model().objects.exclude(email="")
    alliance = Trust.objects.filter(code=case.organisation).values_list("alliance_id", flat=True)
    leads = TrustLead.objects.filter(trust_id=case.organisation, audit_id=case.audit_id).values("user")
    people = [
        (users.filter(pk__in=leads), "the trust's clinical lead"),
        (users.filter(groups__name=roles.analyst_group_name(case.audit_id)), "the audit team"),
        (
            users.filter(pk__in=AllianceLead.objects.filter(alliance_id__in=alliance).values("user")),
            "the Cancer Alliance's lead",
        ),
    ]
    names = {}
    for found, role in people:
        for user in found:
            names[user.email.lower()] = f"{user.get_full_name() or user.get_username()} ({role})"
    for contact in TrustContact.objects.filter(trust_id=case.organisation):
        names[contact.email.lower()] = f"{contact.name} ({contact.get_role_display().lower()})"
    if settings.OUTLIER_REGULATOR_EMAIL:
        names[settings.OUTLIER_REGULATOR_EMAIL.lower()] = "The regulator"
    return names
