"""Outlier cases: list, detail with history, and a stage's transition (issue 13).

Who sees which cases is ``outliers.access.visible_cases``: the audit's analysts and staff all of the
audit's, a trust's lead the trusts and audits they lead, an alliance lead the alliance's trusts. Anyone else
signed in gets 403 (no role in the outlier process), anonymous callers 401; a case you may not see is a 404.
A transition calls the same service as the pages (``outliers.services.advance``), which checks the role
(403) and writes the case's history and the audit log.
"""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import Actor
from api.filters import TextFilter, UpperCharFilter
from api.permissions import require
from api.serializers.outliers import OutlierCaseDetailSerializer, OutlierCaseSerializer, TransitionSerializer
from api.views.base import CachingMixin, ListView, RetrieveView, Via
from outliers import access, services
from outliers.models import CaseEvent, OutlierCase

NO_ROLE = "Outlier cases are for the audit's analysts and staff, and trusts' and Cancer Alliances' leads."


class OutlierCaseFilter(django_filters.FilterSet):
    """Query-string filters of the case list (``?audit=&status=&organisation=``)."""

    audit = TextFilter(field_name="audit_id", help_text="Audit code, e.g. bowel")
    status = django_filters.ChoiceFilter(choices=OutlierCase.Status.choices)
    organisation = UpperCharFilter(help_text="ODS trust code")

    class Meta:
        model = OutlierCase
        fields: list[str] = []


def _require_case_role(request: Request) -> None:
    require(request, access.may_see_cases(request.user), NO_ROLE)


def _cases(request: Request):
    return (
        access.visible_cases(request.user)
        .select_related("opened_release", "latest_release")
        .order_by("-created_at", "-pk")
    )


class OutlierCaseList(ListView):
    """The outlier cases you may see, newest first, with the outcomes of their current stage you may record."""

    serializer_class = OutlierCaseSerializer
    filterset_class = OutlierCaseFilter
    csv_filename = "outlier-cases"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller, no database
            return OutlierCase.objects.none()
        return _cases(self.request)

    def get(self, request, *args, **kwargs):
        _require_case_role(request)
        return super().get(request, *args, **kwargs)


class OutlierCaseDetail(RetrieveView):
    """One case: its result (exact for the audit's analysts and the trust's lead, as published for the others)
    and its history."""

    serializer_class = OutlierCaseDetailSerializer
    lookup_url_kwarg = "case_id"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller, no database
            return OutlierCase.objects.none()
        events = CaseEvent.objects.select_related("release").order_by("at", "pk")
        return _cases(self.request).prefetch_related(Prefetch("events", queryset=events))

    def get(self, request, *args, **kwargs):
        _require_case_role(request)
        return super().get(request, *args, **kwargs)


class OutlierCaseTransition(CachingMixin, APIView):
    """Record the outcome of the case's current stage (one of its ``outcomes``), with a note and optionally an
    attachment (multipart, e.g. the trust's response): the case moves to its next stage or closes.

    403 when the stage is not yours to answer, 400 for an outcome the stage does not take, 409 when the
    case is closed or void."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request={"application/json": TransitionSerializer, "multipart/form-data": TransitionSerializer},
        responses={
            200: OutlierCaseDetailSerializer,
            409: OpenApiResponse(description="The case is closed or void"),
        },
    )
    def post(self, request: Request, case_id: int) -> Response:
        _require_case_role(request)
        case = get_object_or_404(access.visible_cases(request.user), pk=case_id)
        form = TransitionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            services.advance(
                case,
                form.validated_data["outcome"],
                Actor.from_request(request, via=Via.API),
                note=form.validated_data["note"],
                attachment=form.validated_data.get("attachment"),
            )
        except services.CaseClosed as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except services.CaseError as exc:
            return Response({"outcome": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        view = OutlierCaseDetail(request=request, kwargs={"case_id": case.pk}, format_kwarg=None)
        return Response(OutlierCaseDetailSerializer(view.get_object(), context={"request": request}).data)
