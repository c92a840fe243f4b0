"""Writes: build every page piece of a computation run once, from its stored results.

Pages never compute statistics: the run's jobs stored the results, flags and
limits (indicators/services.py), and this module turns them, once per run, into
formatted numbers, sentences and Plotly figure specifications
(:class:`dashboards.models.FigureSpec`). Two variants of every piece are built:
``analyst`` (exact counts, for the audit's analysts) and ``public`` (the
small-number suppression policy applied, for everyone else).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, overload

from django.db import connection, transaction
from django.template.loader import render_to_string

from audits.models import Alliance, Trust
from dashboards import figures, text
from dashboards.models import FigureSpec
from indicators.definitions import IndicatorDefinition
from indicators.disclosure import publish_results, publish_trend, suppression_policy
from indicators.models import ENGLAND_CODE, ComputationRun, FunnelFit, IndicatorResult, RunIndicator, TrendSeries
from indicators.registry import indicators_for
from indicators.services import model_failed

logger = logging.getLogger(__name__)
VARIANTS = ("public", "analyst")
BUILT = "built"
RESULT_FIELDS = (
    "indicator",
    "level",
    "organisation",
    "period",
    "period_start",
    "period_end",
    "numerator",
    "denominator",
    "observed",
    "expected",
    "value",
    "adjusted_rate",
    "ci_lower",
    "ci_upper",
    "national_value",
    "flag",
    "eligible",
    "suppressed",
    "public",
)


# ------------------------------------------------------------------ keys


def trust_key(code: str, variant: str) -> str:
    return f"trust:{code}:{variant}"


def alliance_key(code: str, variant: str) -> str:
    return f"alliance:{code}:{variant}"


def alliance_funnels_key(variant: str) -> str:
    return f"alliance-funnels:{variant}"


def audit_key(variant: str) -> str:
    return f"audit:{variant}"


def indicator_key(code: str, period: str, variant: str) -> str:
    return f"indicator:{code}:{period}:{variant}"


def card_key(code: str) -> str:
    return f"card:{code}"


def trend_key(level: str, organisation: str, code: str, variant: str) -> str:
    return f"trend:{level}:{organisation}:{code}:{variant}"


# ------------------------------------------------------------------ context


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
    """The period a dashboard leads with: the longest (all audit years pooled, steadier for small trusts), then
    the most recent."""
    best, best_key = None, None
    for period in periods:
        national = results.get((code, "national", period), {}).get(ENGLAND_CODE)
        if not national:
            continue
        key = ((national["period_end"] - national["period_start"]).days, national["period_end"])
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


# ------------------------------------------------------------------ embedding


_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def embed(value: Any) -> str | None:
    """JSON for a ``<script type="application/json">`` element, escaped as Django's ``json_script`` does, so
    pages insert it without serialising it again on every request."""
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).translate(_JSON_ESCAPES)


# ------------------------------------------------------------------ formatting one result


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
    risk = definition.risk_adjusted
    national = row["national_value"]
    if risk:
        plotted = row["adjusted_rate"]
        lower = None if row["ci_lower"] is None or national is None else row["ci_lower"] * national
        upper = None if row["ci_upper"] is None or national is None else row["ci_upper"] * national
    else:
        plotted, lower, upper = row["value"], row["ci_lower"], row["ci_upper"]
    shown = plotted is not None
    hidden = bool(row.get("suppressed")) and row["numerator"] is None  # hidden from this reader
    compared = bool(row["eligible"]) and level != "national" and not hidden
    flag = row["flag"] if compared else "none"
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
        "ratio_text": (text.ratio(row["value"]) if row["value"] is not None else marker) if risk else "",
        "ratio_ci_text": (text.interval(row["ci_lower"], row["ci_upper"], text.ratio) if shown else marker)
        if risk
        else "",
        "expected_text": (text.expected_count(row["expected"]) if row["expected"] is not None else marker)
        if risk
        else "",
        "shown": shown,
        "suppressed": hidden,
        "compared": compared,
        "eligible": bool(row["eligible"]),
        "flag": flag,
        "meaning": text.meaning_of(flag, definition.direction, compared),
        "label": text.label_of(flag, definition.direction, compared, shown=not hidden)
        if level != "national"
        else "England",
        "short_label": text.short_label(flag, definition.direction, compared, shown=not hidden),
        # The funnel's x: expected events for a ratio, else the (published) denominator.
        "x": row["expected"] if risk else row["denominator"],
        "rate": row["national_value"],  # England's crude rate in the period (the scale of risk-adjusted rates)
    }


def count_phrase(result: dict[str, Any], definition: IndicatorDefinition) -> str:
    if definition.risk_adjusted:
        return (
            f"{result['numerator']} observed, {result['expected_text']} expected, of {result['denominator']} patients"
        )
    return f"{result['numerator']} of {result['denominator']} patients"


# ------------------------------------------------------------------ building


def build_run_pages(run: ComputationRun) -> int:
    """Build and store every page piece of ``run``, once: returns the number of pieces the run has.

    Called by the task queued when a run becomes current, and by pages on their first visit after a
    run if no one has built its pieces yet. Concurrent callers take turns on a lock per run (in
    PostgreSQL, so across processes and machines): the first builds, the others wait for it and
    then find its pieces. A builder that dies releases the lock with its connection.
    """
    with _one_builder(run):
        built = FigureSpec.objects.filter(run=run, key=BUILT).values_list("data", flat=True).first()
        if built is not None:
            return int(built["pieces"])
        return _build_run_pages(run)


# pg_advisory_xact_lock(namespace, run id): a fixed namespace keeps these locks apart from any other use.
BUILD_LOCK_NAMESPACE = 7201
_LOCAL_BUILDS = threading.Lock()


@contextmanager
def _one_builder(run: ComputationRun) -> Iterator[None]:
    """A transaction holding the run's build lock. PostgreSQL: a transaction-level advisory lock, released
    at commit or when the connection goes. SQLite (one process: the demo): its threads take turns."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [BUILD_LOCK_NAMESPACE, run.pk])
            yield
    else:
        with _LOCAL_BUILDS, transaction.atomic():
            yield


def _build_run_pages(run: ComputationRun) -> int:
    context = load_context(run)
    pieces: dict[str, Any] = {}
    for code in context.definitions:
        card = build_card(context, code)
        if card is not None:
            pieces[card_key(code)] = card
    for variant in VARIANTS:
        pieces[audit_key(variant)] = build_audit(context, variant)
        for code in context.definitions:
            for period in context.periods.get(code, []):
                pieces[indicator_key(code, period, variant)] = build_indicator(context, code, period, variant)
        pieces.update(build_trusts(context, variant))
        pieces.update(build_alliances(context, variant, pieces))
    pieces[BUILT] = {"pieces": len(pieces)}
    FigureSpec.objects.bulk_create(
        [FigureSpec(run=run, key=key, data=data) for key, data in pieces.items()], batch_size=200, ignore_conflicts=True
    )
    # Pieces of the release's earlier runs are no longer shown.
    FigureSpec.objects.filter(run__release=run.release).exclude(run=run).delete()
    logger.info("built %s dashboard pieces for run %s", len(pieces), run.pk)
    return len(pieces)


def build_current_run_pages(run_id: int) -> int:
    """Entry point for the end of a computation run (takes an id, as tasks do)."""
    run = ComputationRun.objects.select_related("release__audit").get(pk=run_id)
    if not run.is_current:
        return 0
    return build_run_pages(run)


def _fit_text(fit: FunnelFit | None, unit_word: str) -> str:
    if fit is None:
        return ""
    if fit.overdispersion_applied:
        return (
            f"The limits are widened for overdispersion ({fit.overdispersion} random-effects method, "
            f"φ = {fit.phi:.2f}, τ² = {fit.tau2:.3g}): {unit_word}s vary more than chance alone would explain, "
            f"so the limits allow for it (Spiegelhalter 2005)."
        )
    if fit.phi is not None:
        return (
            f"No overdispersion adjustment was applied (φ = {fit.phi:.2f}): the {unit_word}s vary "
            f"no more than chance would explain."
        )
    return ""


def _funnel(
    context: RunContext,
    code: str,
    period: str,
    level: str,
    rows: list[dict[str, Any]],
    national: dict[str, Any] | None,
    variant: str,
) -> tuple[dict[str, Any] | None, str]:
    """A funnel's figure specification and its text summary, from formatted (published) rows.

    The summary counts the units the reader is shown: a hidden unit is neither drawn nor counted
    among the flags or the alerts chance alone would give."""
    definition = context.definitions[code]
    fit = context.fits.get((code, level, period))
    unit_word = "trust" if level == "provider" else "Cancer Alliance"
    if fit is None or national is None or fit.target is None:
        return None, f"Too few {unit_word}s have enough patients to draw a funnel plot for {period}."
    risk = definition.risk_adjusted
    # Flags were decided on O/E against the fit's target; a point is drawn at O/E x England's crude rate, so the
    # limits are drawn on the same scale (O/E limits x the rate), never x England's own O/E x rate: otherwise a
    # point labelled within range can be drawn beyond a line, or a flagged one inside the lines.
    scale = (national.get("rate") or national["plotted"]) if risk else 1.0
    points = []
    hidden = sum(1 for row in rows if row["suppressed"])
    for row in rows:
        if not row["compared"] or not row["shown"] or row["x"] is None:
            continue
        count_words = (
            f"Observed {row['numerator']}, expected {row['expected_text']}, of {row['denominator']} patients"
            if risk
            else f"{row['numerator']} of {row['denominator']} patients"
        )
        points.append(
            {
                "x": row["x"],
                "y": row["plotted"],
                "meaning": row["meaning"],
                "customdata": [
                    row["organisation"],
                    row["name"],
                    row["value_text"] + (f" (observed/expected {row['ratio_text']})" if risk else ""),
                    row["ci_text"],
                    count_words,
                    row["label"],
                ],
            }
        )
    spec = figures.funnel_figure(
        points=points,
        kind=fit.kind,
        method=fit.method,
        target=fit.target,
        tau2=fit.tau2 or 0.0,
        phi=fit.phi or 1.0,
        overdispersion=fit.overdispersion if fit.overdispersion_applied else "none",
        scale=scale,
        x_title="Expected events (from the risk model)" if risk else "Patients (denominator)",
        y_title="Risk-adjusted rate" if risk else "Percentage",
        standard=(definition.standard or {}).get("value"),
        standard_label=(definition.standard or {}).get("label", ""),
    )
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        if row["compared"]:
            counts[row["flag"]] += 1
    compared = sum(1 for row in rows if row["compared"])
    summary = (
        f"Funnel plot of {compared} {unit_word}s, {period}: England {national['value_text']}. "
        + text.flag_counts_sentence(counts=counts, units=compared, expected_flags=0.05 * compared, unit_word=unit_word)
        + " "
        + _fit_text(fit, unit_word)
    )
    if hidden:
        summary += (
            f" {hidden} {unit_word}{'s are' if hidden != 1 else ' is'} not shown because of small numbers "
            f"(small-number suppression), and not counted here."
        )
    if variant == "public":
        summary += (
            " Points are drawn from counts rounded to the nearest 5; flags are decided on the exact counts, "
            "so a point very close to a limit may sit just on the other side of it."
        )
    return spec, summary.strip()


def build_indicator(context: RunContext, code: str, period: str, variant: str) -> dict[str, Any]:
    """The indicator page for one period: national and alliance funnels and a row per organisation."""
    national = context.result(variant, code, "national", period, ENGLAND_CODE)
    providers = list(context.level(variant, code, "provider", period).values())
    for row in providers:
        trust = context.trusts.get(row["organisation"], {})
        row["name"] = trust.get("name", row["organisation"])
        row["alliance"] = trust.get("alliance_id", "")
        row["alliance_name"] = context.alliances.get(row["alliance"], "")
    providers.sort(key=lambda r: (r["name"].lower(), r["organisation"]))  # by name: not a league table
    alliances = list(context.level(variant, code, "alliance", period).values())
    for row in alliances:
        row["name"] = context.alliances.get(row["organisation"], row["organisation"])
    alliances.sort(key=lambda r: r["name"].lower())
    provider_figure, provider_summary = _funnel(context, code, period, "provider", providers, national, variant)
    alliance_figure, alliance_summary = _funnel(context, code, period, "alliance", alliances, national, variant)
    item = {"risk_adjusted": context.definitions[code].risk_adjusted}
    return {
        "code": code,
        "period": period,
        "national": national,
        "national_counts": count_phrase(national, context.definitions[code]) if national else "",
        "providers": [_row_fields(r) for r in providers],
        "alliances": [_row_fields(r) for r in alliances],
        "providers_html": render_to_string(
            "dashboards/_result_rows.html", {"rows": providers, "level": "provider", "item": item}
        ),
        "alliances_html": render_to_string(
            "dashboards/_result_rows.html", {"rows": alliances, "level": "alliance", "item": item}
        ),
        "provider_figure": embed(provider_figure),
        "provider_summary": provider_summary,
        "alliance_figure": embed(alliance_figure),
        "alliance_summary": alliance_summary,
    }


_ROW_FIELDS = (
    "organisation",
    "name",
    "alliance",
    "alliance_name",
    "numerator",
    "denominator",
    "value_text",
    "ci_text",
    "ratio_text",
    "ratio_ci_text",
    "expected_text",
    "label",
    "meaning",
    "flag",
    "compared",
    "shown",
)


def _row_fields(row: dict[str, Any]) -> dict[str, Any]:
    """What a page and its CSV need of a row, once its HTML and figure are built."""
    return {key: row[key] for key in _ROW_FIELDS if key in row}


def build_audit(context: RunContext, variant: str) -> dict[str, Any]:
    """The audit's indicators: definitions in words, periods, England's headline value and flag counts."""
    items = []
    for code, definition in context.definitions.items():
        headline = context.headline(code)
        national = None
        counts: dict[str, int] = defaultdict(int)
        if headline:
            national = context.result(variant, code, "national", headline, ENGLAND_CODE)
            for row in context.level(variant, code, "provider", headline).values():
                if row["compared"]:
                    counts[row["flag"]] += 1
        items.append(
            {
                "code": code,
                "title": definition.title,
                "description": definition.description,
                "numerator_text": definition.numerator_text,
                "denominator_text": definition.denominator_text,
                "direction": definition.direction,
                "risk_adjusted": definition.risk_adjusted,
                "direction_text": {"higher_is_better": "Higher is better", "lower_is_better": "Lower is better"}.get(
                    definition.direction, "Neither higher nor lower is better in itself"
                ),
                "minimum_denominator": definition.minimum_denominator,
                "standard": (definition.standard or {}).get("label", ""),
                "prompt": definition.prompt,
                "recommendation": definition.recommendation,
                "funnel_method": definition.funnel_method,
                "periods": context.periods.get(code, []),
                "headline": headline,
                "reason": "" if headline else unavailable_reason(context, code, variant),
                "england": national["value_text"] if national else "-",
                "england_counts": count_phrase(national, definition) if national else "",
                "outside_95": sum(v for k, v in counts.items() if k != "none"),
                "compared": sum(counts.values()),
            }
        )
    release = context.run.release
    return {
        "audit": context.audit_code,
        "audit_name": context.audit_name,
        "short_name": context.short_name,
        "release": release.version,
        "extract_date": release.extract_date.isoformat(),
        "period_start": release.period_start.isoformat() if release.period_start else "",
        "period_end": release.period_end.isoformat() if release.period_end else "",
        "indicators": items,
    }


def unavailable_reason(context: RunContext, code: str, variant: str = "public") -> str:
    """Why an indicator of the run has no results, in plain words. Everyone reads the same sentence when its risk
    model failed; the audit's analysts also read the model card's reason (the release page lists it too)."""
    card = context.cards.get(code) or {}
    if model_failed(card):
        if variant == "analyst" and card.get("reason"):
            return f"{text.NOT_COMPUTED} For the audit's analysts: {str(card['reason']).strip().rstrip('.')}."
        return text.NOT_COMPUTED
    return "No patient in this release meets the indicator's denominator."


def _trend_values(
    trend: tuple[list[dict[str, Any]], dict[str, Any] | None], level: str, variant: str
) -> tuple[list[dict[str, Any]], list[float | None]]:
    points, public = trend
    published, _ = publish_trend(level=level, points=points, xmr=None, public=public, unsuppressed=variant == "analyst")
    return published, [p.get("value") for p in published]


def build_trusts(context: RunContext, variant: str) -> dict[str, Any]:
    """One piece per trust with results: every indicator's card for the trust dashboard."""
    cards_by_trust: dict[str, list[dict[str, Any]]] = defaultdict(list)
    unavailable = []
    for code, definition in context.definitions.items():
        period = context.headline(code)
        if period is None:
            unavailable.append(
                {"code": code, "title": definition.title, "reason": unavailable_reason(context, code, variant)}
            )
            continue
        national = context.result(variant, code, "national", period, ENGLAND_CODE)
        england_text = national["value_text"] if national else "-"
        providers = context.level(variant, code, "provider", period)
        alliances = context.level(variant, code, "alliance", period)
        spread = [r["plotted"] for r in providers.values() if r["compared"] and r["plotted"] is not None]
        for org, result in providers.items():
            trust = context.trusts.get(org, {})
            alliance = alliances.get(trust.get("alliance_id", ""))
            spine = figures.spine(
                values=spread,
                value=result["plotted"],
                ci=(result["lower"], result["upper"]),
                england=national["plotted"] if national else None,
                alliance=alliance["plotted"] if alliance else None,
                direction=definition.direction,
            )
            spine_text = ""
            if spine and spine["value"] is not None:
                spine["marker"] = figures.marker_path(result["meaning"], spine["value"], 12.0)
            if spine:
                quantiles = {k: text.percent(v) for k, v in spine["quantiles"].items()}
                spine_text = text.spread_sentence(values_text=quantiles, n=spine["n"])
            points, values = _trend_values(context.sparks.get((code, "provider", org), ([], None)), "provider", variant)
            spark = figures.sparkline(values)
            spark_text = ""
            if spark:
                known = [(p["quarter"], v) for p, v in zip(points, values, strict=True) if v is not None]
                spark_text = (
                    f"Quarterly values from {known[0][0]} ({text.percent(known[0][1])}) to {known[-1][0]} "
                    f"({text.percent(known[-1][1])})."
                )
            sentence = text.indicator_sentence(
                place="this trust",
                value_text=result["value_text"],
                england_text=england_text,
                flag=result["flag"],
                direction=definition.direction,
                compared=result["compared"],
                shown=result["shown"],
                denominator_text=f"{result['denominator']} patients",
                minimum=definition.minimum_denominator,
                risk_adjusted=definition.risk_adjusted,
            )
            cards_by_trust[org].append(
                {
                    "code": code,
                    "title": definition.title,
                    "period": period,
                    "direction": definition.direction,
                    "risk_adjusted": definition.risk_adjusted,
                    "value_text": result["value_text"],
                    "ci_text": result["ci_text"],
                    "ratio_text": result["ratio_text"],
                    "counts": count_phrase(result, definition),
                    "england_text": england_text,
                    "alliance_text": alliance["value_text"] if alliance else "-",
                    "flag": result["flag"],
                    "meaning": result["meaning"],
                    "label": result["label"],
                    "colour": text.MEANING_COLOURS[result["meaning"]],
                    "compared": result["compared"],
                    "shown": result["shown"],
                    "sentence": sentence,
                    "spine": spine,
                    "spine_text": spine_text,
                    "spark": spark,
                    "spark_text": spark_text,
                    "has_trend": bool(points),
                    "prompt": definition.prompt,
                    "recommendation": definition.recommendation,
                    "standard": (definition.standard or {}).get("label", ""),
                }
            )
    release = context.run.release
    pieces = {}
    for org, cards in cards_by_trust.items():
        piece = {
            "audit": context.audit_code,
            "audit_name": context.audit_name,
            "short_name": context.short_name,
            "release": release.version,
            "extract_date": release.extract_date.isoformat(),
            "cards": cards,
            "compared": sum(1 for c in cards if c["compared"]),
            "unavailable": unavailable,
        }
        piece["html"] = render_to_string(
            "dashboards/_trust_section.html",
            {
                "section": piece,
                "trust_code": org,
                "trust_name": context.trusts.get(org, {}).get("name", org),
                "variant": variant,
            },
        )
        for card in cards:  # drawn into the HTML; the page's prompts and CSV need only the words
            card.pop("spine")
            card.pop("spark")
        pieces[trust_key(org, variant)] = piece
    return pieces


def build_alliances(context: RunContext, variant: str, built: dict[str, Any]) -> dict[str, Any]:
    """One piece per alliance (its trusts x indicators grid, and the alliance against England), plus the
    alliance-level funnels, shared by every alliance page."""
    indicators, funnels = [], {}
    for code, definition in context.definitions.items():
        period = context.headline(code)
        if period is None:
            continue
        indicators.append({"code": code, "title": definition.title, "period": period})
        page = built[indicator_key(code, period, variant)]
        funnels[code] = {
            "figure": page["alliance_figure"],
            "summary": page["alliance_summary"],
            "title": definition.title,
            "period": period,
        }
    levels = {
        item["code"]: (
            context.level(variant, item["code"], "alliance", item["period"]),
            context.level(variant, item["code"], "provider", item["period"]),
            context.result(variant, item["code"], "national", item["period"], ENGLAND_CODE),
        )
        for item in indicators
    }
    members: dict[str, list[dict[str, str]]] = defaultdict(list)
    for trust in context.trusts.values():
        members[trust["alliance_id"]].append(trust)
    pieces: dict[str, Any] = {alliance_funnels_key(variant): funnels}
    for alliance_code in context.alliances:
        rows = []
        for item in indicators:
            definition = context.definitions[item["code"]]
            alliance_results, _, national = levels[item["code"]]
            result = alliance_results.get(alliance_code)
            if result is None:
                continue
            england_text = national["value_text"] if national else "-"
            rows.append(
                {
                    **item,
                    "value_text": result["value_text"],
                    "ci_text": result["ci_text"],
                    "ratio_text": result["ratio_text"],
                    "counts": count_phrase(result, definition),
                    "england_text": england_text,
                    "label": result["label"],
                    "meaning": result["meaning"],
                    "flag": result["flag"],
                    "sentence": text.indicator_sentence(
                        place="this alliance",
                        value_text=result["value_text"],
                        england_text=england_text,
                        flag=result["flag"],
                        direction=definition.direction,
                        compared=result["compared"],
                        shown=result["shown"],
                        denominator_text=f"{result['denominator']} patients",
                        minimum=definition.minimum_denominator,
                        risk_adjusted=definition.risk_adjusted,
                    ),
                }
            )
        grid = []
        for trust in sorted(members.get(alliance_code, []), key=lambda t: t["name"].lower()):
            cells = []
            for item in indicators:
                result = levels[item["code"]][1].get(trust["code"])
                cells.append(
                    None
                    if result is None
                    else {
                        "value_text": result["value_text"],
                        "short_label": result["short_label"],
                        "label": result["label"],
                        "meaning": result["meaning"],
                        "flag": result["flag"],
                    }
                )
            if any(cells):
                grid.append({"code": trust["code"], "name": trust["name"], "cells": cells})
        if not rows and not grid:
            continue
        piece = {
            "audit": context.audit_code,
            "audit_name": context.audit_name,
            "short_name": context.short_name,
            "indicators": indicators,
            "rows": rows,
            "grid": grid,
        }
        piece["html"] = render_to_string(
            "dashboards/_alliance_tables.html",
            {"section": piece, "alliance_code": alliance_code, "alliance_name": context.alliances[alliance_code]},
        )
        pieces[alliance_key(alliance_code, variant)] = piece
    return pieces


def build_card(context: RunContext, code: str) -> dict[str, Any] | None:
    """The model card of a risk-adjusted indicator (national figures: no suppression needed)."""
    definition = context.definitions[code]
    card = context.cards.get(code)
    if definition.risk_model is None:  # not risk-adjusted
        return None
    if not card or model_failed(card):
        # The piece is read by everyone: the plain sentence only (the analysts' reason is on the release page).
        return {"fitted": False, "reason": text.NOT_COMPUTED}
    coefficients = [
        {
            "term": c["term"],
            "odds_ratio": _num(c.get("odds_ratio"), 3),
            "ci": f"{_num(c.get('ci_lower'), 3)} to {_num(c.get('ci_upper'), 3)}",
            "p_value": _p(c.get("p_value")),
        }
        for c in card.get("coefficients", [])
    ]
    calibration = card.get("calibration") or []
    hl = card.get("hosmer_lemeshow") or {}
    return {
        "fitted": True,
        "covariates": [c["column"] for c in definition.risk_model["covariates"]],
        "interactions": [" x ".join(pair) for pair in definition.risk_model.get("interactions") or []],
        "n_patients": text.count(card.get("n_patients")),
        "n_events": text.count(card.get("n_events")),
        "observed_rate": text.percent(card.get("observed_rate")),
        "c_statistic": _num(card.get("c_statistic"), 3),
        "hosmer_lemeshow": (
            f"χ² = {_num(hl.get('chi2'), 2)} on {hl.get('df')} degrees of freedom, p = {_p(hl.get('p'))}"
        )
        if hl
        else "",
        "n_excluded_missing": text.count(card.get("n_excluded_missing", 0)),
        "n_excluded_missing_outcome": text.count(card.get("n_excluded_missing_outcome", 0)),
        "missing_handling": list((card.get("missing_handling") or {}).values()),
        "reference_levels": [f"{k}: {v}" for k, v in (card.get("reference_levels") or {}).items()],
        "dropped_terms": card.get("dropped_terms") or [],
        "method": card.get("method", ""),
        "coefficients": coefficients,
        "calibration": [
            {
                "decile": g.get("decile"),
                "n": text.count(g.get("n")),
                "predicted": text.percent(g.get("mean_predicted"), 2),
                "observed": text.percent(g.get("observed_rate"), 2),
                "expected_events": text.expected_count(g.get("expected_events")),
                "observed_events": text.count(g.get("observed_events")),
            }
            for g in calibration
        ],
        "calibration_figure": embed(figures.calibration_figure(calibration)) if calibration else None,
    }


def _num(value: Any, digits: int) -> str:
    number = text.finite(value)
    return "-" if number is None else f"{number:.{digits}f}"


def _p(value: Any) -> str:
    number = text.finite(value)
    if number is None:
        return "-"
    return "< 0.001" if number < 0.001 else f"{number:.3f}"


# ------------------------------------------------------------------ trend pieces (built on first visit)


def build_trend(run: ComputationRun, level: str, organisation: str, code: str, variant: str) -> dict[str, Any] | None:
    """The XmR chart of one organisation and indicator (from the run's stored TrendSeries), stored for reuse."""
    trend = TrendSeries.objects.filter(run=run, indicator=code, level=level, organisation=organisation).first()
    definitions = {d.code: d for d in indicators_for(run.release.audit_id)}
    if trend is None or code not in definitions or not trend.points:
        return None
    definition = definitions[code]
    marker = suppression_policy().marker
    points, xmr = publish_trend(
        level=level, points=trend.points, xmr=trend.xmr, public=trend.public, unsuppressed=variant == "analyst"
    )
    values = [p.get("value") for p in points]
    # The chart was drawn from the (published) quarters that have a value, in order (indicators.compute.trend_chart).
    xmr_points = list((xmr or {}).get("points") or [])
    spc_for: list[dict[str, Any]] = []
    position = 0
    for point in points:
        if point.get("value") is not None and position < len(xmr_points):
            spc_for.append(xmr_points[position])
            position += 1
        else:
            spc_for.append({})
    rows = []
    for point, value, spc in zip(points, values, spc_for, strict=True):
        rows.append(
            {
                "quarter": point["quarter"],
                "numerator": shown_count(point["numerator"]),
                "denominator": shown_count(point["denominator"]),
                "value_text": text.percent(value) if value is not None else marker,
                "point_type": spc.get("point_type", "common_cause") if spc else "",
                "point_words": figures.SPC_LABELS.get(spc.get("point_type", ""), "") if spc else "",
                "rule": figures.RULE_WORDS.get(spc.get("special_cause_rule") or "", "") if spc else "",
            }
        )
    data: dict[str, Any] = {
        "code": code,
        "level": level,
        "organisation": organisation,
        "rows": rows,
        "has_chart": xmr is not None,
        "risk_adjusted": definition.risk_adjusted,
    }
    if xmr is not None:
        data["figure"] = embed(
            figures.xmr_figure(
                labels=[p["quarter"] for p in points],
                values=values,
                point_types=[r["point_type"] for r in rows],
                rules=[spc.get("special_cause_rule", "") for spc in spc_for],
                mean=xmr.get("mean"),
                lpl=xmr.get("lpl"),
                upl=xmr.get("upl"),
                target=xmr.get("target"),
                percent_axis=True,
                y_title="Risk-adjusted rate" if definition.risk_adjusted else "Percentage",
                value_texts=[r["value_text"] for r in rows],
            )
        )
        data.update(
            {
                "mean": text.percent(xmr.get("mean")),
                "upl": text.percent(xmr.get("upl")),
                "lpl": text.percent(xmr.get("lpl")),
                "target": text.percent(xmr["target"]) if xmr.get("target") else "",
                "variation_icon": xmr.get("variation_icon"),
                "assurance_icon": xmr.get("assurance_icon"),
                "trial_limits": bool(xmr.get("trial_limits")),
                "n_points": xmr.get("n_points"),
            }
        )
    known = [(r["quarter"], v) for r, v in zip(rows, values, strict=True) if v is not None]
    data["summary"] = (
        f"{len(points)} quarters from {points[0]['quarter']} to {points[-1]['quarter']}"
        + (f"; the latest shown is {text.percent(known[-1][1])} in {known[-1][0]}" if known else "")
        + (
            f"; mean {data['mean']}, process limits {data['lpl']} to {data['upl']}."
            if xmr
            else "; too few quarters to draw process limits."
        )
    )
    hidden = sum(1 for p in points if p.get("suppressed") and p.get("value") is None)
    if hidden:
        data["summary"] += (
            f" {hidden} quarter{'s are' if hidden != 1 else ' is'} not shown because of small numbers, and left out "
            "of the chart's mean and limits."
        )
    return data


def store_piece(run: ComputationRun, key: str, data: Any) -> None:
    FigureSpec.objects.bulk_create([FigureSpec(run=run, key=key, data=data)], ignore_conflicts=True)


# ------------------------------------------------------------------ "is this flag real?" (built on first visit)


def check_key(trust: str, code: str, variant: str) -> str:
    return f"check:{trust}:{code}:{variant}"


def excess_events(row: dict[str, Any] | None, definition: IndicatorDefinition) -> tuple[float | None, ...]:
    """Observed minus expected events and its 95% interval, from a result as published (None when hidden).

    A proportion: O - E = numerator - denominator x England's rate, and the interval is the result's (Wilson)
    interval turned into events, denominator x (limit - England's rate). Risk-adjusted: O - E = observed -
    expected (the sum of predicted risks), and the interval is the O/E ratio's (exact Poisson) interval turned
    into events, expected x (limit - 1). Public results give their rounded counts and the figures computed from
    them, so nothing here goes beyond what is published beside it.
    """
    if row is None or row.get("numerator") is None or row.get("denominator") is None:
        return None, None, None
    observed = float(row["numerator"])
    lower, upper = text.finite(row.get("ci_lower")), text.finite(row.get("ci_upper"))
    if definition.risk_adjusted:
        expected = text.finite(row.get("expected"))
        if expected is None:
            return None, None, None
        base, scale = 1.0, expected
    else:
        rate = text.finite(row.get("national_value"))
        if rate is None:
            return None, None, None
        expected, base, scale = float(row["denominator"]) * rate, rate, float(row["denominator"])
    excess = observed - expected
    if lower is None or upper is None:
        return excess, None, None
    return excess, scale * (lower - base), scale * (upper - base)


def vlad_rows(
    published: list[dict[str, Any]], exact: list[dict[str, Any]], variant: str
) -> tuple[list[dict[str, Any]], int]:
    """The quarters of a VLAD chart: each quarter's observed and expected events and the running total of
    observed minus expected, from the quarters as published to ``variant``.

    Expected events come from the stored point's ``expected`` (None for every quarter when the run stored none:
    then there is no chart). A quarter hidden by small-number suppression, or without expected events, is a gap:
    its running total is None and its events are left out of the total, so the line never steps across it and
    no hidden count can be read from the steps either side. The public's expected events are those of the quarters
    they are shown, to one decimal, as results publish them. Returns the rows and the number of hidden quarters.
    """
    rows, total, hidden = [], 0.0, 0
    for point, stored in zip(published, exact, strict=True):
        observed = point.get("numerator")
        # The published point's own expected events when disclosure publishes them, else the stored point's.
        expected = text.finite(point["expected"] if "expected" in point else stored.get("expected"))
        if expected is not None and variant != "analyst":
            expected = round(expected, 1)
        shown = observed is not None and not (point.get("suppressed") and variant != "analyst")
        if not shown:
            hidden += 1
        if not shown or expected is None:
            rows.append(
                {
                    "quarter": point["quarter"],
                    "observed": shown_count(observed) if shown else suppression_policy().marker,
                    "expected": text.expected_count(expected) if shown else suppression_policy().marker,
                    "difference": "-",
                    "cumulative": None,
                    "cumulative_text": "-",
                }
            )
            continue
        difference = float(observed) - expected  # type: ignore[arg-type]  # shown: a published count
        total += difference
        rows.append(
            {
                "quarter": point["quarter"],
                "observed": shown_count(observed),
                "expected": text.expected_count(expected),
                "difference": text.signed_events(difference),
                "cumulative": total,
                "cumulative_text": text.signed_events(total),
            }
        )
    return rows, hidden


def flag_check(
    *,
    definition: IndicatorDefinition,
    trust_rows: dict[str, dict[str, Any]],
    national_rows: dict[str, dict[str, Any]],
    headline: str,
    trend: tuple[list[dict[str, Any]], dict[str, Any] | None] | None,
    variant: str,
    caveats: list[str],
) -> dict[str, Any]:
    """The "is this flag real?" panel of one trust and indicator, from its results as published to ``variant``
    (``trust_rows`` and ``national_rows`` by period, through :func:`publish_results`) and its stored quarterly
    series (exact points and public series). Pure: no database."""
    periods = sorted(p for p in trust_rows if "-" not in p)  # the single audit years
    years = []
    for period in [*periods, *([headline] if headline not in periods else [])]:
        row = trust_rows.get(period)
        result = format_result(row, definition)
        if result is None:
            continue
        excess, lower, upper = excess_events(row, definition)
        years.append(
            {
                "period": period,
                "pooled": period == headline and "-" in period,
                "value_text": result["value_text"],
                "ci_text": result["ci_text"],
                "numerator": result["numerator"],
                "denominator": result["denominator"],
                "expected_text": result["expected_text"] if definition.risk_adjusted else "",
                "england_text": (format_result(national_rows.get(period), definition) or {}).get("value_text", "-"),
                "label": result["label"],
                "meaning": result["meaning"],
                "flag": result["flag"],
                "compared": result["compared"],
                "excess": text.signed_events(excess),
                "excess_ci": "-"
                if lower is None or upper is None
                else f"{text.signed_events(lower)} to {text.signed_events(upper)}",
                "raw": (excess, lower, upper),
            }
        )
    main = next((y for y in years if y["period"] == headline), None)
    singles = [y for y in years if y["period"] in periods]
    excess, lower, upper = main["raw"] if main else (None, None, None)
    for year in years:
        year.pop("raw")
    data: dict[str, Any] = {
        "code": definition.code,
        "title": definition.title,
        "headline": headline,
        "risk_adjusted": definition.risk_adjusted,
        "result": main,
        "years": years,
        "years_text": text.years_sentence(singles),
        "excess_text": text.excess_sentence(excess, lower, upper, place="this trust"),
        "excess_how": (
            "Observed minus expected events: observed deaths or events minus the sum of each patient's predicted "
            "risk from the risk model. The interval is the 95% interval of observed/expected (exact Poisson), "
            "multiplied by the expected events and less them."
            if definition.risk_adjusted
            else "Observed minus expected events: the trust's count minus its patients x England's rate. The "
            "interval is the 95% interval of the trust's percentage (Wilson), less England's rate, multiplied by its "
            "patients."
        ),
        "caveats": caveats,
        "has_vlad": False,
        "vlad_words": text.VLAD_WORDS,
    }
    if definition.risk_adjusted and trend is not None and trend[0]:
        exact_points, public = trend
        published, _ = publish_trend(
            level="provider", points=exact_points, xmr=None, public=public, unsuppressed=variant == "analyst"
        )
        if any(p.get("expected") is not None for p in exact_points):
            rows, hidden = vlad_rows(published, exact_points, variant)
            data["vlad_rows"] = rows
            shown = [r for r in rows if r["cumulative"] is not None]
            if shown:
                data["has_vlad"] = True
                data["vlad_figure"] = embed(
                    figures.vlad_figure(
                        labels=[r["quarter"] for r in rows],
                        cumulative=[r["cumulative"] for r in rows],
                        texts=[
                            f"Observed {r['observed']}, expected {r['expected']}; running total {r['cumulative_text']}"
                            for r in rows
                        ],
                    )
                )
                data["vlad_summary"] = (
                    f"Running total of observed minus expected events over {len(shown)} quarters from "
                    f"{shown[0]['quarter']} to {shown[-1]['quarter']}: {shown[-1]['cumulative_text']} at the end."
                    + text.vlad_gap_words(hidden)
                )
        else:
            data["vlad_missing"] = "This run did not store the expected events of each quarter, so no VLAD chart."
    return data


def build_check(run: ComputationRun, trust: str, code: str, variant: str) -> dict[str, Any] | None:
    """The "is this flag real?" panel of a trust's result, from the run's stored results and series."""
    definitions = {d.code: d for d in indicators_for(run.release.audit_id)}
    definition = definitions.get(code)
    if definition is None:
        return None
    rows = list(
        IndicatorResult.objects.filter(run=run, indicator=code, organisation__in=[trust, ENGLAND_CODE]).values(
            *RESULT_FIELDS
        )
    )
    if not any(r["organisation"] == trust and r["level"] == "provider" for r in rows):
        return None
    published = publish_results(rows, unsuppressed=variant == "analyst")
    trust_rows = {r["period"]: r for r in published if r["level"] == "provider" and r["organisation"] == trust}
    national_rows = {r["period"]: r for r in published if r["level"] == "national"}
    headline = headline_period(
        sorted(national_rows), {(code, "national", p): {ENGLAND_CODE: r} for p, r in national_rows.items()}, code
    )
    if headline is None or headline not in trust_rows:
        return None
    series = (
        TrendSeries.objects.filter(run=run, indicator=code, level="provider", organisation=trust)
        .values_list("points", "public")
        .first()
    )
    card = RunIndicator.objects.filter(run=run, indicator=code).values_list("model_card", flat=True).first() or {}
    caveats = (card.get("caveats") or {}).get(trust) if isinstance(card.get("caveats"), dict) else None
    if isinstance(caveats, str):
        caveats = [caveats]
    data = flag_check(
        definition=definition,
        trust_rows=trust_rows,
        national_rows=national_rows,
        headline=headline,
        trend=series,
        variant=variant,
        caveats=[str(c) for c in caveats or []],
    )
    data["covariates"] = [c["column"] for c in (definition.risk_model or {}).get("covariates", [])]
    # Completeness of each covariate among the trust's patients in the model (model card), for those who may see
    # completeness by trust (the view decides who).
    completeness: dict[str, Any] = card["completeness"] if isinstance(card.get("completeness"), dict) else {}
    data["model_completeness"] = {
        "trust": (completeness.get("by_group") or {}).get(trust) or {},
        "england": completeness.get("national") or {},
    }
    return data


def completeness_rows(
    *,
    columns: list[str],
    covariates: list[str],
    quality: dict[str, Any],
    trust_percent: dict[str, Any] | None,
    model_completeness: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Completeness of each field an indicator and its model use, at the trust and in England.

    England's is the release's report by column (public); the trust's is its row of the report by trust as this
    reader may see it (None: not shown to this reader), or, for a covariate, the model card's fraction among the
    trust's patients in the model when the card has it.
    """
    england = {c["column"]: c.get("percent_complete") for c in quality.get("columns", [])}
    required = {c["column"] for c in quality.get("columns", []) if c.get("required")}
    out = []
    for column in columns:
        england_value = text.finite(england.get(column))
        model_england = text.finite((model_completeness.get("england") or {}).get(column))
        if model_england is not None:
            england_value = 100 * model_england
        trust_value = None
        if trust_percent is not None:
            trust_value = text.finite(trust_percent.get(column))
            if trust_value is None and column in required:  # an accepted release has every required value
                trust_value = 100.0
            model_trust = text.finite((model_completeness.get("trust") or {}).get(column))
            if model_trust is not None:
                trust_value = 100 * model_trust
        gap = (
            trust_value is not None
            and england_value is not None
            and england_value - trust_value >= (text.COMPLETENESS_GAP)
        )
        out.append(
            {
                "column": column,
                "use": "risk model" if column in covariates else "definition",
                "england_text": "-" if england_value is None else f"{england_value:.1f}%",
                "trust_text": ("-" if trust_value is None else f"{trust_value:.1f}%")
                if trust_percent is not None
                else "Not shown",
                "gap": gap,
            }
        )
    return out
