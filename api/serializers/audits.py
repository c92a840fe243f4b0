"""Audits, their columns and indicators: what their definition files state."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class AuditSerializer(serializers.Serializer):
    """An audit definition file (the source of truth) and its current release."""

    code = serializers.CharField()
    name = serializers.CharField()
    short_name = serializers.CharField()
    description = serializers.CharField()
    patient_id_column = serializers.CharField(source="patient_id")
    provider_column = serializers.CharField(source="provider")
    diagnosis_date_column = serializers.CharField(source="diagnosis_date")
    indicator_count = serializers.SerializerMethodField()
    current_release = serializers.SerializerMethodField()
    definition_sha256 = serializers.CharField(source="sha256")

    def get_indicator_count(self, definition) -> int:
        return len(definition.indicators)

    def get_current_release(self, definition) -> int | None:
        return self.context["current_releases"].get(definition.code)


@extend_schema_field({"type": "number", "nullable": True})
class ColumnBoundField(serializers.Field):
    """A column's ``min`` or ``max`` as a JSON number, of the column's own type (whole for an integer column)."""

    def to_representation(self, value):
        return value


class ColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    # DRF's metaclass takes declared fields off the class; the stubs see Field.required (a bool) instead.
    required = serializers.BooleanField()  # type: ignore[assignment]
    unique = serializers.BooleanField()
    codes = serializers.ListField(child=serializers.CharField())
    min = ColumnBoundField()
    max = ColumnBoundField()
    not_after_extract_date = serializers.BooleanField()
    description = serializers.CharField()


class AuditDetailSerializer(AuditSerializer):
    columns = ColumnSerializer(many=True)


class IndicatorSerializer(serializers.Serializer):
    """An indicator's full definition, as its audit's definition file states it."""

    audit = serializers.SerializerMethodField()
    code = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    numerator_text = serializers.CharField()
    denominator_text = serializers.CharField()
    direction = serializers.CharField()
    improvement_direction = serializers.CharField()
    kind = serializers.CharField(help_text="proportion, or ratio (observed/expected) for risk-adjusted indicators")
    risk_adjusted = serializers.BooleanField()
    period_column = serializers.CharField()
    minimum_denominator = serializers.IntegerField()
    funnel_method = serializers.CharField()
    standard = serializers.JSONField(allow_null=True)
    prompt = serializers.CharField()
    recommendation = serializers.CharField()
    review = serializers.JSONField(
        help_text="Who wrote and checked the definition and its source; status (verified or unverified) and, when "
        "unverified, a note saying what is not yet checked against the audit's own methodology"
    )
    numerator = serializers.JSONField(help_text="The condition a denominator patient meets to count")
    denominator = serializers.JSONField()
    exclusions = serializers.JSONField()
    risk_model = serializers.JSONField(allow_null=True)
    definition = serializers.JSONField(source="raw", help_text="The indicator's entry in the definition file")

    def get_audit(self, indicator) -> str:
        return self.context["audit_code"]
