"""Explicit serializers: every field the API shows is named here, in the order CSV columns take.

Counts pass through ``indicators.disclosure`` with ``unsuppressed`` from ``accounts.roles``;
serializers only read what the view put in their context (no queries of their own).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import ApiToken
from audits.ingest.columns import COLUMN_TYPES
from audits.ingest.messages import extract_too_large
from audits.models import Alliance, ImportJob, Release, Trust, TrustSuccessor
from audits.registry import all_definitions
from indicators import result_fields
from indicators.disclosure import publish_quality_by_trust, publish_results, publish_trend
from indicators.models import IndicatorResult, Level

# Text that PostgreSQL can store (no NUL characters); also tells the schema's clients so.
NO_NUL = RegexValidator(r"^[^\x00]*$", "Text without NUL characters.")

# ---------------------------------------------------------------- audits and indicators


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
    review = serializers.JSONField()
    numerator = serializers.JSONField(help_text="The condition a denominator patient meets to count")
    denominator = serializers.JSONField()
    exclusions = serializers.JSONField()
    risk_model = serializers.JSONField(allow_null=True)
    definition = serializers.JSONField(source="raw", help_text="The indicator's entry in the definition file")

    def get_audit(self, indicator) -> str:
        return self.context["audit_code"]


class ModelCardSerializer(serializers.Serializer):
    audit = serializers.CharField()
    indicator = serializers.CharField()
    release = serializers.IntegerField()
    run = serializers.IntegerField(help_text="The computation run the model was fitted in")
    method_version = serializers.CharField()
    model_card = serializers.JSONField(help_text="The fitted case-mix model: coefficients, c-statistic, calibration")


# ---------------------------------------------------------------- organisations


class AllianceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alliance
        fields = ["code", "name"]


class TrustSerializer(serializers.ModelSerializer):
    alliance_name = serializers.CharField(source="alliance.name", read_only=True)

    class Meta:
        model = Trust
        fields = ["code", "name", "alliance", "alliance_name", "icb_code", "region", "active"]


class SuccessorSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrustSuccessor
        fields = ["predecessor_code", "successor", "effective_from", "note"]


# ---------------------------------------------------------------- releases and import jobs


class RunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    is_current = serializers.BooleanField()
    completed = serializers.IntegerField()
    total = serializers.IntegerField()
    requested_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ServedRunSerializer(serializers.Serializer):
    """The computation run whose results an answer holds: by default the run the dashboards show, the latest
    completed run of the audit's newest release that has one (a newer run still computing, or one that failed,
    leaves it in place); with ``?release=``, that release's latest completed run."""

    id = serializers.IntegerField(source="pk")
    audit = serializers.CharField(source="release.audit_id")
    release = serializers.IntegerField(source="release_id")
    release_version = serializers.IntegerField(source="release.version")
    method_version = serializers.CharField()
    completed_at = serializers.DateTimeField(source="finished_at", allow_null=True)


class ReleaseSerializer(serializers.ModelSerializer):
    """A release. Who uploaded it, its file and its warnings are shown to those who manage the audit's releases."""

    audit = serializers.CharField(source="audit_id")
    is_current = serializers.SerializerMethodField()
    computation = serializers.SerializerMethodField(help_text="The newest indicator computation and its progress")
    quality = serializers.SerializerMethodField(help_text="Data-quality summary: completeness by column")

    MANAGER_FIELDS = ("file_name", "uploaded_by", "warnings", "withdrawn_reason")

    file_name = serializers.CharField(allow_null=True, help_text="Null unless you manage the audit's releases")
    uploaded_by = serializers.CharField(source="uploaded_by_name", allow_null=True)
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
            "withdrawn_at",
            "definition_sha",
            "file_name",
            "uploaded_by",
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


class ImportJobSerializer(serializers.ModelSerializer):
    """An upload and its progress; ``result`` is the report the command line prints with --json."""

    audit = serializers.CharField(source="audit_id")
    status_display = serializers.CharField(source="get_status_display")
    finished = serializers.BooleanField()
    percent = serializers.IntegerField(source="percent_done")
    submitted_by = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    release_url = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField(
        help_text='{"status", "release", "version", "rows", "errors": [{"line", "column", "value", "message"}], '
        '"error_count", "warnings"}. The values come from the file\'s rows: errors carry a value for the audit\'s '
        "analysts only; anyone else who follows the upload (staff) gets line, column and a message without it"
    )
    failure = serializers.SerializerMethodField(help_text="Why the import failed (its kind only, but for analysts)")

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "url",
            "audit",
            "status",
            "status_display",
            "finished",
            "percent",
            "file_name",
            "extract_date",
            "origin",
            "submitted_by",
            "submitted_at",
            "started_at",
            "finished_at",
            "bytes_total",
            "bytes_done",
            "rows_done",
            "release",
            "release_url",
            "result",
            "failure",
        ]

    def get_submitted_by(self, job) -> str:
        return job.submitted_by.get_username() if job.submitted_by else ""

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_result(self, job) -> dict[str, Any]:
        return self.context["import_report"](job)

    def get_failure(self, job) -> str:
        return self.context["import_failure"](job)

    def get_url(self, job) -> str:
        return self.context["request"].build_absolute_uri(reverse("api:import-detail", args=[job.pk]))

    def get_release_url(self, job) -> str | None:
        if job.release_id is None:
            return None
        return self.context["request"].build_absolute_uri(reverse("api:release-detail", args=[job.release_id]))


class AuditCodeField(serializers.ChoiceField):
    """An audit's code, as text: a file part is refused, never read by its name."""

    def __init__(self, **kwargs):
        super().__init__(choices=[], **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=type(data).__name__)
        return super().to_internal_value(data)


def _is_file(value: Any) -> bool:
    return hasattr(value, "read") or hasattr(value, "chunks")


class UploadTargetSerializer(serializers.Serializer):
    """What an upload is for, checked before the role is (the role is decided on this validated value).

    The one shape of an upload: ``audit`` and ``extract_date`` as plain form fields, each once, and one
    file part, ``file``. A field sent twice or as a file part, or any other file part, is refused.
    """

    SINGLE_FIELDS = ("audit", "extract_date")
    FILE_PART = "file"

    audit = AuditCodeField(help_text="The audit's code, e.g. bowel")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        audit = self.fields["audit"]
        assert isinstance(audit, serializers.ChoiceField)
        audit.choices = sorted(all_definitions())

    def to_internal_value(self, data):
        errors: dict[str, list[str]] = {}
        values = data.getlist if hasattr(data, "getlist") else (lambda key: [data[key]] if key in data else [])
        for name in self.SINGLE_FIELDS:
            sent = values(name)
            if any(_is_file(value) for value in sent):
                errors[name] = ["A form field, not a file part."]
            elif len(sent) > 1:
                errors[name] = ["Send this field once."]
        if len(values(self.FILE_PART)) > 1:
            errors[self.FILE_PART] = ["Send exactly one file part, named file."]
        for name in data:
            if name not in (self.FILE_PART, *self.SINGLE_FIELDS) and any(_is_file(v) for v in values(name)):
                errors[name] = ["Unexpected file part: the extract is the one file part, named file."]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class UploadSerializer(UploadTargetSerializer):
    extract_date = serializers.DateField(help_text="When the data were drawn (YYYY-MM-DD)")
    file = serializers.FileField(help_text="The extract: CSV, UTF-8 (at most MAX_EXTRACT_BYTES)", allow_empty_file=True)

    def validate_file(self, upload):
        problem = extract_too_large(upload.size or 0, settings.MAX_EXTRACT_BYTES)
        if problem:
            raise serializers.ValidationError(problem[0].upper() + problem[1:] + ".")
        return upload


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, validators=[NO_NUL], help_text="Why the release is withdrawn (kept with it)"
    )


# ---------------------------------------------------------------- results and trends


class ResultListSerializer(serializers.ListSerializer):
    """Publishes the whole page at once: exact counts for the audit's analysts, suppressed for everyone else."""

    def to_representation(self, data):
        rows = super().to_representation(data)
        unsuppressed_for = self.context["unsuppressed_for"]
        exact = [i for i, r in enumerate(rows) if unsuppressed_for(r["audit"])]
        published = [i for i, r in enumerate(rows) if not unsuppressed_for(r["audit"])]
        out: list[Any] = [None] * len(rows)
        for indexes, unsuppressed in ((exact, True), (published, False)):
            published_rows = publish_results([rows[i] for i in indexes], unsuppressed=unsuppressed)
            for i, row in zip(indexes, published_rows, strict=True):
                out[i] = row
        return out


class ResultSerializer(serializers.ModelSerializer):
    audit = serializers.CharField(source="audit_code")
    organisation_name = serializers.SerializerMethodField()
    release_version = serializers.IntegerField(source="release.version")
    run = serializers.IntegerField(source="run_id", help_text="The computation run the result comes from")
    numerator = serializers.IntegerField(allow_null=True)
    denominator = serializers.IntegerField(allow_null=True)
    suppressed = serializers.BooleanField(
        help_text="Not shown: small numbers. A count is 1-7, or would let one be worked out from a published total: "
        "for everyone but the audit's analysts the counts, rate, intervals, limits, z-score, flag and eligibility "
        "are null. A shown trust's or alliance's counts are rounded to 5 and its figures computed from them"
    )
    flag = serializers.CharField(allow_null=True, help_text="Funnel flag (of the exact counts); null when not shown")
    eligible = serializers.BooleanField(
        allow_null=True, help_text="Denominator at least the indicator's minimum; null when not shown"
    )

    class Meta:
        model = IndicatorResult
        list_serializer_class = ResultListSerializer
        fields = [
            "audit",
            "indicator",
            "level",
            "organisation",
            "organisation_name",
            *result_fields.PERIOD,
            *result_fields.FIGURES,
            *result_fields.JUDGEMENT,
            "suppressed",
            "release",
            "release_version",
            "run",
            "method_version",
        ]

    def get_organisation_name(self, result) -> str:
        return self.context["names"].get(result.organisation, "")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["public"] = instance.public  # what the public sees; publish_results takes it off
        if not isinstance(self.parent, ResultListSerializer):  # a single result is published on its own
            data = publish_results([data], unsuppressed=self.context["unsuppressed_for"](data["audit"]))[0]
        return data


class XmrChartSerializer(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True)
    amr = serializers.FloatField(allow_null=True, help_text="Average moving range")
    lpl = serializers.FloatField(allow_null=True, help_text="Lower process limit")
    upl = serializers.FloatField(allow_null=True, help_text="Upper process limit")
    near_lpl = serializers.FloatField(allow_null=True)
    near_upl = serializers.FloatField(allow_null=True)
    n_points = serializers.IntegerField()
    n_baseline_points = serializers.IntegerField()
    trial_limits = serializers.BooleanField()
    improvement_direction = serializers.CharField()
    target = serializers.FloatField(allow_null=True)
    variation_icon = serializers.CharField()
    assurance_icon = serializers.CharField(allow_null=True)


class TrendPointSerializer(serializers.Serializer):
    quarter = serializers.CharField()
    start = serializers.DateField()
    numerator = serializers.IntegerField(allow_null=True)
    denominator = serializers.IntegerField(allow_null=True)
    value = serializers.FloatField(allow_null=True)
    suppressed = serializers.BooleanField()
    moving_range = serializers.FloatField(allow_null=True)
    special_cause_rule = serializers.CharField(allow_blank=True)
    special_cause_flag = serializers.BooleanField(allow_null=True)
    side = serializers.CharField(allow_blank=True)
    point_type = serializers.CharField(allow_blank=True)
    colour = serializers.CharField(allow_blank=True)


class TrendSerializer(serializers.Serializer):
    """Quarterly values of one indicator for one organisation, with its XmR chart (null with too few quarters).

    For everyone but the audit's analysts, a trust's or alliance's quarter that is not shown (small numbers) has
    no counts or value, shown quarters have counts rounded to 5 and the value computed from them, and the chart
    (mean, limits, signals) is of the shown values only."""

    audit = serializers.CharField()
    indicator = serializers.CharField()
    level = serializers.ChoiceField(choices=Level.choices)
    organisation = serializers.CharField()
    organisation_name = serializers.CharField()
    release = serializers.IntegerField()
    run = ServedRunSerializer()
    chart = XmrChartSerializer(allow_null=True)
    points = TrendPointSerializer(many=True)

    def to_representation(self, trend):
        points, xmr = publish_trend(
            level=trend.level,
            points=trend.points,
            xmr=trend.xmr,
            public=trend.public,
            unsuppressed=self.context["unsuppressed"],
        )
        chart_points = iter((xmr or {}).get("points", []))
        merged = []
        for point in points:
            # The chart was drawn from the (published) quarters that have a value, in order.
            chart_point: dict[str, Any] = next(chart_points, {}) if point.get("value") is not None else {}
            merged.append(
                {
                    **point,
                    **{
                        k: chart_point.get(k)
                        for k in (
                            "moving_range",
                            "special_cause_rule",
                            "special_cause_flag",
                            "side",
                            "point_type",
                            "colour",
                        )
                    },
                }
            )
        return super().to_representation(
            {
                "audit": trend.run.release.audit_id,
                "indicator": trend.indicator,
                "level": trend.level,
                "organisation": trend.organisation,
                "organisation_name": self.context["names"].get(trend.organisation, ""),
                "release": trend.run.release_id,
                "run": trend.run,
                "chart": None if xmr is None else {k: v for k, v in xmr.items() if k != "points"},
                "points": [
                    {
                        **p,
                        "special_cause_rule": p["special_cause_rule"] or "",
                        "side": p["side"] or "",
                        "point_type": p["point_type"] or "",
                        "colour": p["colour"] or "",
                    }
                    for p in merged
                ],
            }
        )


# ---------------------------------------------------------------- tokens


class TokenSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(read_only=True)
    name = serializers.CharField(max_length=100, validators=[NO_NUL], help_text="What the key is for")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "active", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "active", "created_at", "last_used_at", "revoked_at"]


class NewTokenSerializer(TokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown this once: only its hash is kept")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]


# ---------------------------------------------------------------- patient rows


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
