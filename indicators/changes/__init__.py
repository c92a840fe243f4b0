"""What changed in a release: its current run against the previous published release's (issue 13 item 8).

Two halves, as the pages are built:

- :func:`release_changes` (reads): the release's current run and the current run of the newest
  published (``Release.objects.accepted()``) release before it, their results at each one's
  headline period and their quarterly series, each passed through the disclosure rules
  (:mod:`indicators.disclosure`) for the reader: the audit's analysts get exact figures,
  everyone else what the pages and the API publish.
- :func:`compare` (pure): flags that appeared, cleared or changed, by indicator and trust or
  alliance, the trusts' moves, England's change, and special causes new in the XmR charts.

A comparison is made only of what the reader may see at both ends: a row hidden by small-number
suppression in either release gives no flag change and no move (saying a flag "appeared" would
tell that the hidden row had none; a move would give a hidden value back from a shown one).
Everything here is a difference of two published figures, so it publishes nothing new.
"""

from __future__ import annotations

from typing import Any

from audits.models import Alliance, Release, Trust
from indicators.changes.compare import (
    APPEARED,
    CHANGED,
    CLEARED,
    FIELDS,
    FlagChange,
    Indicator,
    Move,
    Place,
    ReleaseChanges,
    SpecialCause,
    compare,
    headline_periods,
    special_cause_quarters,
)
from indicators.disclosure import publish_results, publish_trend
from indicators.kinds import KINDS
from indicators.levels import ALLIANCE, ENGLAND_CODE, NATIONAL, PROVIDER
from indicators.models import ComputationRun, IndicatorResult, TrendSeries
from indicators.registry import indicators_for
from indicators.selectors import current_run

__all__ = [
    "APPEARED",
    "CHANGED",
    "CLEARED",
    "FlagChange",
    "Indicator",
    "Move",
    "Place",
    "ReleaseChanges",
    "SpecialCause",
    "compare",
    "compared_runs",
    "headline_periods",
    "places",
    "previous_release",
    "release_changes",
]


def previous_release(release: Release) -> Release | None:
    """The newest published release of the audit before ``release`` that has a current run."""
    return (
        Release.objects.accepted()
        .filter(audit_id=release.audit_id, version__lt=release.version, runs__is_current=True)
        .order_by("-version")
        .first()
    )


def _rows(run: ComputationRun, *, unsuppressed: bool) -> list[dict[str, Any]]:
    national = IndicatorResult.objects.filter(run=run, level=NATIONAL).values(*FIELDS)
    heads = headline_periods(national)
    if not heads:
        return []
    wanted = IndicatorResult.objects.none()
    for code, period in heads.items():
        wanted |= IndicatorResult.objects.filter(run=run, indicator=code, period=period)
    return publish_results(list(wanted.values(*FIELDS)), unsuppressed=unsuppressed)


def _signals(run: ComputationRun, *, unsuppressed: bool) -> dict[tuple[str, str, str], dict[str, dict[str, Any]]]:
    out = {}
    series = TrendSeries.objects.filter(run=run).values("indicator", "level", "organisation", "points", "xmr", "public")
    for trend in series.iterator(chunk_size=500):
        points, chart = publish_trend(
            level=trend["level"],
            points=trend["points"],
            xmr=trend["xmr"],
            public=trend["public"],
            unsuppressed=unsuppressed,
        )
        partial = [bool(p.get("partial")) for p in trend["points"]]
        found = special_cause_quarters(points, partial, chart)
        if found:
            out[(trend["indicator"], trend["level"], trend["organisation"])] = found
    return out


def places() -> dict[tuple[str, str], Place]:
    """Every trust, alliance and England, by (level, code)."""
    out = {(NATIONAL, ENGLAND_CODE): Place(NATIONAL, ENGLAND_CODE, "England")}
    for code, name in Alliance.objects.values_list("code", "name"):
        out[(ALLIANCE, code)] = Place(ALLIANCE, code, name, code)
    for code, name, alliance in Trust.objects.values_list("code", "name", "alliance_id"):
        out[(PROVIDER, code)] = Place(PROVIDER, code, name, alliance)
    return out


def compared_runs(release: Release) -> tuple[ComputationRun | None, Release | None, ComputationRun | None]:
    """The release's current run, the previous published release and its current run (None where there is none)."""
    previous = previous_release(release)
    return current_run(release), previous, current_run(previous) if previous is not None else None


def release_changes(
    release: Release,
    *,
    unsuppressed: bool,
    runs: tuple[ComputationRun | None, Release | None, ComputationRun | None] | None = None,
) -> ReleaseChanges | None:
    """What changed in ``release`` against the previous published release, as a reader who sees exact figures
    (``unsuppressed``: the audit's analysts, ``accounts.roles.sees_unsuppressed``) or the published ones may
    see it. None while the release has no current run (its computation has not finished). ``runs``: those of
    :func:`compared_runs`, when the caller has them already."""
    after_run, previous, before_run = runs or compared_runs(release)
    if after_run is None:
        return None
    indicators = {
        d.code: Indicator(d.code, d.title, d.direction, KINDS[d.kind].shown_field)
        for d in indicators_for(release.audit_id)
    }
    return compare(
        before=_rows(before_run, unsuppressed=unsuppressed) if before_run else [],
        after=_rows(after_run, unsuppressed=unsuppressed),
        indicators=indicators,
        places=places(),
        signals_before=_signals(before_run, unsuppressed=unsuppressed) if before_run else {},
        signals_after=_signals(after_run, unsuppressed=unsuppressed) if before_run else {},
        audit=release.audit_id,
        release_id=release.pk,
        version=release.version,
        previous_id=previous.pk if previous and before_run else None,
        previous_version=previous.version if previous and before_run else None,
        unsuppressed=unsuppressed,
    )
