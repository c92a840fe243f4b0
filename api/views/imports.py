"""Uploads (import jobs): upload an extract, follow its checking."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import roles
from accounts.services import Actor
from api.permissions import require, require_signed_in
from api.serializers.imports import ImportJobSerializer, UploadSerializer, UploadTargetSerializer
from api.views.base import CachingMixin, RetrieveView, Via
from audits.models import ImportJob
from audits.selectors import import_failure, import_report
from audits.services import authorise_upload, create_import_job


class ImportList(CachingMixin, generics.ListAPIView):
    """GET: the uploads of the audits you manage. POST: upload an extract (multipart: ``audit``, ``extract_date``
    and optionally ``publish`` as form fields, once each, and one file part, ``file``; any other shape is a 400).

    An accepted file is a draft release (its audit's analysts and staff see it; publish it with
    ``POST releases/{id}/publish/``) unless ``publish`` is true: then it is published at once.

    The answer is the import job: 201 when the file was accepted (``release`` is set), 422 when it
    was refused (``result.errors`` lists line, column, value and message, as the command line does;
    the values, which come from the file's rows, for the audit's analysts only), or 202 while a
    worker checks it: poll the job's ``url`` (also in the Location header).
    """

    serializer_class = ImportJobSerializer
    filter_backends: list = []
    parser_classes = [MultiPartParser]  # a file cannot travel urlencoded
    csv_filename = "imports"

    def get_queryset(self):
        user = self.request.user
        jobs = ImportJob.objects.select_related("submitted_by").order_by("-submitted_at", "-pk")
        if roles.is_staff(user):
            return jobs
        return jobs.filter(audit_id__in=sorted(roles.analyst_audits(user)))

    def get(self, request, *args, **kwargs):
        require_signed_in(request)
        return super().get(request, *args, **kwargs)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), **_import_context(self.request)}

    @extend_schema(
        request=UploadSerializer,
        responses={
            201: ImportJobSerializer,
            202: ImportJobSerializer,
            422: OpenApiResponse(ImportJobSerializer, description="Refused: result.errors says why"),
            503: OpenApiResponse(
                ImportJobSerializer, description="The import failed (e.g. the database went away): failure says why"
            ),
        },
    )
    def post(self, request: Request) -> Response:
        require_signed_in(request)
        actor = Actor.from_request(request, via=Via.API)
        # The role is decided on the validated audit (one plain form field), before the rest is read
        # (403, then 400), and again by the service itself.
        target = UploadTargetSerializer(data=request.data)
        target.is_valid(raise_exception=True)
        authorise_upload(actor, target.validated_data["audit"])
        form = UploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        job = create_import_job(
            audit_code=form.validated_data["audit"],
            upload=form.validated_data["file"],
            extract_date=form.validated_data["extract_date"],
            actor=actor,
            publish=form.validated_data["publish"],
        )
        job.refresh_from_db()  # finished already when tasks run in-process
        codes: dict[str, int] = {
            ImportJob.Status.ACCEPTED: status.HTTP_201_CREATED,
            ImportJob.Status.REJECTED: status.HTTP_422_UNPROCESSABLE_ENTITY,
            ImportJob.Status.FAILED: status.HTTP_503_SERVICE_UNAVAILABLE,
        }
        code = codes.get(job.status, status.HTTP_202_ACCEPTED)
        data = self.get_serializer(job).data
        return Response(data, status=code, headers={"Location": data["url"]})


def _import_context(request: Request) -> dict[str, Any]:
    """An import's report and failure as the caller may read them (values: the audit's analysts only)."""
    user = request.user
    return {
        "import_report": lambda job: import_report(job, user),
        "import_failure": lambda job: import_failure(job, user),
    }


class ImportDetail(RetrieveView):
    """One upload: poll it until ``finished``; ``result`` then holds the release or the error report."""

    serializer_class = ImportJobSerializer
    queryset = ImportJob.objects.select_related("submitted_by")
    lookup_url_kwarg = "job_id"

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), **_import_context(self.request)}

    def get_object(self):
        require_signed_in(self.request)
        job = super().get_object()
        require(
            self.request,
            roles.can_manage_releases(self.request.user, job.audit_id),
            "Only this audit's analysts and staff can follow its uploads.",
        )
        return job
