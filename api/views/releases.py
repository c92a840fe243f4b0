"""Releases: list, detail, publish, withdraw, recompute and their patient-level rows.

A draft release (not yet published) is listed and found for its audit's analysts and staff only."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles
from accounts.services import Actor
from api.filters import ReleaseFilter
from api.permissions import require_signed_in
from api.selectors import current_release_ids
from api.serializers.releases import (
    PatientRowsPageSerializer,
    ReleaseDetailSerializer,
    ReleaseSerializer,
    RunSerializer,
    WithdrawSerializer,
    row_serializer,
)
from api.views.base import CachingMixin, ListView, RetrieveView, Via
from audits.models import Release
from audits.selectors import quality_by_trust
from audits.services import (
    AlreadyWithdrawn,
    NotPublishable,
    authorise_withdraw,
    publish_release,
    read_patient_rows,
    withdraw_release,
)
from indicators.models import ComputationRun
from indicators.services import recompute_release


def _release_context(view) -> dict[str, Any]:
    user = view.request.user
    return {
        "current_releases": current_release_ids(),
        "can_manage": lambda audit_code: roles.can_manage_releases(user, audit_code),
    }


_RELEASES = Release.objects.prefetch_related(
    Prefetch("runs", queryset=ComputationRun.objects.order_by("-requested_at", "-pk"))
)


def _visible(releases: QuerySet[Release], user) -> QuerySet[Release]:
    """The releases ``user`` may read: every published or withdrawn one, and the drafts of the audits they manage
    (staff: all)."""
    if roles.is_staff(user):
        return releases
    return releases.filter(~Q(status=Release.Status.DRAFT) | Q(audit_id__in=sorted(roles.analyst_audits(user))))


def _detail(request: Request, release_id: int) -> Response:
    """The release as ``GET releases/{id}/`` answers it (after a write)."""
    view = ReleaseDetail(request=request, kwargs={"release_id": release_id}, format_kwarg=None)
    return Response(ReleaseDetailSerializer(_RELEASES.get(pk=release_id), context=view.get_serializer_context()).data)


class ReleaseList(ListView):
    """Every release of every audit, newest first: status, period, data-quality summary, computation progress."""

    serializer_class = ReleaseSerializer
    filterset_class = ReleaseFilter
    csv_filename = "releases"

    def get_queryset(self):
        return _visible(_RELEASES, self.request.user).order_by("audit_id", "-version")

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), **_release_context(self)}


class ReleaseDetail(RetrieveView):
    """One release. Its data quality by trust: all trusts for the audit's analysts, an alliance lead's own trusts."""

    serializer_class = ReleaseDetailSerializer
    lookup_url_kwarg = "release_id"

    def get_queryset(self):
        return _visible(_RELEASES.all(), self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        context = {**super().get_serializer_context(), **_release_context(self)}
        release = Release.objects.filter(pk=self.kwargs.get("release_id")).only("audit_id", "quality_report").first()
        context["quality_by_trust"] = quality_by_trust(self.request.user, release) if release else None
        return context


class ReleaseWithdraw(CachingMixin, APIView):
    """Withdraw a release (the audit's analysts and staff): the previous release becomes current."""

    @extend_schema(
        request=WithdrawSerializer,
        responses={200: ReleaseDetailSerializer, 409: OpenApiResponse(description="Already withdrawn")},
    )
    def post(self, request: Request, release_id: int) -> Response:
        require_signed_in(request)
        release = get_object_or_404(Release, pk=release_id)
        actor = Actor.from_request(request, via=Via.API)
        authorise_withdraw(actor, release)  # the role before the body: 403, then 400
        form = WithdrawSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            withdraw_release(release=release, actor=actor, reason=form.validated_data["reason"])
        except AlreadyWithdrawn as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return _detail(request, release.pk)


class ReleasePublish(CachingMixin, APIView):
    """Publish a draft release (the audit's analysts and staff): the public pages and the API's results show it
    once its computation is done (until then, the previous published release)."""

    @extend_schema(
        request=None,
        responses={
            200: ReleaseDetailSerializer,
            409: OpenApiResponse(
                description="Not a draft (published or withdrawn already), or a newer release is published"
            ),
        },
    )
    def post(self, request: Request, release_id: int) -> Response:
        require_signed_in(request)
        release = get_object_or_404(Release, pk=release_id)
        try:
            publish_release(release, Actor.from_request(request, via=Via.API))
        except NotPublishable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return _detail(request, release.pk)


class ReleaseRecompute(CachingMixin, APIView):
    """Compute the release's indicators again (the audit's analysts and staff); poll the release for progress."""

    @extend_schema(request=None, responses={202: RunSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        require_signed_in(request)
        release = get_object_or_404(Release, pk=release_id)
        run = recompute_release(release=release, actor=Actor.from_request(request, via=Via.API))
        run.refresh_from_db()
        url = request.build_absolute_uri(reverse("api:release-detail", args=[release.pk]))
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED, headers={"Location": url})


class ReleaseRows(CachingMixin, APIView):
    """A release's patient-level rows, in file order: for that audit's analysts only.

    Page with ``?after=<line of the last row you have>`` (the ``next`` link does it) and ``page_size``.
    """

    csv_rows_key = "results"
    csv_filename = "rows"

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "after", {"type": "integer", "minimum": 0}, description="Rows after this file line (default 0)"
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": 10_000},
                description="Rows per page (default 1000)",
            ),
        ],
        responses=PatientRowsPageSerializer,
    )
    def get(self, request: Request, release_id: int) -> Response:
        require_signed_in(request)
        release = get_object_or_404(Release, pk=release_id)
        try:
            after = int(request.query_params.get("after", 0))
            size = int(request.query_params.get("page_size", 1000))
        except ValueError as exc:
            raise ValidationError({"after": ["Whole numbers only."]}) from exc
        if after < 0 or not 1 <= size <= 10_000:
            raise ValidationError({"page_size": ["after >= 0 and 1 <= page_size <= 10000."]})
        # The service decides (the audit's analysts only) and writes every read to the audit log.
        columns, rows = read_patient_rows(
            release=release, actor=Actor.from_request(request, via=Via.API), after_line=after, limit=size
        )
        next_url = None
        if len(rows) == size:
            next_url = request.build_absolute_uri(
                f"{reverse('api:release-rows', args=[release.pk])}?after={rows[-1]['line']}&page_size={size}"
                + (f"&format={request.query_params['format']}" if "format" in request.query_params else "")
            )
        data = row_serializer(columns)(rows, many=True).data
        response = Response({"count": release.rows, "next": next_url, "results": data})
        if next_url:
            response["Link"] = f'<{next_url}>; rel="next"'
        return response
