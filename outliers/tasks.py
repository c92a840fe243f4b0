"""Celery tasks of the outlier process: open a run's cases (or a published release's), send a case's email, chase
overdue stages."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from audits.models import Release
from indicators.models import ComputationRun
from outliers import services
from outliers.models import CaseEvent

logger = logging.getLogger(__name__)


@shared_task(name="outliers.open_cases")
def open_cases(run_id: int) -> dict[str, int]:
    """After a run becomes current (``AFTER_RUN_TASKS``): open or carry forward the cases of its flags."""
    run = ComputationRun.objects.select_related("release").get(pk=run_id)
    if not run.is_current:
        return {"opened": 0, "persisting": 0, "cleared": 0}
    counts = services.open_cases(run)
    logger.info("run %s: outlier cases %s", run_id, counts)
    return counts


@shared_task(name="outliers.open_published_cases")
def open_published_cases(release_id: int) -> dict[str, int]:
    """After a release is published (``AFTER_PUBLISH_TASKS``): open the cases its policy kept back until then."""
    counts = services.open_published_cases(Release.objects.get(pk=release_id))
    logger.info("release %s published: outlier cases %s", release_id, counts)
    return counts


@shared_task(name="outliers.send_case_email")
def send_case_email(event_id: int) -> int:
    """Send the email kept in a case event (Django's email settings); the number of messages sent."""
    email = CaseEvent.objects.get(pk=event_id).email
    if not email.get("to"):
        return 0
    return send_mail(email["subject"], email["body"], settings.DEFAULT_FROM_EMAIL, email["to"])


@shared_task(name="outliers.check_overdue")
def check_overdue() -> int:
    """Daily (``CELERY_BEAT_SCHEDULE``): reminders and escalations of overdue stages, each once."""
    return len(services.check_overdue())
