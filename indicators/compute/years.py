"""One period's results at every level: sums per organisation, the statistic and its intervals, and the
funnel with its flags."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from indicators import result_fields
from indicators.compute.output import IndicatorOutput
from indicators.compute.periods import period_of
from indicators.definitions import IndicatorDefinition
from indicators.kinds import KINDS
from indicators.levels import ALLIANCE, LEVELS, NATIONAL, PROVIDER
from indicators.stats.analysis import funnel_analysis
from indicators.stats.arrays import finite_or_none


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
        for name in ("numerator", "denominator", "expected", "variance", "recorded", "base")
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


def year_results(
    rows: pd.DataFrame,
    labels: dict[str, np.ndarray],
    year: int,
    indicator: IndicatorDefinition,
    output: IndicatorOutput,
    last_year: int | None = None,
    *,
    complete_until: date,
):
    """The results of one period (audit year ``year``, or ``year`` to ``last_year``) at every level, a table per
    level in ``LEVELS`` order; the funnels drawn are added to ``output``."""
    period = period_of(indicator, year, last_year, complete_until)
    label, start, end = period["period"], period["period_start"], period["period_end"]
    kind = KINDS[indicator.kind]
    level_sums = {level: _sums(rows, level, labels) for level in LEVELS}
    national = level_sums["national"]
    rate = float(national["numerator"].iloc[0] / national["denominator"].iloc[0])
    frames = []
    for level in LEVELS:
        sums = level_sums[level]
        table = pd.DataFrame(
            {
                "organisation": sums.index.astype(str),
                "numerator": sums["numerator"].to_numpy(),
                "denominator": sums["denominator"].to_numpy(),
            }
        )
        table["observed"] = table["numerator"].astype(float)
        table["expected"] = kind.expected(table["denominator"], sums["expected"].to_numpy(), rate)
        table["expected_variance"] = kind.expected_variance(sums["variance"].to_numpy())
        counts = kind.counts(table["denominator"].to_numpy(dtype=float), table["expected"].to_numpy())
        table["eligible"] = table["denominator"] >= indicator.minimum_denominator
        _intervals(table, indicator, counts)
        table["national_value"] = rate
        table["adjusted_rate"] = kind.adjusted_rate(table["value"], rate)
        for column in (*result_fields.LIMITS, "z"):
            table[column] = np.nan
        table["flag"] = "none"
        if compared(level, indicator):
            _funnel(table, level, label, indicator, counts, rate, output)
        _shrink(table, level, indicator, counts)
        table["level"] = level
        table["period"] = label
        table["period_start"] = start
        table["period_end"] = end
        frames.append(table)
    for table, level in zip(frames, LEVELS, strict=True):
        sums = level_sums[level]
        table["field_completeness"] = (sums["recorded"] / sums["base"]).to_numpy() if indicator.requires else np.nan
        for name in ("coverage", "partial", "note"):
            table[name] = period[name]
        if level != NATIONAL and not compared(level, indicator):
            table["note"] = f"{period['note']} {NOT_COMPARED[level]}".strip()
        if not period["flaggable"]:  # a part-period too short to judge: no limits, no flags, and why
            table[[*result_fields.LIMITS, "z"]] = np.nan
            table["flag"] = "none"
    if not period["flaggable"]:
        output.funnels[:] = [fit for fit in output.funnels if fit["period"] != label]
    return frames


#: Why a level's units get no funnel flags when the definition compares another level (indicators.reporting).
NOT_COMPARED = {
    PROVIDER: "Trusts are compared by Cancer Alliance, as the audit's definition declares: each has too few patients "
    "for a flag of its own. Its reliability-adjusted estimate says how much of its figure is more than chance.",
}


def compared(level: str, indicator: IndicatorDefinition) -> bool:
    """Whether a level's units are judged by a funnel: trusts and alliances, unless the definition compares
    alliances only (``reporting.comparison_level: alliance``); never England."""
    if level == NATIONAL:
        return False
    return not (level == PROVIDER and indicator.reporting.comparison_level == ALLIANCE)


def _shrink(table: pd.DataFrame, level: str, indicator: IndicatorDefinition, counts: np.ndarray) -> None:
    """Each unit's reliability-adjusted (shrunken) estimate among the units of its level and period, with its
    95% interval and reliability: empirical Bayes with a prior estimated from them all, as the indicator's kind
    shrinks (``Kind.shrink``: beta-binomial for a proportion, gamma-Poisson for O/E; indicators.stats.shrinkage).
    England, and a kind that does not shrink, get none."""
    for name in result_fields.SHRUNKEN:
        table[name] = np.nan
    if level == NATIONAL or table.empty:
        return
    shrunk = KINDS[indicator.kind].shrink(table["numerator"].to_numpy(float), counts)
    if shrunk is not None:
        for name in result_fields.SHRUNKEN:
            table[name] = shrunk[name]


def _intervals(table: pd.DataFrame, indicator: IndicatorDefinition, counts: np.ndarray) -> None:
    x = table["numerator"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["value"] = x / counts
    kind = KINDS[indicator.kind]
    low, high = kind.interval(x, counts, 0.95)
    low998, high998 = kind.interval(x, counts, 0.998)
    table["ci_lower"], table["ci_upper"], table["ci_lower_998"], table["ci_upper_998"] = low, high, low998, high998


def _funnel(table, level, period, indicator, counts, rate, output) -> None:
    """The funnel of one level and period: ``indicator.funnel_method`` (default "midp", calibrated
    mid-p flags), of the family and around the target its kind sets. A risk-adjusted ratio passes
    each unit's patients, so that where events are common (national rate above
    indicators.stats.analysis.COMMON_OUTCOME_RATE) the default analyses O/E as an indirectly
    standardised proportion with binomial, not Poisson, variance."""
    eligible = table["eligible"].to_numpy() & (counts > 0)
    if eligible.sum() < 2:
        return
    kind = KINDS[indicator.kind]
    patients, variance = kind.funnel_patients(
        table["denominator"].to_numpy(dtype=float)[eligible], table["expected_variance"].to_numpy(dtype=float)[eligible]
    )
    result = funnel_analysis(
        table["organisation"].to_numpy()[eligible],
        table["numerator"].to_numpy()[eligible],
        counts[eligible],
        kind=kind.funnel,
        method=indicator.funnel_method,
        overdispersion="auto",
        target=kind.target(rate),
        patients=patients,
        variance=variance,
    )
    units = result.units.set_index("unit")
    for column in (*result_fields.LIMITS, "z", "flag"):
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
            "phi": finite_or_none(result.phi),
            "tau2": finite_or_none(result.tau2),
            "n_units": int(result.n_units),
            "overdispersion": result.overdispersion,
            "overdispersion_applied": bool(result.overdispersion_applied),
            "expected_flags": 0.05 * int(eligible.sum()),
        }
    )
