"""What every piece of one run is built from: the run's results, read once, and one result formatted.

Pages never compute statistics: the run's jobs stored the results, flags and limits
(indicators/services.py); the page modules turn them into pieces from a :class:`RunContext`.
Two variants of every piece are built: ``analyst`` (exact counts, for the audit's analysts) and
``public`` (the small-number suppression policy applied, for everyone else).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, overload

from audits.models import Alliance, Trust
from dashboards import text
from indicators import result_fields
from indicators.definitions import IndicatorDefinition
from indicators.disclosure import publish_results, suppression_policy
from indicators.headline import headline_key
from indicators.kinds import KINDS, Kind
from indicators.levels import ALLIANCE, ENGLAND_CODE, NATIONAL, PROVIDER
from indicators.models import ComputationRun, FunnelFit, IndicatorResult, RunIndicator, TrendSeries
from indicators.registry import indicators_for
from indicators.services import model_failed
from indicators.stats.arrays import finite_or_none

VARIANTS = ("public", "analyst")
BUILT = "built"  # the key of the piece that marks a run whose pieces are all built
RESULT_FIELDS = (
    "indicator",
    "level",
    "organisation",
    *result_fields.PERIOD,
    *result_fields.COUNTS,
    *result_fields.ESTIMATE,
    *result_fields.SHRUNKEN,
    "national_value",
    *result_fields.JUDGEMENT,
    "suppressed",
    "public",
)


@dataclass
class RunContext:
    """What every piece of one run needs, read once."""

    run: ComputationRun
    audit_code: str
    audit_name: str
    short_name: str
    definitions: dict[str, IndicatorDefinition]
    trusts: dict[str, dict[str, str]]
    alliances: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    published: dict[str, dict[tuple[str, str, str], dict[str, dict[str, Any]]]] = field(default_factory=dict)
    periods: dict[str, list[str]] = field(default_factory=dict)
    fits: dict[tuple[str, str, str], FunnelFit] = field(default_factory=dict)
    sparks: dict[tuple[str, str, str], tuple[list[dict[str, Any]], dict[str, Any] | None]] = field(default_factory=dict)
    cards: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def headline(self, code: str) -> str | None:
        return headline_period(self.periods.get(code, []), self.published["analyst"], code)

    def result(self, variant: str, code: str, level: str, period: str, organisation: str) -> dict[str, Any] | None:
        """One result as ``variant`` may see it, formatted (None when the run has no such result)."""
        row = self.published[variant].get((code, level, period), {}).get(organisation)
        return format_result(row, self.definitions[code])

    def level(self, variant: str, code: str, level: str, period: str) -> dict[str, dict[str, Any]]:
        """Every organisation's formatted result at one level and period."""
        definition = self.definitions[code]
        return {
            org: format_result(row, definition)
            for org, row in self.published[variant].get((code, level, period), {}).items()
        }


def headline_period(periods: list[str], results, code: str) -> str | None:
    """The period a dashboard leads with (:func:`indicators.headline.headline_key`)."""
    best, best_key = None, None
    for period in periods:
        national = results.get((code, NATIONAL, period), {}).get(ENGLAND_CODE)
        if not national:
            continue
        key = headline_key(national["period_start"], national["period_end"])
        if best_key is None or key > best_key:
            best, best_key = period, key
    return best


def load_context(run: ComputationRun) -> RunContext:
    release = run.release
    audit_code = release.audit_id
    definitions = {d.code: d for d in indicators_for(audit_code)}
    entries = list(RunIndicator.objects.filter(run=run).values("indicator", "model_card"))
    ordered = [code for code in definitions if code in {e["indicator"] for e in entries}]
    context = RunContext(
        run=run,
        audit_code=audit_code,
        audit_name=release.audit.name,
        short_name=release.audit.short_name,
        definitions={code: definitions[code] for code in ordered},
        trusts={
            code: {"code": code, "name": name, "alliance_id": alliance_id}
            for code, name, alliance_id in Trust.objects.values_list("code", "name", "alliance_id")
        },
        alliances=dict(Alliance.objects.values_list("code", "name")),
        cards={e["indicator"]: e["model_card"] for e in entries},
    )
    periods: dict[str, set[str]] = defaultdict(set)
    context.rows = list(IndicatorResult.objects.filter(run=run).values(*RESULT_FIELDS).iterator(chunk_size=5000))
    for row in context.rows:
        periods[row["indicator"]].add(row["period"])
    # Audit years in order, then all years together.
    context.periods = {code: sorted(p, key=lambda period: ("-" in period, period)) for code, p in periods.items()}
    for variant in VARIANTS:
        index: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
        for row in publish_results(context.rows, unsuppressed=variant == "analyst"):
            index.setdefault((row["indicator"], row["level"], row["period"]), {})[row["organisation"]] = row
        context.published[variant] = index
    context.fits = {(f.indicator, f.level, f.period): f for f in FunnelFit.objects.filter(run=run)}
    for trend in TrendSeries.objects.filter(run=run).values("indicator", "level", "organisation", "points", "public"):
        context.sparks[(trend["indicator"], trend["level"], trend["organisation"])] = (trend["points"], trend["public"])
    return context


def kind_of(definition: IndicatorDefinition) -> Kind:
    """The indicator's kind (:mod:`indicators.kinds`): what its pages show, and in which words."""
    return KINDS[definition.kind]


def or_nan(value: Any) -> float:
    """A stored figure for a kind's arithmetic (:mod:`indicators.kinds`): NaN when it is unknown, so that what a
    kind works out from it is unknown too (and ``finite_or_none`` makes it None), while what it does not need
    stays known."""
    number = finite_or_none(value)
    return math.nan if number is None else number


def _on_value_scale(kind: Kind, statistic: float | None, rate: float | None) -> float | None:
    """A statistic (or a limit of its interval) on the scale of the value shown (:meth:`Kind.adjusted_rate`):
    None when it is unknown, or when the kind needs England's ``rate`` and it is unknown."""
    if statistic is None:
        return None
    return finite_or_none(kind.adjusted_rate(statistic, or_nan(rate)))


def shown_count(value: Any) -> str:
    """A count as published: None means suppressed (policy marker)."""
    return suppression_policy().marker if value is None else text.count(value)


@overload
def format_result(row: dict[str, Any], definition: IndicatorDefinition) -> dict[str, Any]: ...
@overload
def format_result(row: None, definition: IndicatorDefinition) -> None: ...
@overload
def format_result(row: dict[str, Any] | None, definition: IndicatorDefinition) -> dict[str, Any] | None: ...
def format_result(row: dict[str, Any] | None, definition: IndicatorDefinition) -> dict[str, Any] | None:
    """One organisation's result, formatted for display.

    ``row`` has been through :func:`indicators.disclosure.publish_results`, so for the public a
    hidden row has no counts, value, interval, flag or eligibility ("not shown: small numbers"),
    and a shown row's counts are rounded and its figures computed from them; the same rules the
    API follows.
    """
    if row is None:
        return None
    marker = suppression_policy().marker
    level = row["level"]
    kind = kind_of(definition)
    national = row["national_value"]
    plotted = row[kind.shown_field]
    lower = _on_value_scale(kind, row["ci_lower"], national)
    upper = _on_value_scale(kind, row["ci_upper"], national)
    shown = plotted is not None
    hidden = bool(row.get("suppressed")) and row["numerator"] is None  # hidden from this reader
    # Trusts of an audit that compares alliances (indicators.reporting) have a value but no flag of their own.
    by_alliance = level == PROVIDER and definition.reporting.comparison_level == ALLIANCE
    compared = bool(row["eligible"]) and level != NATIONAL and not hidden and not by_alliance
    flag = row["flag"] if compared else "none"
    label = text.label_of(flag, definition.direction, compared, shown=not hidden) if level != NATIONAL else "England"
    short = text.short_label(flag, definition.direction, compared, shown=not hidden)
    if by_alliance and not hidden:
        label, short = text.BY_ALLIANCE, text.BY_ALLIANCE_SHORT
    return {
        "organisation": row["organisation"],
        "level": level,
        "period": row["period"],
        "numerator": shown_count(row["numerator"]),
        "denominator": shown_count(row["denominator"]),
        "plotted": plotted,
        "lower": lower,
        "upper": upper,
        "value_text": text.percent(plotted) if shown else marker,
        "ci_text": text.interval(lower, upper) if shown else marker,
        **(_expected_texts(row, shown, marker) if kind.has_expected else _NO_EXPECTED),
        "shown": shown,
        "suppressed": hidden,
        "compared": compared,
        "eligible": bool(row["eligible"]),
        "flag": flag,
        "meaning": text.meaning_of(flag, definition.direction, compared),
        "label": label,
        "short_label": short,
        **_shrunken_texts(row, marker, kind),
        # The funnel's x: what the kind divides the observed events by (expected events, or the denominator).
        "x": kind.counts(row["denominator"], row["expected"]),
        "rate": row["national_value"],  # England's crude rate in the period (the scale of risk-adjusted rates)
    }


_NO_EXPECTED = {"ratio_text": "", "ratio_ci_text": "", "expected_text": ""}


def _shrunken_texts(row: dict[str, Any], marker: str, kind: Kind) -> dict[str, str]:
    """The reliability-adjusted estimate, its interval and the reliability as published: the marker where the row
    is hidden from this reader, "-" where there is none (England, a kind that does not shrink). The estimate is on
    the statistic's scale: a percentage, or O/E written as the crude O/E is."""
    value = row.get("shrunken_value")
    if value is None:
        blank = marker if row.get("suppressed") and row.get("numerator") is None else "-"
        return {"shrunken_text": blank, "shrunken_ci_text": blank, "reliability_text": blank}
    reliability = row.get("reliability")
    written = text.percent if kind.statistic_percent else text.ratio
    return {
        "shrunken_text": written(value),
        "shrunken_ci_text": text.interval(row.get("shrunken_lower"), row.get("shrunken_upper"), written),
        "reliability_text": "-" if reliability is None else f"{reliability:.2f}",
    }


def _expected_texts(row: dict[str, Any], shown: bool, marker: str) -> dict[str, str]:
    """Observed over expected, its interval and the expected events, as published, for a kind that has them."""
    return {
        "ratio_text": text.ratio(row["value"]) if row["value"] is not None else marker,
        "ratio_ci_text": text.interval(row["ci_lower"], row["ci_upper"], text.ratio) if shown else marker,
        "expected_text": text.expected_count(row["expected"]) if row["expected"] is not None else marker,
    }


def count_phrase(result: dict[str, Any], definition: IndicatorDefinition) -> str:
    if kind_of(definition).has_expected:
        return (
            f"{result['numerator']} observed, {result['expected_text']} expected, of {result['denominator']} patients"
        )
    return f"{result['numerator']} of {result['denominator']} patients"


def result_sentence(place: str, result: dict[str, Any], england_text: str, definition: IndicatorDefinition) -> str:
    """A formatted result of ``place`` ("this trust", "this alliance") against England, in words."""
    return text.indicator_sentence(
        place=place,
        value_text=result["value_text"],
        england_text=england_text,
        flag=result["flag"],
        direction=definition.direction,
        compared=result["compared"],
        shown=result["shown"],
        denominator_text=f"{result['denominator']} patients",
        minimum=definition.minimum_denominator,
        adjective=kind_of(definition).adjective,
    )


def unavailable_reason(context: RunContext, code: str, variant: str = "public") -> str:
    """Why an indicator of the run has no results, in plain words. Everyone reads the same sentence when its risk
    model failed; the audit's analysts also read the model card's reason (the release page lists it too)."""
    card = context.cards.get(code) or {}
    if model_failed(card):
        if variant == "analyst" and card.get("reason"):
            return f"{text.NOT_COMPUTED} For the audit's analysts: {str(card['reason']).strip().rstrip('.')}."
        return text.NOT_COMPUTED
    return "No patient in this release meets the indicator's denominator."
