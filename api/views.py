"""The API: short views that translate: validate the request, call a selector or a service (which checks
the caller's role itself and writes the audit log), and serialize.

Every list is paginated, stably ordered, and served as JSON or CSV (``?format=csv`` or
``Accept: text/csv``). Every GET carries an ETag and answers ``If-None-Match`` with 304.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, cast

from django.core.cache import cache
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers, set_response_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse as api_reverse
from rest_framework.views import APIView

from accounts import roles
from accounts.models import ApiToken, AuditLogEntry
from accounts.services import Actor, client_ip, create_token, revoke_token
from api import serializers as s
from api.filters import ReleaseFilter, ResultFilter, TrustFilter, UpperCharFilter
from api.pagination import ANONYMOUS_MAX_PAGE_SIZE, Pagination, ResultPagination
from api.permissions import require, require_signed_in
from api.selectors import current_release_ids, organisation_names
from audits.models import Alliance, ImportJob, Release, Trust, TrustSuccessor
from audits.registry import all_definitions
from audits.selectors import import_failure, import_report, quality_by_trust
from audits.services import (
    AlreadyWithdrawn,
    authorise_upload,
    authorise_withdraw,
    create_import_job,
    read_patient_rows,
    withdraw_release,
)
from indicators.disclosure import publish_model_card
from indicators.models import ComputationRun, IndicatorResult, RunIndicator, TrendSeries
from indicators.registry import indicators_for
from indicators.selectors import current_run, current_runs, shown_runs
from indicators.services import recompute_release

Via = AuditLogEntry.Via
RESULTS_CACHE_SECONDS = 3600


class CachingMixin(APIView):
    """ETag on every successful GET, 304 when the client's copy is current; responses vary by caller.

    A view that serves computed results names the runs they come from in ``served_runs``: they go in the
    ``X-Computation-Run`` header (run ids, comma-separated), which CSV answers have too."""

    served_runs: list[ComputationRun] | None = None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, ("Accept", "Authorization", "Cookie"))
        if request.method not in ("GET", "HEAD") or response.status_code != 200:
            return response
        if self.served_runs is not None:
            response["X-Computation-Run"] = ", ".join(str(run.pk) for run in self.served_runs)
        patch_cache_control(
            response, no_cache=True, **({"private": True} if request.user.is_authenticated else {"public": True})
        )
        response.render()
        set_response_etag(response)
        return get_conditional_response(request, etag=response["ETag"], response=response)


class ListView(CachingMixin, generics.ListAPIView):
    pass


class RetrieveView(CachingMixin, generics.RetrieveAPIView):
    pass


def _definition_or_404(audit_code: str):
    definition = all_definitions().get(audit_code)
    if definition is None:
        raise Http404(f"No audit {audit_code!r}")
    return definition


def _indicator_or_404(audit_code: str, code: str):
    _definition_or_404(audit_code)
    for indicator in indicators_for(audit_code):
        if indicator.code == code:
            return indicator
    raise Http404(f"No indicator {code!r} in {audit_code}")


def _release_param(request: Request) -> int | None:
    value = request.query_params.get("release")
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationError({"release": ["A release id (a whole number)."]}) from exc


def _unpublished(request: Request, release: Release) -> bool:
    """Withdrawn means unpublished: a withdrawn release's results, trends and model cards are for the
    audit's analysts and staff only (everyone else gets 404, as if it had never been published)."""
    return release.is_withdrawn and not roles.can_manage_releases(request.user, release.audit_id)


def _run_or_404(request: Request, audit_code: str) -> ComputationRun:
    """The run whose results are served: the one the dashboards show (indicators.selectors.shown_runs), or
    with ?release= that release's latest completed run."""
    pk = _release_param(request)
    if pk is None:
        run = shown_runs().get(audit_code)
        if run is None:
            raise Http404(f"No computed results of {audit_code} yet")
        return run
    release = Release.objects.filter(pk=pk, audit_id=audit_code).first()
    if release is None or _unpublished(request, release):
        raise Http404(f"No release of {audit_code} with id {pk}")
    run = current_run(release)
    if run is None:
        raise Http404(f"No computed results of release {pk} yet")
    return run


RELEASE_PARAM = OpenApiParameter(
    "release", {"type": "integer", "minimum": 1}, description="A release id (default: the current one)"
)


# ---------------------------------------------------------------- root


class ApiRoot(CachingMixin, APIView):
    """The endpoints of this API."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        names = [
            "audit-list",
            "trust-list",
            "alliance-list",
            "successor-list",
            "release-list",
            "import-list",
            "result-list",
            "token-list",
            "schema",
            "docs",
        ]
        return Response({name.removesuffix("-list"): api_reverse(f"api:{name}", request=request) for name in names})


# ---------------------------------------------------------------- audits and indicators


class AuditList(ListView):
    """Every audit: its definition's name and description, and its current release."""

    serializer_class = s.AuditSerializer
    filter_backends: list = []
    csv_filename = "audits"

    def get_queryset(self):
        return sorted(all_definitions().values(), key=lambda d: (d.name, d.code))

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "current_releases": current_release_ids()}


class AuditDetail(RetrieveView):
    """One audit, with the columns of its extract."""

    serializer_class = s.AuditDetailSerializer
    filter_backends: list = []

    def get_object(self):
        return _definition_or_404(self.kwargs["audit_code"])

    def get_serializer_context(self) -> dict[str, Any]:
        return {
            **super().get_serializer_context(),
            "current_releases": current_release_ids(self.kwargs.get("audit_code")),
        }


class IndicatorList(ListView):
    """An audit's indicators with their full definitions."""

    serializer_class = s.IndicatorSerializer
    filter_backends: list = []
    csv_filename = "indicators"

    def get_queryset(self):
        _definition_or_404(self.kwargs["audit_code"])
        return indicators_for(self.kwargs["audit_code"])  # in definition-file order

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "audit_code": self.kwargs.get("audit_code")}


class IndicatorDetail(RetrieveView):
    serializer_class = s.IndicatorSerializer
    filter_backends: list = []

    def get_object(self):
        return _indicator_or_404(self.kwargs["audit_code"], self.kwargs["indicator"])

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "audit_code": self.kwargs.get("audit_code")}


class ModelCardView(RetrieveView):
    """The case-mix model of a risk-adjusted indicator, as fitted for a release (default: the current one)."""

    serializer_class = s.ModelCardSerializer
    filter_backends: list = []

    @extend_schema(parameters=[RELEASE_PARAM])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self) -> dict[str, Any]:
        audit_code, code = self.kwargs["audit_code"], self.kwargs["indicator"]
        if not _indicator_or_404(audit_code, code).risk_adjusted:
            raise Http404(f"{code} is not risk-adjusted: it has no model card")
        run = _run_or_404(self.request, audit_code)
        self.served_runs = [run]
        entry = RunIndicator.objects.filter(run=run, indicator=code, model_card__isnull=False).first()
        if entry is None:
            raise Http404(f"No computed model for {code} in release {run.release_id}")
        return {
            "audit": audit_code,
            "indicator": code,
            "release": run.release_id,
            "run": run.pk,
            "method_version": run.method_version,
            "model_card": publish_model_card(
                entry.model_card, by_trust=roles.quality_by_trust_scope(self.request.user, audit_code) == "all"
            ),
        }


class TrendView(RetrieveView):
    """XmR chart data of one indicator for one trust, alliance or England: one CSV row per quarter."""

    serializer_class = s.TrendSerializer
    filter_backends: list = []
    csv_rows_key = "points"
    csv_filename = "xmr"

    @extend_schema(parameters=[RELEASE_PARAM])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self) -> TrendSeries:
        audit_code, code = self.kwargs["audit_code"], self.kwargs["indicator"]
        _indicator_or_404(audit_code, code)
        run = _run_or_404(self.request, audit_code)
        self.served_runs = [run]
        trend = (
            TrendSeries.objects.filter(run=run, indicator=code, organisation=self.kwargs["organisation"].upper())
            .order_by("level")
            .first()
        )
        if trend is None:
            raise Http404(f"No trend of {code} for {self.kwargs['organisation']} in release {run.release_id}")
        trend.run = run  # with its release: the answer names the run
        return trend

    def get_serializer_context(self) -> dict[str, Any]:
        audit_code = self.kwargs.get("audit_code", "")
        return {
            **super().get_serializer_context(),
            "names": organisation_names(),
            "unsuppressed": roles.sees_unsuppressed(self.request.user, audit_code),
        }


# ---------------------------------------------------------------- organisations


class AllianceList(ListView):
    """The 21 Cancer Alliances."""

    serializer_class = s.AllianceSerializer
    queryset = Alliance.objects.order_by("code")
    csv_filename = "alliances"


class AllianceDetail(RetrieveView):
    serializer_class = s.AllianceSerializer
    queryset = Alliance.objects.all()
    lookup_url_kwarg = "code"


class TrustList(ListView):
    """NHS trusts, each in one Cancer Alliance (inactive: no longer in the seed file, kept for old results)."""

    serializer_class = s.TrustSerializer
    queryset = Trust.objects.select_related("alliance").order_by("code")
    filterset_class = TrustFilter
    csv_filename = "trusts"


class TrustDetail(RetrieveView):
    serializer_class = s.TrustSerializer
    queryset = Trust.objects.select_related("alliance")
    lookup_url_kwarg = "code"


class SuccessorList(ListView):
    """Predecessor trust codes and the trust whose results include them from a date."""

    serializer_class = s.SuccessorSerializer
    queryset = TrustSuccessor.objects.order_by("predecessor_code")
    csv_filename = "successors"


# ---------------------------------------------------------------- releases


def _release_context(view) -> dict[str, Any]:
    user = view.request.user
    return {
        "current_releases": current_release_ids(),
        "can_manage": lambda audit_code: roles.can_manage_releases(user, audit_code),
    }


_RELEASES = Release.objects.prefetch_related(
    Prefetch("runs", queryset=ComputationRun.objects.order_by("-requested_at", "-pk"))
)


class ReleaseList(ListView):
    """Every release of every audit, newest first: status, period, data-quality summary, computation progress."""

    serializer_class = s.ReleaseSerializer
    filterset_class = ReleaseFilter
    csv_filename = "releases"

    def get_queryset(self):
        return _RELEASES.order_by("audit_id", "-version")

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), **_release_context(self)}


class ReleaseDetail(RetrieveView):
    """One release. Its data quality by trust: all trusts for the audit's analysts, an alliance lead's own trusts."""

    serializer_class = s.ReleaseDetailSerializer
    lookup_url_kwarg = "release_id"

    def get_queryset(self):
        return _RELEASES.all()

    def get_serializer_context(self) -> dict[str, Any]:
        context = {**super().get_serializer_context(), **_release_context(self)}
        release = Release.objects.filter(pk=self.kwargs.get("release_id")).only("audit_id", "quality_report").first()
        context["quality_by_trust"] = quality_by_trust(self.request.user, release) if release else None
        return context


class ReleaseWithdraw(CachingMixin, APIView):
    """Withdraw a release (the audit's analysts and staff): the previous release becomes current."""

    @extend_schema(
        request=s.WithdrawSerializer,
        responses={200: s.ReleaseDetailSerializer, 409: OpenApiResponse(description="Already withdrawn")},
    )
    def post(self, request: Request, release_id: int) -> Response:
        require_signed_in(request)
        release = get_object_or_404(Release, pk=release_id)
        actor = Actor.from_request(request, via=Via.API)
        authorise_withdraw(actor, release)  # the role before the body: 403, then 400
        form = s.WithdrawSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            withdraw_release(release=release, actor=actor, reason=form.validated_data["reason"])
        except AlreadyWithdrawn as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        view = ReleaseDetail(request=request, kwargs={"release_id": release.pk}, format_kwarg=None)
        return Response(
            s.ReleaseDetailSerializer(_RELEASES.get(pk=release.pk), context=view.get_serializer_context()).data
        )


class ReleaseRecompute(CachingMixin, APIView):
    """Compute the release's indicators again (the audit's analysts and staff); poll the release for progress."""

    @extend_schema(request=None, responses={202: s.RunSerializer})
    def post(self, request: Request, release_id: int) -> Response:
        require_signed_in(request)
        release = get_object_or_404(Release, pk=release_id)
        run = recompute_release(release=release, actor=Actor.from_request(request, via=Via.API))
        run.refresh_from_db()
        url = request.build_absolute_uri(reverse("api:release-detail", args=[release.pk]))
        return Response(s.RunSerializer(run).data, status=status.HTTP_202_ACCEPTED, headers={"Location": url})


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
        responses=s.PatientRowsPageSerializer,
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
        data = s.row_serializer(columns)(rows, many=True).data
        response = Response({"count": release.rows, "next": next_url, "results": data})
        if next_url:
            response["Link"] = f'<{next_url}>; rel="next"'
        return response


# ---------------------------------------------------------------- import jobs (uploads)


class ImportList(CachingMixin, generics.ListAPIView):
    """GET: the uploads of the audits you manage. POST: upload an extract (multipart: ``audit`` and
    ``extract_date`` as form fields, once each, and one file part, ``file``; any other shape is a 400).

    The answer is the import job: 201 when the file was accepted (``release`` is set), 422 when it
    was refused (``result.errors`` lists line, column, value and message, as the command line does;
    the values, which come from the file's rows, for the audit's analysts only), or 202 while a
    worker checks it: poll the job's ``url`` (also in the Location header).
    """

    serializer_class = s.ImportJobSerializer
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
        request=s.UploadSerializer,
        responses={
            201: s.ImportJobSerializer,
            202: s.ImportJobSerializer,
            422: OpenApiResponse(s.ImportJobSerializer, description="Refused: result.errors says why"),
            503: OpenApiResponse(
                s.ImportJobSerializer, description="The import failed (e.g. the database went away): failure says why"
            ),
        },
    )
    def post(self, request: Request) -> Response:
        require_signed_in(request)
        actor = Actor.from_request(request, via=Via.API)
        # The role is decided on the validated audit (one plain form field), before the rest is read
        # (403, then 400), and again by the service itself.
        target = s.UploadTargetSerializer(data=request.data)
        target.is_valid(raise_exception=True)
        authorise_upload(actor, target.validated_data["audit"])
        form = s.UploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        job = create_import_job(
            audit_code=form.validated_data["audit"],
            upload=form.validated_data["file"],
            extract_date=form.validated_data["extract_date"],
            actor=actor,
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

    serializer_class = s.ImportJobSerializer
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


# ---------------------------------------------------------------- results


class ResultList(ListView):
    """Indicator results: by default those the dashboards show, the latest completed run of each audit's newest
    release that has one (while a newer run computes, or after one fails, the previous results stay served);
    ``?release=`` for another release's (a withdrawn release: its audit's analysts and staff only). ``runs``
    names the runs the results come from, as does the ``X-Computation-Run`` header (CSV too).

    Counts are exact for the audit's analysts. For everyone else, a trust or alliance row with a small
    count, or one that would give a small count away, is not shown (counts, figures, flag and
    eligibility null); the others' counts are rounded to 5 and their figures computed from them.
    """

    serializer_class = s.ResultSerializer
    filterset_class = ResultFilter
    pagination_class = ResultPagination
    csv_filename = "results"

    def get_queryset(self):
        results = IndicatorResult.objects.select_related("release")
        if getattr(self, "swagger_fake_view", False):  # schema generation: no database
            return results.none()
        return results.filter(run_id__in=[run.pk for run in self.served_runs or []]).order_by(
            "audit_code", "indicator", "level", "organisation", "period", "pk"
        )

    def get_serializer_context(self) -> dict[str, Any]:
        user = self.request.user
        return {
            **super().get_serializer_context(),
            "names": organisation_names(),
            "unsuppressed_for": lambda audit_code: roles.sees_unsuppressed(user, audit_code),
        }

    def get_paginated_response(self, data):
        runs = s.ServedRunSerializer(self.served_runs, many=True).data
        return cast(ResultPagination, self.paginator).get_paginated_response(data, runs=runs)

    def list(self, request, *args, **kwargs):
        """Serialized pages are kept per set of current runs: results change only when a run becomes current
        (or a release is withdrawn), so repeat requests skip the query and the serializer."""
        pk = _release_param(request)
        current = current_runs()  # one query: what is served, and the cache key
        if pk is None:
            self.served_runs = list(shown_runs(current).values())
        else:
            release = Release.objects.filter(pk=pk).first()
            if release is not None and _unpublished(request, release):
                raise Http404(f"No release with id {pk}")
            self.served_runs = [run for run in current if run.release_id == pk]  # none: no results
        audit_code = request.query_params.get("audit")
        if audit_code:
            self.served_runs = [run for run in self.served_runs if run.release.audit_id == audit_code]
        key = self._cache_key(request, current)
        cached = cache.get(key) if key else None
        if cached is None:
            response = super().list(request, *args, **kwargs)
            cached = (
                response.data,
                {name: value for name, value in response.items() if name in ("Link", "X-Total-Count")},
            )
            # Pages of up to 1,000 rows with something in them: a few hundred KB at most per entry, and
            # a query that matches nothing is cheaper to run again than to keep.
            size = cast(Pagination, self.paginator).get_page_size(request) or 0
            if key and response.data.get("count") and size <= ANONYMOUS_MAX_PAGE_SIZE:
                cache.set(key, cached, RESULTS_CACHE_SECONDS)
        data, headers = cached
        return Response(data, headers=headers)

    def _cache_key(self, request, current: Sequence[ComputationRun]) -> str | None:
        """The page's key, from the validated query only: parameters the API does not know (``x=<random>``)
        do not make new entries. None when the filters are not valid (the answer is then a 400)."""
        filterset = ResultFilter(request.query_params, queryset=IndicatorResult.objects.none(), request=request)
        if not filterset.is_valid():
            return None
        filters = sorted(
            (name, str(value).upper() if isinstance(filterset.filters[name], UpperCharFilter) else str(value))
            for name, value in filterset.form.cleaned_data.items()
            if value not in (None, "")
        )
        paginator = cast(Pagination, self.paginator)
        page = request.query_params.get(paginator.page_query_param, "1")
        unsuppressed = sorted(code for code in all_definitions() if roles.sees_unsuppressed(request.user, code))
        parts = [
            request.scheme,
            request.get_host(),
            request.path,
            str(filters),
            str(int(page)) if page.isdigit() else page,
            str(paginator.get_page_size(request)),
            request.accepted_renderer.format,
            ",".join(unsuppressed),
            # every release's current run and whether the release is withdrawn: what is served changes with them
            str(sorted((run.pk, run.release_id, run.release.status) for run in current)),
        ]
        return "api-results:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


# ---------------------------------------------------------------- tokens


class TokenList(CachingMixin, generics.ListAPIView):
    """GET: your API tokens (never their keys). POST {name}: a new token; its key is in this answer only."""

    serializer_class = s.TokenSerializer
    filter_backends: list = []
    csv_filename = "tokens"

    def get_queryset(self):
        user = self.request.user
        if not user.is_authenticated:  # get() and post() have turned anonymous callers away
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")

    def get(self, request, *args, **kwargs):
        require(request, roles.can_hold_tokens(request.user), "")
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.TokenSerializer, responses={201: s.NewTokenSerializer})
    def post(self, request: Request) -> Response:
        require(request, roles.can_hold_tokens(request.user), "")
        form = s.TokenSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        token, key = create_token(
            user=request.user, name=form.validated_data["name"], via=Via.API, ip=client_ip(request)
        )
        response = Response({**s.TokenSerializer(token).data, "key": key}, status=status.HTTP_201_CREATED)
        patch_cache_control(response, no_store=True)
        return response


class TokenDetail(CachingMixin, generics.RetrieveDestroyAPIView):
    """One of your tokens. DELETE revokes it for good (it stays listed, marked revoked)."""

    serializer_class = s.TokenSerializer
    lookup_url_kwarg = "token_id"

    def get_queryset(self):
        user = self.request.user
        if not user.is_authenticated:  # get_object() has turned anonymous callers away
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=user)

    def get_object(self):
        require(self.request, roles.can_hold_tokens(self.request.user), "")
        return super().get_object()

    @extend_schema(responses={200: s.TokenSerializer})
    def delete(self, request: Request, *args, **kwargs) -> Response:
        token = revoke_token(token=self.get_object(), by=request.user, via=Via.API, ip=client_ip(request))
        return Response(s.TokenSerializer(token).data)


class NotFound(APIView):
    """Any other address under /api/v1/: a 404 in the format asked for, like the API's other errors."""

    schema = None

    def _not_found(self, request, *args, **kwargs):
        raise Http404("No such endpoint.")

    get = post = put = patch = delete = head = options = _not_found
