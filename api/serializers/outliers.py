"""Outlier cases: the fields of ``python manage.py outlier_cases``, what the caller may answer, the history.

What a case's result shows and which outcomes the caller may record are decided by ``outliers.services``
(``case_result``, ``outcomes_for``) for the user in the context; serializers only pass them on.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.validators import NO_NUL
from outliers import access
from outliers.models import CaseEvent, OutlierCase

#: The largest attachment (e.g. a trust's response) taken with a transition.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


class OutlierCaseSerializer(serializers.ModelSerializer):
    """A case: the command line's fields (``release`` is the version that opened it, ``flag`` its level),
    its audit, and the outcomes of its current stage that you may record."""

    release = serializers.IntegerField(source="opened_release.version")
    flag = serializers.CharField(source="level", help_text="alarm (beyond the 99.8% limit) or alert (95%)")
    direction = serializers.CharField(help_text="worse or better than expected")
    status = serializers.CharField(help_text="open, closed or void (its release was withdrawn)")
    audit = serializers.CharField(source="audit_id")
    outcomes = serializers.SerializerMethodField(
        help_text="The outcomes of the current stage you may record (POST .../transition/); empty if none"
    )

    class Meta:
        model = OutlierCase
        fields = [*access.CASE_FIELDS, "audit", "outcomes"]

    def get_outcomes(self, case: OutlierCase) -> list[str]:
        return access.outcomes_for(self.context["request"].user, case)


class CaseEventSerializer(serializers.ModelSerializer):
    """One step of a case's history (never changed)."""

    actor = serializers.CharField(source="actor_name")
    release = serializers.SerializerMethodField(help_text="The version of the release the event is about")
    attachment = serializers.SerializerMethodField(help_text="The attached file's name (e.g. the trust's response)")
    email_to = serializers.SerializerMethodField(
        help_text="Who the notification was sent to: their addresses for the audit team and the trust's lead, "
        "their names and roles for anyone else"
    )
    email_subject = serializers.SerializerMethodField()

    class Meta:
        model = CaseEvent
        fields = [
            "id",
            "at",
            "action",
            "actor",
            "via",
            "from_stage",
            "to_stage",
            "outcome",
            "note",
            "release",
            "attachment",
            "email_to",
            "email_subject",
        ]

    def get_release(self, event: CaseEvent) -> int | None:
        return event.release.version if event.release else None

    def get_attachment(self, event: CaseEvent) -> str | None:
        return (event.attachment.name or "").rsplit("/", 1)[-1] or None

    def get_email_to(self, event: CaseEvent) -> list[str]:
        return access.email_recipients(self.context["request"].user, event.case, event.email.get("to", []))

    def get_email_subject(self, event: CaseEvent) -> str:
        return str(event.email.get("subject", ""))


class OutlierCaseDetailSerializer(OutlierCaseSerializer):
    """A case with its outcome, whether the flag persists in the latest release, the flagged result and its
    history. ``result`` holds exact counts for the audit's analysts and the trust's lead; anyone else gets the
    published figures (suppressed as on the pages), or null while the release is not public."""

    outcome = serializers.CharField(help_text="How the case closed (empty while open)")
    latest_release = serializers.IntegerField(source="latest_release.version")
    result = serializers.SerializerMethodField()
    history = CaseEventSerializer(source="events", many=True, read_only=True)

    class Meta(OutlierCaseSerializer.Meta):
        fields = [
            *OutlierCaseSerializer.Meta.fields,
            "outcome",
            "stage_started",
            "latest_release",
            "flag_persists",
            "created_at",
            "result",
            "history",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_result(self, case: OutlierCase) -> dict[str, Any] | None:
        return access.case_result(self.context["request"].user, case)


class TransitionSerializer(serializers.Serializer):
    """The outcome of the case's current stage (one of the case's ``outcomes``), a note, and optionally a file
    (multipart) kept with the event."""

    outcome = serializers.CharField(max_length=63, validators=[NO_NUL])
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000, validators=[NO_NUL])
    attachment = serializers.FileField(required=False, allow_null=True, max_length=100)

    def validate_attachment(self, value):
        if value is not None and value.size > MAX_ATTACHMENT_BYTES:
            raise serializers.ValidationError(f"At most {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB.")
        return value
