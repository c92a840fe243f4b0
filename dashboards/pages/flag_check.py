"""The "is this flag real?" page of a trust's result: completeness of the fields behind it, the flag in each
year, the excess events and (risk-adjusted) their course by quarter (a VLAD chart). Derived from the run's
stored results and series when asked for; and its CSV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboards import figures, text
from dashboards.pages.piece import CsvSchema, Piece, columns, embed, interval_columns
from dashboards.pages.run import format_result, kind_of, or_nan, shown_count
from indicators.definitions import IndicatorDefinition
from indicators.disclosure import publish_trend, suppression_policy
from indicators.kinds import Kind
from indicators.levels import PROVIDER
from indicators.stats.arrays import finite_or_none


def check_key(trust: str, code: str, variant: str) -> str:
    return f"check:{trust}:{code}:{variant}"


@dataclass(kw_only=True)
class CheckYear(Piece):
    """The trust's result in one period, and its excess events."""

    period: str
    pooled: bool
    value_text: str
    ci_text: str
    numerator: str
    denominator: str
    expected_text: str
    england_text: str
    label: str
    meaning: str
    flag: str
    compared: bool
    excess: str
    excess_ci: str


@dataclass(kw_only=True)
class VladRow(Piece):
    """One quarter of the VLAD: observed and expected events and the running total of their difference."""

    quarter: str
    observed: str
    expected: str
    difference: str
    cumulative: float | None
    cumulative_text: str


@dataclass(kw_only=True)
class CompletenessRow(Piece):
    """A field the indicator or its model uses: how completely it is recorded at the trust and in England."""

    column: str
    use: str
    england_text: str
    trust_text: str
    gap: bool


@dataclass(kw_only=True)
class FlagCheck(Piece):
    """The panel of one trust and indicator, as published to one reader."""

    code: str
    title: str
    headline: str
    kind: Kind
    result: CheckYear | None
    years: list[CheckYear]
    years_text: str
    excess_text: str
    excess_how: str
    caveats: list[str]
    has_vlad: bool = False
    vlad_words: str = text.VLAD_WORDS
    vlad_rows: list[VladRow] | None = None
    vlad_figure: str | None = None
    vlad_summary: str = ""
    vlad_missing: str = ""
    covariates: list[str] | None = None
    model_completeness: dict[str, dict[str, Any]] | None = None


#: ``?download=years`` of the page.
YEARS_CSV: CsvSchema[CheckYear] = columns(
    ("period", lambda y: y.period),
    ("value", lambda y: y.value_text),
    *interval_columns("value_95", lambda y: y.ci_text),
    ("england", lambda y: y.england_text),
    ("observed_minus_expected", lambda y: y.excess),
    *interval_columns("observed_minus_expected_95", lambda y: y.excess_ci),
    ("flag", lambda y: y.label),
)


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
    kind = kind_of(definition)
    observed, denominator = float(row["numerator"]), float(row["denominator"])
    lower, upper = finite_or_none(row.get("ci_lower")), finite_or_none(row.get("ci_upper"))
    # The kind's expected events, the statistic's centre and what it divides the events by (indicators.kinds);
    # NaN stands for an unknown rate or sum of expected events, and gives no expected events where it is needed.
    rate, summed = or_nan(row.get("national_value")), or_nan(row.get("expected"))
    expected = finite_or_none(kind.expected(denominator, summed, rate))
    if expected is None:
        return None, None, None
    base, scale = kind.target(rate), kind.counts(denominator, expected)
    excess = observed - expected
    if lower is None or upper is None:
        return excess, None, None
    return excess, scale * (lower - base), scale * (upper - base)


def vlad_rows(published: list[dict[str, Any]], exact: list[dict[str, Any]], variant: str) -> tuple[list[VladRow], int]:
    """The quarters of a VLAD chart: each quarter's observed and expected events and the running total of
    observed minus expected, from the quarters as published to ``variant``.

    Expected events come from the stored point's ``expected`` (None for every quarter when the run stored none:
    then there is no chart). A quarter hidden by small-number suppression, or without expected events, is a gap:
    its running total is None and its events are left out of the total, so the line never steps across it and
    no hidden count can be read from the steps either side. The public's expected events are those of the quarters
    they are shown, to one decimal, as results publish them. Returns the rows and the number of hidden quarters.
    """
    rows: list[VladRow] = []
    total, hidden = 0.0, 0
    for point, stored in zip(published, exact, strict=True):
        observed = point.get("numerator")
        # The published point's own expected events when disclosure publishes them, else the stored point's.
        expected = finite_or_none(point["expected"] if "expected" in point else stored.get("expected"))
        if expected is not None and variant != "analyst":
            expected = round(expected, 1)
        shown = observed is not None and not (point.get("suppressed") and variant != "analyst")
        if not shown:
            hidden += 1
        if not shown or expected is None:
            rows.append(
                VladRow(
                    quarter=point["quarter"],
                    observed=shown_count(observed) if shown else suppression_policy().marker,
                    expected=text.expected_count(expected) if shown else suppression_policy().marker,
                    difference="-",
                    cumulative=None,
                    cumulative_text="-",
                )
            )
            continue
        difference = float(observed) - expected  # type: ignore[arg-type]  # shown: a published count
        total += difference
        rows.append(
            VladRow(
                quarter=point["quarter"],
                observed=shown_count(observed),
                expected=text.expected_count(expected),
                difference=text.signed_events(difference),
                cumulative=total,
                cumulative_text=text.signed_events(total),
            )
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
) -> FlagCheck:
    """The "is this flag real?" panel of one trust and indicator, from its results as published to ``variant``
    (``trust_rows`` and ``national_rows`` by period, through :func:`publish_results`) and its stored quarterly
    series (exact points and public series). Pure: no database."""
    periods = sorted(p for p in trust_rows if "-" not in p)  # the single audit years
    years, raw = [], {}
    for period in [*periods, *([headline] if headline not in periods else [])]:
        row = trust_rows.get(period)
        result = format_result(row, definition)
        if result is None:
            continue
        excess, lower, upper = excess_events(row, definition)
        raw[period] = (excess, lower, upper)
        years.append(
            CheckYear(
                period=period,
                pooled=period == headline and "-" in period,
                value_text=result["value_text"],
                ci_text=result["ci_text"],
                numerator=result["numerator"],
                denominator=result["denominator"],
                expected_text=result["expected_text"],
                england_text=(format_result(national_rows.get(period), definition) or {}).get("value_text", "-"),
                label=result["label"],
                meaning=result["meaning"],
                flag=result["flag"],
                compared=result["compared"],
                excess=text.signed_events(excess),
                excess_ci="-"
                if lower is None or upper is None
                else f"{text.signed_events(lower)} to {text.signed_events(upper)}",
            )
        )
    main = next((y for y in years if y.period == headline), None)
    singles = [y.to_json() for y in years if y.period in periods]
    excess, lower, upper = raw[headline] if main else (None, None, None)
    data = FlagCheck(
        code=definition.code,
        title=definition.title,
        headline=headline,
        kind=kind_of(definition),
        result=main,
        years=years,
        years_text=text.years_sentence(singles),
        excess_text=text.excess_sentence(excess, lower, upper, place="this trust"),
        excess_how=kind_of(definition).excess_words,
        caveats=caveats,
    )
    if data.kind.has_expected and trend is not None and trend[0]:
        exact_points, public = trend
        published, _ = publish_trend(
            level=PROVIDER, points=exact_points, xmr=None, public=public, unsuppressed=variant == "analyst"
        )
        if any(p.get("expected") is not None for p in exact_points):
            rows, hidden = vlad_rows(published, exact_points, variant)
            data.vlad_rows = rows
            shown = [r for r in rows if r.cumulative is not None]
            if shown:
                data.has_vlad = True
                data.vlad_figure = embed(
                    figures.vlad_figure(
                        labels=[r.quarter for r in rows],
                        cumulative=[r.cumulative for r in rows],
                        texts=[
                            f"Observed {r.observed}, expected {r.expected}; running total {r.cumulative_text}"
                            for r in rows
                        ],
                    )
                )
                data.vlad_summary = (
                    f"Running total of observed minus expected events over {len(shown)} quarters from "
                    f"{shown[0].quarter} to {shown[-1].quarter}: {shown[-1].cumulative_text} at the end."
                    + text.vlad_gap_words(hidden)
                )
        else:
            data.vlad_missing = "This run did not store the expected events of each quarter, so no VLAD chart."
    return data


def completeness_rows(
    *,
    columns: list[str],
    covariates: list[str],
    quality: dict[str, Any],
    trust_percent: dict[str, Any] | None,
    model_completeness: dict[str, dict[str, Any]],
) -> list[CompletenessRow]:
    """Completeness of each field an indicator and its model use, at the trust and in England.

    England's is the release's report by column (public); the trust's is its row of the report by trust as this
    reader may see it (None: not shown to this reader), or, for a covariate, the model card's fraction among the
    trust's patients in the model when the card has it.
    """
    england = {c["column"]: c.get("percent_complete") for c in quality.get("columns", [])}
    required = {c["column"] for c in quality.get("columns", []) if c.get("required")}
    out = []
    for column in columns:
        england_value = finite_or_none(england.get(column))
        model_england = finite_or_none((model_completeness.get("england") or {}).get(column))
        if model_england is not None:
            england_value = 100 * model_england
        trust_value = None
        if trust_percent is not None:
            trust_value = finite_or_none(trust_percent.get(column))
            if trust_value is None and column in required:  # an accepted release has every required value
                trust_value = 100.0
            model_trust = finite_or_none((model_completeness.get("trust") or {}).get(column))
            if model_trust is not None:
                trust_value = 100 * model_trust
        gap = (
            trust_value is not None
            and england_value is not None
            and england_value - trust_value >= (text.COMPLETENESS_GAP)
        )
        out.append(
            CompletenessRow(
                column=column,
                use="risk model" if column in covariates else "definition",
                england_text="-" if england_value is None else f"{england_value:.1f}%",
                trust_text=("-" if trust_value is None else f"{trust_value:.1f}%")
                if trust_percent is not None
                else "Not shown",
                gap=gap,
            )
        )
    return out
