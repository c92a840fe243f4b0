"""Outlier cases (issue 13): one per flagged result a release's policy opens, the stages it walks, its
history (never changed), and the trusts' contacts the notifications go to.

A case belongs to the release that opened it; a later release of the audit carries it forward (saying
whether the flag persists), a withdrawn release voids it. Its policy is a snapshot of the audit's at
opening (``indicators.outlier_policy.Policy.as_json``), so changing the definition file leaves open cases
as they were.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils import timezone

from audits.models import Audit, Release, Trust


class OutlierCase(models.Model):
    class Level(models.TextChoices):
        ALARM = "alarm", "Alarm (beyond the 99.8% limit)"
        ALERT = "alert", "Alert (beyond the 95% limit)"

    class Direction(models.TextChoices):
        WORSE = "worse", "Worse than expected"
        BETTER = "better", "Better than expected"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"
        VOID = "void", "Void (its release was withdrawn)"

    audit = models.ForeignKey(Audit, on_delete=models.PROTECT, related_name="outlier_cases")
    indicator = models.CharField(max_length=63)
    organisation = models.CharField(max_length=9, help_text="The trust's ODS code")
    period = models.CharField(max_length=64)
    level = models.CharField(max_length=5, choices=Level.choices)
    direction = models.CharField(max_length=6, choices=Direction.choices)
    track = models.CharField(max_length=63, help_text="The policy's track the case follows")
    policy = models.JSONField(help_text="The audit's outlier policy when the case opened")
    country = models.CharField(max_length=7, default="England", help_text="Whose bank holidays its deadlines skip")
    stage = models.CharField(max_length=63, help_text="The current stage (the last one once closed)")
    stage_started = models.DateField()
    stage_due = models.DateField(null=True, blank=True, help_text="Empty: the stage has no deadline")
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    outcome = models.CharField(max_length=63, blank=True)
    opened_release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="opened_cases")
    latest_release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="+")
    flag_persists = models.BooleanField(
        null=True,
        blank=True,
        help_text="In the latest release: whether the result is still flagged (empty: not yet known)",
    )
    result = models.JSONField(
        default=dict, help_text="The flagged result's unsuppressed figures: the audit's analysts only"
    )
    created_at = models.DateTimeField(default=timezone.now)
    public_response = models.TextField(
        blank=True,
        help_text="The trust's response as the audit team publishes it beside the result on the public trust page",
    )
    public_response_at = models.DateTimeField(
        null=True, blank=True, help_text="When the audit team published the response (empty: not published)"
    )

    class Meta:
        ordering = ["audit_id", "-created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["opened_release", "indicator", "organisation", "period"], name="outlier_case_unique"
            )
        ]
        indexes = [models.Index(fields=["audit", "status", "indicator", "organisation"])]

    def __str__(self) -> str:
        return f"case {self.pk}: {self.indicator} {self.organisation} {self.period} ({self.level} {self.direction})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class CaseEventQuerySet(models.QuerySet):
    """History is never changed: bulk updates and deletes are refused too."""

    def update(self, **kwargs):
        raise PermissionDenied("a case's history is never changed")

    def delete(self):
        raise PermissionDenied("a case's history is never deleted")


class CaseEvent(models.Model):
    """One thing that happened to a case: who, when, what, and the email it sent. Written once, never changed."""

    class Action(models.TextChoices):
        OPENED = "opened", "Opened"
        FLAG_PERSISTS = "flag_persists", "Flag persists in a newer release"
        FLAG_CLEARED = "flag_cleared", "Flag cleared in a newer release"
        ADVANCED = "advanced", "Moved to the next stage"
        CLOSED = "closed", "Closed"
        VOIDED = "voided", "Voided: its release was withdrawn"
        REMINDER = "reminder", "Overdue: reminder sent"
        ESCALATION = "escalation", "Overdue: escalated"
        RESPONSE = "response", "The trust's response published"

    case = models.ForeignKey(OutlierCase, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True, help_text="Kept when the account is deleted.")
    via = models.CharField(max_length=6, blank=True, help_text="web, api, cli, admin; empty for the system")
    action = models.CharField(max_length=13, choices=Action.choices)
    from_stage = models.CharField(max_length=63, blank=True)
    to_stage = models.CharField(max_length=63, blank=True)
    outcome = models.CharField(max_length=63, blank=True)
    step = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The overdue step (reminders, escalations)"
    )
    release = models.ForeignKey(Release, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    attachment = models.FileField(upload_to="outliers/%Y/%m/", blank=True)
    email = models.JSONField(default=dict, blank=True, help_text="{to, subject, body} of the notification sent")

    objects = CaseEventQuerySet.as_manager()

    class Meta:
        ordering = ["case_id", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} case {self.case_id} {self.action}"

    # A guard, not business logic: a history that could be edited would prove nothing.
    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise PermissionDenied("a case's history is never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("a case's history is never deleted")


class TrustContact(models.Model):
    """Whom a trust's notifications go to (kept by staff); a trust's leads for each audit are accounts.TrustLead."""

    class Role(models.TextChoices):
        LEAD_CLINICIAN = "lead_clinician", "Lead clinician"
        CHIEF_EXECUTIVE = "chief_executive", "Chief executive"
        MEDICAL_DIRECTOR = "medical_director", "Medical director"

    trust = models.ForeignKey(Trust, on_delete=models.PROTECT, related_name="contacts")
    role = models.CharField(max_length=16, choices=Role.choices)
    name = models.CharField(max_length=200)
    email = models.EmailField()

    class Meta:
        ordering = ["trust_id", "role", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()}, {self.trust_id})"


class ImprovementAction(models.Model):
    """One action of a trust's improvement plan for an indicator (issue 13, item 5): what, who, by when, how far,
    with what evidence; for a flagged result, with or without a case. Kept by the trust's lead, its alliance's lead,
    the audit's analysts and staff (``outliers.plans``); every change is in the audit log.

    ``release`` and ``period`` are the result the action answers (the published release when it was recorded), so
    the plan can show the indicator then and at the latest published release."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        DROPPED = "dropped", "Dropped"

    audit = models.ForeignKey(Audit, on_delete=models.PROTECT, related_name="improvement_actions")
    indicator = models.CharField(max_length=63)
    organisation = models.CharField(max_length=9, help_text="The trust's ODS code")
    case = models.ForeignKey(
        OutlierCase, null=True, blank=True, on_delete=models.PROTECT, related_name="improvement_actions"
    )
    what = models.TextField()
    who = models.CharField(max_length=200)
    due = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=11, choices=Status.choices, default=Status.PLANNED)
    evidence = models.TextField(blank=True)
    release = models.ForeignKey(
        Release,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The published release whose result the action answers (the 'before')",
    )
    period = models.CharField(max_length=64, blank=True, help_text="The period of that result")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(max_length=150, blank=True, help_text="Kept when the account is deleted.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["audit_id", "organisation", "indicator", "created_at", "pk"]
        indexes = [models.Index(fields=["organisation", "audit", "indicator"])]

    def __str__(self) -> str:
        return f"action {self.pk}: {self.indicator} {self.organisation} ({self.status})"
