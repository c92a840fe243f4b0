"""Releases, their computation runs, withdrawal and patient-level rows."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.validators import NO_NUL
from audits.ingest.columns import COLUMN_TYPES
from audits.models import Release
from indicators.disclosure import publish_quality_by_trust


class RunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    is_current = serializers.BooleanField()
    completed = serializers.IntegerField()
    total = serializers.IntegerField()
    requested_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ReleaseSerializer(serializers.ModelSerializer):
    """A release: ``status`` is draft (not published: its audit's analysts and staff only see it), accepted
    (published) or withdrawn. Who uploaded and published it, its file and its warnings are shown to those who
    manage the audit's releases."""

    audit = serializers.CharField(source="audit_id")
    is_current = serializers.SerializerMethodField()
    computation = serializers.SerializerMethodField(help_text="The newest indicator computation and its progress")
    quality = serializers.SerializerMethodField(help_text="Data-quality summary: completeness by column")

    MANAGER_FIELDS = ("file_name", "uploaded_by", "published_by", "warnings", "withdrawn_reason")

    file_name = serializers.CharField(allow_null=True, help_text="Null unless you manage the audit's releases")
    uploaded_by = serializers.CharField(source="uploaded_by_name", allow_null=True)
    published_by = serializers.CharField(source="published_by_name", allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField(), allow_null=True)
    withdrawn_reason = serializers.CharField(allow_null=True)

    class Meta:
        model = Release
        fields = [
            "id",
            "audit",
            "version",
            "status",
            "is_current",
            "extract_date",
            "period_start",
            "period_end",
            "rows",
            "size_bytes",
            "sha256",
            "origin",
            "uploaded_at",
            "published_at",
            "withdrawn_at",
            "definition_sha",
            "file_name",
            "uploaded_by",
            "published_by",
            "warnings",
            "withdrawn_reason",
            "computation",
            "quality",
        ]

    def get_is_current(self, release) -> bool:
        return self.context["current_releases"].get(release.audit_id) == release.pk

    @extend_schema_field(RunSerializer(allow_null=True))
    def get_computation(self, release) -> dict[str, Any] | None:
        runs = list(release.runs.all())  # prefetched, newest first
        return RunSerializer(runs[0]).data if runs else None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_quality(self, release) -> dict[str, Any]:
        report = release.quality_report or {}
        return {
            "rows": report.get("rows"),
            "columns": report.get("columns", []),
            "optional_columns": report.get("optional_columns", []),
        }

    def to_representation(self, release):
        data = super().to_representation(release)
        if not self.context["can_manage"](release.audit_id):
            for name in self.MANAGER_FIELDS:
                data[name] = None
        return data


class ReleaseDetailSerializer(ReleaseSerializer):
    quality_by_trust = serializers.SerializerMethodField(
        help_text="Completeness by trust: every trust for the audit's analysts, the trusts of their alliance for an "
        "alliance lead (row counts suppressed), null for everyone else"
    )

    class Meta(ReleaseSerializer.Meta):
        fields = [*ReleaseSerializer.Meta.fields, "quality_by_trust"]

    @extend_schema_field(serializers.ListField(child=serializers.DictField(), allow_null=True))
    def get_quality_by_trust(self, release) -> list[dict[str, Any]] | None:
        answer = self.context["quality_by_trust"]  # audits.selectors.quality_by_trust, for this caller
        if answer is None:
            return None
        return publish_quality_by_trust(answer.providers, unsuppressed=answer.exact)


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, validators=[NO_NUL], help_text="Why the release is withdrawn (kept with it)"
    )


def row_serializer(columns: list[tuple[str, str]]) -> type[serializers.Serializer]:
    """A serializer for one release's patient rows, built from its definition's columns: each column type names
    its field (audits.ingest.columns)."""
    fields = {}
    for name, kind in columns:
        column_type = COLUMN_TYPES[kind]
        fields[name] = getattr(serializers, column_type.api_field)(allow_null=True, **column_type.api_options)
    return type("PatientRowSerializer", (serializers.Serializer,), fields)


class PatientRowsPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Rows in the release")
    next = serializers.URLField(allow_null=True)
    results = serializers.ListField(
        child=serializers.DictField(), help_text="Rows in file order; columns as the audit's definition declares"
    )
