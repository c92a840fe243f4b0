"""Roles beyond Django's own, API tokens stored hashed, and the audit log.

Who may do what is decided in ``accounts/roles.py``; these tables only record the
facts it reads: an audit analyst is a member of the group ``analysts:<audit>``
(created by ``audits.services.sync_audit``), staff have ``is_staff``, a Cancer
Alliance lead has an ``AllianceLead`` row, a trust's clinical lead for an audit a
``TrustLead`` row, a clinician linked to a trust a ``TrustMember`` row, and every
other signed-in account is a clinician.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils import timezone


class AllianceLead(models.Model):
    """A user who leads one Cancer Alliance (a user leads at most one)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alliance_lead")
    alliance = models.ForeignKey("audits.Alliance", on_delete=models.PROTECT, related_name="leads")
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["alliance_id", "user_id"]
        verbose_name = "Cancer Alliance lead"

    def __str__(self) -> str:
        return f"{self.user} leads {self.alliance_id}"


class TrustLead(models.Model):
    """A trust's clinical lead for one audit (given by staff): told when an outlier case of the trust opens,
    and answers it. A user may lead several trusts and audits."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trust_leads")
    trust = models.ForeignKey("audits.Trust", on_delete=models.PROTECT, related_name="leads")
    audit = models.ForeignKey("audits.Audit", on_delete=models.PROTECT, related_name="trust_leads")
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["trust_id", "audit_id", "user_id"]
        verbose_name = "trust's clinical lead"
        constraints = [models.UniqueConstraint(fields=["user", "trust", "audit"], name="trust_lead_unique")]

    def __str__(self) -> str:
        return f"{self.user} leads {self.audit_id} at {self.trust_id}"


class TrustMember(models.Model):
    """A clinician linked to a trust by staff."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trust_memberships")
    trust = models.ForeignKey("audits.Trust", on_delete=models.PROTECT, related_name="members")
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["trust_id", "user_id"]
        verbose_name = "trust member"
        constraints = [models.UniqueConstraint(fields=["user", "trust"], name="trust_member_unique")]

    def __str__(self) -> str:
        return f"{self.user} at {self.trust_id}"


class ApiToken(models.Model):
    """A personal API key. Only its SHA-256 is stored: the key is shown once, when it is created."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. 'nightly pipeline'.")
    prefix = models.CharField(max_length=12, help_text="The key's first characters, to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user}, {self.name})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class AuditLogEntry(models.Model):
    """Who did what to the data or to someone's access, who signed in (or failed to) and who read patient
    rows: when and from where. Written once, never changed."""

    class Action(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded an extract"
        WITHDREW = "withdrew", "Withdrew a release"
        PUBLISHED = "published", "Published a release"
        RECOMPUTED = "recomputed", "Recomputed indicators"
        ROLE_CHANGED = "role_changed", "Changed a role"
        TOKEN_CREATED = "token_created", "Created an API token"
        TOKEN_REVOKED = "token_revoked", "Revoked an API token"
        SIGNED_IN = "signed_in", "Signed in"
        SIGNED_OUT = "signed_out", "Signed out"
        SIGN_IN_FAILED = "sign_in_failed", "Failed to sign in"
        READ_ROWS = "read_rows", "Read patient rows"
        CASE_OPENED = "case_opened", "Opened an outlier case"
        CASE_ADVANCED = "case_advanced", "Moved an outlier case on"
        CASE_VOIDED = "case_voided", "Voided an outlier case"
        PLAN_ADDED = "plan_added", "Added an improvement action"
        PLAN_UPDATED = "plan_updated", "Updated an improvement action"

    class Via(models.TextChoices):
        WEB = "web", "Web page"
        API = "api", "API"
        CLI = "cli", "Command line"
        ADMIN = "admin", "Admin site"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, help_text="Kept when the account is deleted.")
    action = models.CharField(max_length=16, choices=Action.choices)
    via = models.CharField(max_length=5, choices=Via.choices)
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)
    audit_code = models.CharField(max_length=63, blank=True)
    target = models.CharField(max_length=200, blank=True, help_text="e.g. 'release 12', 'user ana'")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or 'unknown'} {self.action} {self.target}".strip()

    # A guard, not business logic: an entry that could be edited would prove nothing.
    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise PermissionDenied("audit log entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("audit log entries are never deleted")
