"""What a computation run produced: indicator results, XmR trends and model cards."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, cast

from django.core.cache import cache
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles
from api.filters import ResultFilter, UpperCharFilter
from api.pagination import ANONYMOUS_MAX_PAGE_SIZE, Pagination, ResultPagination
from api.selectors import organisation_names
from api.serializers.results import (
    InequalitySerializer,
    ModelCardSerializer,
    ResultSerializer,
    ServedRunSerializer,
    TrendSerializer,
)
from api.views.audits import indicator_or_404
from api.views.base import CachingMixin, ListView, RetrieveView
from audits.models import Release
from audits.registry import all_definitions
from indicators.disclosure import publish_model_card
from indicators.inequalities import DIMENSIONS
from indicators.inequality_results import breakdown
from indicators.levels import PROVIDER
from indicators.models import ComputationRun, IndicatorResult, RunIndicator, TrendSeries
from indicators.selectors import current_run, current_runs, shown_runs

RESULTS_CACHE_SECONDS = 3600


def _release_param(request: Request) -> int | None:
    value = request.query_params.get("release")
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationError({"release": ["A release id (a whole number)."]}) from exc


def _unpublished(request: Request, release: Release) -> bool:
    """A draft (not yet published) or a withdrawn release: its results, trends and model cards are for the
    audit's analysts and staff only (everyone else gets 404, as if it had never been published)."""
    return not release.is_published and not roles.can_manage_releases(request.user, release.audit_id)


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


class ModelCardView(RetrieveView):
    """The case-mix model of a risk-adjusted indicator, as fitted for a release (default: the current one)."""

    serializer_class = ModelCardSerializer
    filter_backends: list = []

    @extend_schema(parameters=[RELEASE_PARAM])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self) -> dict[str, Any]:
        audit_code, code = self.kwargs["audit_code"], self.kwargs["indicator"]
        if not indicator_or_404(audit_code, code).risk_adjusted:
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

    serializer_class = TrendSerializer
    filter_backends: list = []
    csv_rows_key = "points"
    csv_filename = "xmr"

    @extend_schema(parameters=[RELEASE_PARAM])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self) -> TrendSeries:
        audit_code, code = self.kwargs["audit_code"], self.kwargs["indicator"]
        indicator_or_404(audit_code, code)
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
        # A trust's own team sees its own quarters exactly (a trust's series only: never an alliance's).
        self.exact = roles.sees_unsuppressed(
            self.request.user, audit_code, trend.organisation if trend.level == PROVIDER else None
        )
        return trend

    def get_serializer_context(self) -> dict[str, Any]:
        audit_code = self.kwargs.get("audit_code", "")
        return {
            **super().get_serializer_context(),
            "names": organisation_names(),
            "unsuppressed": getattr(self, "exact", None) or roles.sees_unsuppressed(self.request.user, audit_code),
        }


class ResultList(ListView):
    """Indicator results: by default those the dashboards show, the latest completed run of each audit's newest
    release that has one (while a newer run computes, or after one fails, the previous results stay served);
    ``?release=`` for another release's (a draft or a withdrawn release: its audit's analysts and staff only). ``runs``
    names the runs the results come from, as does the ``X-Computation-Run`` header (CSV too).

    Counts are exact for the audit's analysts. For everyone else, a trust or alliance row with a small
    count, or one that would give a small count away, is not shown (counts, figures, flag and
    eligibility null); the others' counts are rounded to 5 and their figures computed from them.
    """

    serializer_class = ResultSerializer
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
            # per row: a trust's own team sees that trust's rows exactly (``organisation`` is given for trust rows only)
            "unsuppressed_for": lambda audit_code, organisation=None: roles.sees_unsuppressed(
                user, audit_code, organisation
            ),
        }

    def get_paginated_response(self, data):
        runs = ServedRunSerializer(self.served_runs, many=True).data
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
        # a trust's own team sees its own rows exactly: its pages are its own
        own = sorted(f"{code}:{trust}" for code in all_definitions() for trust in roles.own_trusts(request.user, code))
        parts = [
            request.scheme,
            request.get_host(),
            request.path,
            str(filters),
            str(int(page)) if page.isdigit() else page,
            str(paginator.get_page_size(request)),
            request.accepted_renderer.format,
            ",".join(unsuppressed),
            ",".join(own),
            # every release's current run and whether the release is withdrawn: what is served changes with them
            str(sorted((run.pk, run.release_id, run.release.status) for run in current)),
        ]
        return "api-results:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


_TEXT = {"type": "string", "pattern": "^[^\\x00]*$"}  # no NUL: PostgreSQL refuses it in a query
_CODE = {**_TEXT, "minLength": 1}
INEQUALITY_PARAMS = [
    OpenApiParameter("audit", _CODE, required=True, description="The audit's code, e.g. bowel"),
    OpenApiParameter("indicator", _CODE, required=True, description="The indicator's code"),
    OpenApiParameter(
        "dimension", str, required=True, enum=list(DIMENSIONS), description="The breakdown: deprivation, age, ..."
    ),
    OpenApiParameter("organisation", _TEXT, description="A Cancer Alliance's code (default: England)"),
    RELEASE_PARAM,
]


class InequalityView(CachingMixin, APIView):
    """An indicator's breakdown by deprivation quintile, age band, sex or ethnicity, for England or a Cancer
    Alliance, in its headline period: one row per group (fields ``group``, ``numerator``, ``denominator``,
    ``value``, ``ci_lower``, ``ci_upper``, ``suppressed``), with the slope index of inequality and its interval
    (``sii``, ``sii_lower``, ``sii_upper``) and the most-minus-least deprived ``gap`` (deprivation only).
    Suppressed numbers are null for everyone but the audit's analysts."""

    @extend_schema(parameters=INEQUALITY_PARAMS, responses={200: InequalitySerializer})
    def get(self, request: Request) -> Response:
        params = request.query_params
        missing = {name: ["Required."] for name in ("audit", "indicator", "dimension") if not params.get(name)}
        if missing:
            raise ValidationError(missing)
        with_nul = {name: ["No NUL characters."] for name, value in params.items() if "\x00" in value}
        if with_nul:
            raise ValidationError(with_nul)
        if params["dimension"] not in DIMENSIONS:
            raise ValidationError({"dimension": [f"One of {', '.join(DIMENSIONS)}."]})
        audit_code, code = params["audit"], params["indicator"]
        indicator_or_404(audit_code, code)
        run = _run_or_404(request, audit_code)
        self.served_runs = [run]
        answer = breakdown(
            run,
            code,
            params["dimension"],
            params.get("organisation") or None,
            unsuppressed=roles.sees_unsuppressed(request.user, audit_code),
        )
        if answer is None:
            raise Http404(f"No {params['dimension']} breakdown of {code} for this organisation")
        return Response(InequalitySerializer({"audit": audit_code, **answer}).data)
