"""Opening cases from a computed release, carrying them forward to newer releases, voiding a withdrawn
release's cases.

- ``open_cases(run)``: each trust-level result of the run in the policy's reporting period with a flag in its
  levels and directions opens a case, or carries forward the open case of an earlier release (event "flag
  persists"); an open case of an earlier release whose result is no longer flagged says "flag cleared" and
  stays open for the audit team to close. A recompute of the same release opens nothing again (the unique
  constraint on (release, indicator, trust, period), and ``get_or_create``). A policy whose track waits for
  publication (``supportive``: the audit team contacts the trust after publication) opens nothing from a
  draft's run: ``open_published_cases(release)`` opens its cases when the draft is published.
- ``void_cases(release)``: a withdrawn release's cases become void (``outliers.signals`` calls it).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.services import Actor
from audits.models import Release, Trust
from indicators import levels
from indicators.models import ComputationRun, IndicatorResult, RunIndicator
from indicators.outlier_policy import REPORTING_ALL, REPORTING_LATEST, Policy
from indicators.stats.flags import flag_meaning
from outliers.models import OutlierCase
from outliers.services.base import SYSTEM, Action, LogAction, due_date, release_policy
from outliers.services.notifications import record_event, stage_email

#: The policy tracks whose cases open only once the release is published (HQIP's formal track opens on the draft:
#: its first stages come before publication).
OPEN_AT_PUBLICATION = frozenset({"supportive"})
NONE_OPENED = {"opened": 0, "persisting": 0, "cleared": 0}


def _reporting_periods(results: list[IndicatorResult], policy: Policy) -> set[str]:
    """The periods of one indicator's trust-level results that the policy reports on."""
    if policy.reporting_period == REPORTING_ALL:
        return {r.period for r in results}
    if policy.reporting_period == REPORTING_LATEST:
        # The latest period wholly covered: the all-years period starts first, a year still being followed up
        # is partial (and gets no flags).
        whole = [r for r in results if not r.partial]
        if not whole:
            return set()
        latest = max(r.period_start for r in whole)
        return {r.period for r in whole if r.period_start == latest}
    return {policy.reporting_period}


def _flag_words(flag: str, direction: str) -> tuple[str, str] | None:
    """(level, direction) of a result's flag given the indicator's direction; None for no flag or no judgement."""
    if flag in ("", "none") or direction not in ("higher_is_better", "lower_is_better"):
        return None
    meaning = flag_meaning(flag, direction)  # type: ignore[arg-type]
    return flag.split("_", 1)[0], meaning


def _snapshot(result: IndicatorResult) -> dict[str, Any]:
    names = (
        "level",
        "period_start",
        "period_end",
        "numerator",
        "denominator",
        "observed",
        "expected",
        "value",
        "ci_lower",
        "ci_upper",
        "ci_lower_998",
        "ci_upper_998",
        "national_value",
        "limit_lower_95",
        "limit_upper_95",
        "limit_lower_998",
        "limit_upper_998",
        "z",
        "flag",
        "suppressed",
    )
    data = {name: getattr(result, name) for name in names}
    data["period_start"], data["period_end"] = str(result.period_start), str(result.period_end)
    data["run"] = result.run_id
    return data


def flagged_results(run: ComputationRun, policy: Policy) -> list[tuple[IndicatorResult, str, str]]:
    """The run's trust-level results that open a case under the policy: (result, level, direction)."""
    directions = {
        ri.indicator: (ri.definition or {}).get("direction", "") for ri in RunIndicator.objects.filter(run=run)
    }
    by_indicator: dict[str, list[IndicatorResult]] = {}
    for result in IndicatorResult.objects.filter(run=run, level=levels.PROVIDER).order_by(
        "indicator", "organisation", "period"
    ):
        by_indicator.setdefault(result.indicator, []).append(result)
    found = []
    for indicator, results in by_indicator.items():
        periods = _reporting_periods(results, policy)
        for result in results:
            words = _flag_words(result.flag, directions.get(indicator, ""))
            if result.period in periods and words and policy.track_for(*words) is not None:
                found.append((result, *words))
    return found


def open_cases(run: ComputationRun) -> dict[str, int]:
    """Open (or carry forward) the cases of a current run's flagged results; say which earlier flags cleared.

    Returns counts: {"opened", "persisting", "cleared"}. Idempotent: a recompute of the same release opens
    no case again and repeats no event. Nothing for a draft whose policy waits for publication
    (``OPEN_AT_PUBLICATION``).
    """
    release = run.release
    counts = dict(NONE_OPENED)
    if release.is_withdrawn:
        return counts
    policy = release_policy(release)
    if policy.track in OPEN_AT_PUBLICATION and not release.is_published:
        return counts
    today = timezone.localdate()
    countries = dict(Trust.objects.values_list("code", "country"))
    with transaction.atomic():
        earlier = {
            (case.indicator, case.organisation, case.direction): case
            for case in OutlierCase.objects.select_for_update(of=("self",))
            .filter(
                audit_id=release.audit_id,
                status=OutlierCase.Status.OPEN,
                opened_release__version__lt=release.version,
                latest_release__version__lte=release.version,  # a recompute of an older release changes nothing newer
            )
            .order_by("created_at")
        }
        carried: set[int] = set()
        for result, level, direction in flagged_results(run, policy):
            previous = earlier.get((result.indicator, result.organisation, direction))
            if previous is not None:
                carried.add(previous.pk)
                counts["persisting"] += _carry_forward(previous, release, persists=True)
                continue
            track = policy.track_for(level, direction)
            assert track is not None  # flagged_results keeps only results the policy opens cases for
            first = track.first
            country = countries.get(result.organisation) or policy.country
            case, created = OutlierCase.objects.get_or_create(
                opened_release=release,
                indicator=result.indicator,
                organisation=result.organisation,
                period=result.period,
                defaults={
                    "audit_id": release.audit_id,
                    "level": level,
                    "direction": direction,
                    "track": track.name,
                    "policy": policy.as_json(),
                    "country": country,
                    "stage": first.name,
                    "stage_started": today,
                    "stage_due": due_date(today, first, country),
                    "latest_release": release,
                    "result": _snapshot(result),
                },
            )
            if created:
                counts["opened"] += 1
                record_event(case, Action.OPENED, to_stage=first.name, release=release, email=stage_email(case, first))
                Actor.command_line(name=SYSTEM).log(
                    LogAction.CASE_OPENED,
                    audit_code=release.audit_id,
                    target=f"outlier case {case.pk}",
                    details={"release": release.pk, "indicator": case.indicator, "trust": case.organisation},
                )
        for case in earlier.values():
            if case.pk not in carried:
                counts["cleared"] += _carry_forward(case, release, persists=False)
    return counts


def open_published_cases(release: Release) -> dict[str, int]:
    """Once ``release`` is published: open the cases its policy kept back until then (``OPEN_AT_PUBLICATION``),
    from its current run if it is done (else the run opens them when it ends). As idempotent as ``open_cases``."""
    if not release.is_published or release_policy(release).track not in OPEN_AT_PUBLICATION:
        return dict(NONE_OPENED)
    run = ComputationRun.objects.filter(release=release, is_current=True).select_related("release").first()
    return open_cases(run) if run is not None else dict(NONE_OPENED)


def _carry_forward(case: OutlierCase, release: Release, *, persists: bool) -> bool:
    """Say in the case whether its flag persists in ``release``; False if it already said so (a recompute)."""
    if case.latest_release_id == release.pk and case.flag_persists == persists:
        return False
    case.latest_release = release
    case.flag_persists = persists
    case.save(update_fields=["latest_release", "flag_persists"])
    record_event(case, Action.FLAG_PERSISTS if persists else Action.FLAG_CLEARED, release=release)
    return True


def void_cases(release: Release) -> int:
    """Void the open cases a withdrawn release opened (the release's withdrawal is in the audit log)."""
    count = 0
    with transaction.atomic():
        for case in OutlierCase.objects.select_for_update().filter(
            opened_release=release, status=OutlierCase.Status.OPEN
        ):
            case.status = OutlierCase.Status.VOID
            case.stage_due = None
            case.save(update_fields=["status", "stage_due"])
            record_event(
                case,
                Action.VOIDED,
                from_stage=case.stage,
                release=release,
                note=release.withdrawn_reason,
                actor=release.withdrawn_by,
            )
            count += 1
    return count
