"""Reads: current runs and their results."""

from __future__ import annotations

from django.db.models import QuerySet

from audits.models import Release
from indicators.models import ComputationRun, IndicatorResult


def current_run(release: Release) -> ComputationRun | None:
    return ComputationRun.objects.filter(release=release, is_current=True).first()


def latest_run(release: Release) -> ComputationRun | None:
    return ComputationRun.objects.filter(release=release).order_by("-requested_at", "-pk").first()


def results(
    *, release: Release, indicator: str, level: str | None = None, period: str | None = None
) -> QuerySet[IndicatorResult]:
    """The current run's results of one indicator, ordered by level, organisation and period."""
    queryset = IndicatorResult.objects.filter(run__release=release, run__is_current=True, indicator=indicator)
    if level:
        queryset = queryset.filter(level=level)
    if period:
        queryset = queryset.filter(period=period)
    return queryset.order_by("level", "organisation", "period")
