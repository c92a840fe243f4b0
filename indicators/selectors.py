"""Reads: current runs and their results."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from audits.models import Release
from indicators.models import ComputationRun, IndicatorResult


def current_runs() -> list[ComputationRun]:
    """Every release's current run, i.e. its latest completed one, with the release; each audit's newest
    release first. One query (a run per release: a few dozen rows)."""
    return list(
        ComputationRun.objects.filter(is_current=True)
        .select_related("release__audit")
        .defer("release__definition", "release__quality_report", "release__warnings")
        .order_by("release__audit_id", "-release__version")
    )


def shown_runs(runs: Iterable[ComputationRun] | None = None) -> dict[str, ComputationRun]:
    """For each audit, the run whose results are published, by the pages and the API alike: the latest
    completed run of the newest published release that has one. A newer run that is still computing, or that
    failed, of the same release or of a newer one, leaves it in place; a draft's run (computed for its audit's
    analysts before publication) and a withdrawn release's are not shown.
    From ``runs`` (``current_runs()``) when the caller has them already, else one query."""
    shown: dict[str, ComputationRun] = {}
    for run in current_runs() if runs is None else runs:
        if run.release.is_published:
            shown.setdefault(run.release.audit_id, run)
    return shown


def current_run(release: Release) -> ComputationRun | None:
    return ComputationRun.objects.filter(release=release, is_current=True).first()


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
