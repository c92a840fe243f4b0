"""Compute one indicator from a release's rows: every level, every audit year, with trends.

Pure: pandas/numpy and indicators.stats only, no Django, no database. The job
(indicators/services.py) loads the rows and stores what this returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from indicators.definitions import IndicatorDefinition, evaluate
from indicators.stats.analysis import funnel_analysis
from indicators.stats.intervals import ratio_interval, wilson_interval
from indicators.stats.risk import fit_risk_model
from indicators.stats.risk_spec import DEFAULT_MINIMUM_COMPLETENESS
from indicators.stats.spc import xmr_chart

ENGLAND = "E92000001"
LEVELS = ("provider", "alliance", "national")
RESULT_COLUMNS = (
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
    "ci_lower_998",
    "ci_upper_998",
    "national_value",
    "limit_lower_95",
    "limit_upper_95",
    "limit_lower_998",
    "limit_upper_998",
    "limit_lower_95_unadjusted",
    "limit_upper_95_unadjusted",
    "limit_lower_998_unadjusted",
    "limit_upper_998_unadjusted",
    "z",
    "flag",
    "eligible",
)
_LIMITS = (
    "limit_lower_95",
    "limit_upper_95",
    "limit_lower_998",
    "limit_upper_998",
    "limit_lower_95_unadjusted",
    "limit_upper_95_unadjusted",
    "limit_lower_998_unadjusted",
    "limit_upper_998_unadjusted",
)


@dataclass
class IndicatorOutput:
    results: pd.DataFrame
    funnels: list[dict[str, Any]] = field(default_factory=list)
    trends: list[dict[str, Any]] = field(default_factory=list)
    model_card: dict[str, Any] | None = None


def audit_year(dates: pd.Series) -> pd.Series:
    """Audit year (April to March) starting year of each date; NaN where the date is missing."""
    years = dates.dt.year - (dates.dt.month < 4).astype("Int64")
    return years.astype("float64")


def period_label(start_year: int) -> str:
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def compute_indicator(
    frame: pd.DataFrame,
    indicator: IndicatorDefinition,
    *,
    extract_date: date,
    provider_column: str,
    alliance_of: dict[str, str],
) -> IndicatorOutput:
    """All results of one indicator.

    Proportions: numerator/denominator per organisation, Wilson intervals, funnel limits
    around the pooled national proportion. Risk-adjusted: a logistic model fitted on every
    patient in the denominator (all years), expected = sum of predicted risks, value = O/E
    with exact Poisson limits, adjusted rate = O/E x national rate. Funnels are drawn per
    audit year among providers and, separately, among Cancer Alliances.
    """
    denominator = evaluate(indicator.denominator, frame, extract_date)
    for exclusion in indicator.exclusions:
        denominator = denominator & ~evaluate(exclusion, frame, extract_date)
    dates = frame[indicator.period_column]
    denominator = denominator & dates.notna().to_numpy()
    numerator = denominator & evaluate(indicator.numerator, frame, extract_date)

    card = None
    expected = None
    if indicator.risk_model is not None:  # risk_adjusted
        cohort = frame.loc[denominator].copy()
        cohort["_outcome"] = numerator[denominator]
        model = indicator.risk_model
        try:
            # The audit year is a term of the model and each year is recalibrated, so that England's
            # O/E is 1 in every single year as well as over all years (ADR 0005).
            fit = fit_risk_model(
                cohort,
                "_outcome",
                model["covariates"],
                model.get("interactions") or (),
                year=audit_year(dates).to_numpy()[denominator],
                groups=frame[provider_column].to_numpy()[denominator],
                minimum_completeness=model.get("minimum_completeness", DEFAULT_MINIMUM_COMPLETENESS),
            )
        except ValueError as exc:  # too few patients or events, or no convergence: say so rather than guess
            return IndicatorOutput(
                results=pd.DataFrame(columns=RESULT_COLUMNS),
                model_card={
                    "fitted": False,
                    "reason": str(exc),
                    "n_patients": int(denominator.sum()),
                    "n_events": int(numerator.sum()),
                },
            )
        card = {"fitted": True, **fit.card}
        predicted = np.full(len(frame), np.nan)
        predicted[np.flatnonzero(denominator)] = fit.predicted
        denominator = denominator & np.isfinite(predicted)  # patients excluded for missing covariates (see the card)
        numerator = numerator & denominator
        expected = np.where(denominator, predicted, 0.0)

    # Organisations as integer codes, so every sum below is a bincount, not a string groupby.
    provider_codes, providers = pd.factorize(frame[provider_column].to_numpy()[denominator], sort=True)
    alliance_codes, alliances = pd.factorize(pd.Series(providers).map(alliance_of).fillna("unknown"), sort=True)
    quarters = (dates.dt.year * 4 + (dates.dt.month - 1) // 3).to_numpy()[denominator].astype(np.int64)
    cohort = pd.DataFrame(
        {
            "provider": provider_codes,
            "alliance": alliance_codes[provider_codes] if len(providers) else provider_codes,
            "national": np.zeros(len(provider_codes), dtype=np.int64),
            "year": audit_year(dates).to_numpy()[denominator].astype(int),
            "quarter": quarters - (quarters.min() if len(quarters) else 0),
            "numerator": numerator[denominator].astype(np.int64),
            "denominator": np.ones(int(denominator.sum()), dtype=np.int64),
            "expected": expected[denominator] if expected is not None else 0.0,
        }
    )
    first_quarter = int(quarters.min()) if len(quarters) else 0
    labels = {
        "provider": np.asarray(providers, dtype=object),
        "alliance": np.asarray(alliances, dtype=object),
        "national": np.array([ENGLAND], dtype=object),
    }

    output = IndicatorOutput(results=pd.DataFrame(columns=RESULT_COLUMNS), model_card=card)
    if cohort.empty:
        return output
    parts = []
    years = sorted(int(y) for y in cohort["year"].unique())
    for year, rows in cohort.groupby("year", sort=True):
        assert isinstance(year, int | np.integer)  # the key of the whole-number year column
        parts.extend(_year_results(rows, labels, int(year), indicator, output))
    if len(years) > 1:  # all audit years together: steadier for small trusts and rare outcomes
        parts.extend(_year_results(cohort, labels, years[0], indicator, output, last_year=years[-1]))
    output.results = pd.concat(parts, ignore_index=True)[list(RESULT_COLUMNS)]
    output.trends = _trends(cohort, labels, first_quarter, indicator)
    return output


def _sums(rows: pd.DataFrame, level: str, labels: dict[str, np.ndarray], by_quarter: bool = False) -> pd.DataFrame:
    """Numerator, denominator and expected summed per organisation (and quarter): bincounts on codes."""
    names = labels[level]
    codes = rows[level].to_numpy()
    width = 1
    if by_quarter:
        width = int(rows["quarter"].max()) + 1 if len(rows) else 1
        codes = codes * width + rows["quarter"].to_numpy()
    size = len(names) * width
    sums = {
        name: np.bincount(codes, weights=rows[name].to_numpy(dtype=float), minlength=size)
        for name in ("numerator", "denominator", "expected")
    }
    index = (
        pd.MultiIndex.from_arrays([np.repeat(names, width), np.tile(np.arange(width), len(names))])
        if by_quarter
        else pd.Index(names)
    )
    table = pd.DataFrame(sums, index=index)
    table = table[table["denominator"] > 0]
    table["numerator"] = table["numerator"].round().astype(np.int64)
    table["denominator"] = table["denominator"].round().astype(np.int64)
    return table


def _year_results(
    rows: pd.DataFrame,
    labels: dict[str, np.ndarray],
    year: int,
    indicator: IndicatorDefinition,
    output: IndicatorOutput,
    last_year: int | None = None,
):
    last_year = year if last_year is None else last_year
    start, end = date(year, 4, 1), date(last_year + 1, 3, 31)
    label = period_label(year) if last_year == year else f"{period_label(year)}-{period_label(last_year)}"
    national = _sums(rows, "national", labels)
    rate = float(national["numerator"].iloc[0] / national["denominator"].iloc[0])
    frames = []
    for level in LEVELS:
        sums = _sums(rows, level, labels)
        table = pd.DataFrame(
            {
                "organisation": sums.index.astype(str),
                "numerator": sums["numerator"].to_numpy(),
                "denominator": sums["denominator"].to_numpy(),
            }
        )
        table["observed"] = table["numerator"].astype(float)
        if indicator.risk_adjusted:
            table["expected"] = sums["expected"].to_numpy()
            counts = table["expected"].to_numpy()
        else:
            table["expected"] = table["denominator"] * rate
            counts = table["denominator"].to_numpy(dtype=float)
        table["eligible"] = table["denominator"] >= indicator.minimum_denominator
        _intervals(table, indicator, counts)
        table["national_value"] = rate
        table["adjusted_rate"] = table["value"] * rate if indicator.risk_adjusted else table["value"]
        for column in (*_LIMITS, "z"):
            table[column] = np.nan
        table["flag"] = "none"
        if level != "national":
            _funnel(table, level, label, indicator, counts, rate, output)
        table["level"] = level
        table["period"] = label
        table["period_start"] = start
        table["period_end"] = end
        frames.append(table)
    return frames


def _intervals(table: pd.DataFrame, indicator: IndicatorDefinition, counts: np.ndarray) -> None:
    x = table["numerator"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["value"] = x / counts
    if indicator.risk_adjusted:
        low, high = ratio_interval(x, counts, 0.95, method="exact")
        low998, high998 = ratio_interval(x, counts, 0.998, method="exact")
    else:
        low, high = wilson_interval(x, counts, 0.95)
        low998, high998 = wilson_interval(x, counts, 0.998)
    table["ci_lower"], table["ci_upper"], table["ci_lower_998"], table["ci_upper_998"] = low, high, low998, high998


def _funnel(table, level, period, indicator, counts, rate, output) -> None:
    """The funnel of one level and period: ``indicator.funnel_method`` (default "midp", calibrated
    mid-p flags). Risk-adjusted results pass each unit's patients, so that where events are common
    (national rate above indicators.stats.analysis.COMMON_OUTCOME_RATE) the default analyses O/E as
    an indirectly standardised proportion with binomial, not Poisson, variance."""
    eligible = table["eligible"].to_numpy() & (counts > 0)
    if eligible.sum() < 2:
        return
    patients = table["denominator"].to_numpy(dtype=float)[eligible] if indicator.risk_adjusted else None
    result = funnel_analysis(
        table["organisation"].to_numpy()[eligible],
        table["numerator"].to_numpy()[eligible],
        counts[eligible],
        kind=indicator.kind,
        method=indicator.funnel_method,
        overdispersion="auto",
        target=1.0 if indicator.risk_adjusted else rate,
        patients=patients,
    )
    units = result.units.set_index("unit")
    for column in (*_LIMITS, "z", "flag"):
        source = "z_adjusted" if column == "z" else column
        values = units[source].reindex(table["organisation"].to_numpy()[eligible]).to_numpy()
        column_values = table[column].to_numpy(dtype=object if column == "flag" else float).copy()
        column_values[eligible] = values
        table[column] = column_values
    output.funnels.append(
        {
            "level": level,
            "period": period,
            "kind": result.kind,
            "method": result.method,
            "target": result.target,
            "phi": _finite(result.phi),
            "tau2": _finite(result.tau2),
            "n_units": int(result.n_units),
            "overdispersion": result.overdispersion,
            "overdispersion_applied": bool(result.overdispersion_applied),
            "expected_flags": 0.05 * int(eligible.sum()),
        }
    )


def _trends(
    cohort: pd.DataFrame, labels: dict[str, np.ndarray], first_quarter: int, indicator: IndicatorDefinition
) -> list[dict[str, Any]]:
    """Quarterly values per organisation, with an XmR chart where there are enough quarters."""
    trends = []
    overall = cohort["numerator"].sum() / cohort["denominator"].sum()
    for level in LEVELS:
        sums = _sums(cohort, level, labels, by_quarter=True)
        if indicator.risk_adjusted:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = sums["numerator"] / sums["expected"] * overall
        else:
            values = sums["numerator"] / sums["denominator"]
        sums = sums.assign(value=values)
        for organisation, series in sums.groupby(level=0, sort=True):
            series = series.droplevel(0)
            quarters = series.index.to_numpy() + first_quarter
            points = [
                {
                    "quarter": f"{q // 4}Q{q % 4 + 1}",
                    "start": date(q // 4, 3 * (q % 4) + 1, 1).isoformat(),
                    "numerator": int(n),
                    "denominator": int(d),
                    "value": _finite(v),
                }
                for q, n, d, v in zip(
                    quarters,
                    series["numerator"].to_numpy(),
                    series["denominator"].to_numpy(),
                    series["value"].to_numpy(),
                    strict=True,
                )
            ]
            chart = trend_chart([_finite(v) for v in series["value"].to_numpy()], indicator)
            trends.append({"level": level, "organisation": str(organisation), "points": points, "xmr": chart})
    return trends


def trend_chart(values: list[float | None], indicator: IndicatorDefinition) -> dict[str, Any] | None:
    """The XmR chart of a quarterly series, drawn from the quarters that have a value, in order (None
    with fewer than three)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if len(finite) < 3:
        return None
    target = (indicator.standard or {}).get("value")
    return xmr_chart(np.asarray(finite), improvement_direction=indicator.improvement_direction, target=target).as_dict()


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
