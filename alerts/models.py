"""Subscriptions to a trust, an alliance or an audit, and the digests sent for them (issue 13 item 6)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from audits.models import Release


class Subscription(models.Model):
    """A signed-in user's wish to hear, by email, what each new published release changes for one trust,
    alliance or audit."""

    class Kind(models.TextChoices):
        TRUST = "trust", "NHS trust"
        ALLIANCE = "alliance", "Cancer Alliance"
        AUDIT = "audit", "Audit"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    code = models.CharField(max_length=63, help_text="ODS code of the trust, code of the alliance, or the audit's code")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user_id", "kind", "code"]
        constraints = [models.UniqueConstraint(fields=["user", "kind", "code"], name="subscription_unique")]

    def __str__(self) -> str:
        return f"{self.user} follows {self.kind} {self.code}"


class Digest(models.Model):
    """One digest email sent for a subscription and a release: a retried task finds it and sends none again."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="digests")
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=255)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [models.UniqueConstraint(fields=["subscription", "release"], name="digest_once_per_release")]

    def __str__(self) -> str:
        return f"digest of {self.release} to {self.to}"
