"""Chasing overdue stages: ``check_overdue(today)`` sends each overdue step of a stage (a reminder, then an
escalation) once; the events record what was sent."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from outliers.models import CaseEvent, OutlierCase
from outliers.services.base import Action, case_stage
from outliers.services.notifications import case_email, record_event
from outliers.workdays import working_days_between


def check_overdue(today: date | None = None) -> list[CaseEvent]:
    """Send each overdue step of every open case's stage once (a reminder, then an escalation), as its policy
    says: a step is due ``after_working_days`` working days past the stage's due date."""
    today = today or timezone.localdate()
    sent: list[CaseEvent] = []
    for case_id in OutlierCase.objects.filter(status=OutlierCase.Status.OPEN, stage_due__lt=today).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            case = OutlierCase.objects.select_for_update().get(pk=case_id)
            if not case.is_open or case.stage_due is None:
                continue
            stage = case_stage(case)
            late = working_days_between(case.stage_due, today, case.country)
            # The steps already sent since the case entered its stage (the last event that moved it there).
            entered = case.events.filter(to_stage=case.stage).order_by("pk").values_list("pk", flat=True).last() or 0
            done = set(
                case.events.filter(
                    pk__gt=entered, action__in=(Action.REMINDER, Action.ESCALATION), from_stage=case.stage
                ).values_list("step", flat=True)
            )
            for number, step in enumerate(stage.on_overdue):
                if number in done or late < step.after_working_days:
                    continue
                kind = "reminder" if step.action == "reminder" else "escalation"
                sent.append(
                    record_event(
                        case,
                        Action.REMINDER if kind == "reminder" else Action.ESCALATION,
                        from_stage=stage.name,
                        step=number,
                        email=case_email(case, kind, step.notify, stage=stage, late=late),
                    )
                )
    return sent
