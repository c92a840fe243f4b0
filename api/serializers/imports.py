"""Uploads (import jobs): the one shape of an upload, and the job's progress and report."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audits.ingest.messages import extract_too_large
from audits.models import ImportJob
from audits.registry import all_definitions


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
            "publish",
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

    The one shape of an upload: ``audit``, ``extract_date`` and (optionally) ``publish`` as plain form fields,
    each once, and one file part, ``file``. A field sent twice or as a file part, or any other file part, is
    refused.
    """

    SINGLE_FIELDS = ("audit", "extract_date", "publish")
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
    publish = serializers.BooleanField(
        default=False,
        help_text="Publish the release at once (true); by default it is a draft, seen by the audit's analysts and "
        "staff only until published (POST releases/{id}/publish/)",
    )

    def validate_file(self, upload):
        problem = extract_too_large(upload.size or 0, settings.MAX_EXTRACT_BYTES)
        if problem:
            raise serializers.ValidationError(problem[0].upper() + problem[1:] + ".")
        return upload
