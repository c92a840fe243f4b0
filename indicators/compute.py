"""Compute one indicator from a release's rows: every level, every audit year, with trends.

Pure: pandas/numpy and indicators.stats only, no Django, no database. The job
(indicators/services.py) loads the rows and stores what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from indicators import result_fields
from indicators.definitions import IndicatorDefinition, evaluate
from indicators.kinds import KINDS
from indicators.levels import ENGLAND_CODE, LEVELS
from indicators.stats.analysis import funnel_analysis
from indicators.stats.arrays import finite_or_none
from indicators.stats.spc import xmr_chart

RESULT_COLUMNS = (
    "level",
    "organisation",
    *result_fields.PERIOD,
    *result_fields.FIGURES,
    *result_fields.JUDGEMENT,
    *result_fields.COMPLETENESS,
    "expected_variance",
    "note",
)


@dataclass
class IndicatorOutput:
    results: pd.DataFrame
    funnels: list[dict[str, Any]] = field(default_factory=list)
    trends: list[dict[str, Any]] = field(default_factory=list)
    model_card: dict[str, Any] | None = None


MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def audit_year(dates: pd.Series) -> pd.Series:
    """Audit year (April to March) starting year of each date; NaN where the date is missing."""
    years = dates.dt.year - (dates.dt.month < 4).astype("Int64")
    return years.astype("float64")


def period_label(start_year: int, last_year: int | None = None, end: date | None = None) -> str:
    """ "2024/25"; all years "2021/22-2024/25"; a period covered only up to ``end`` (before the last
    year's 31 March) says so: "2025/26, April to June 2025", "2021/22-2025/26, to 2 July 2025"."""
    last = start_year if last_year is None else last_year
    label = f"{start_year}/{(start_year + 1) % 100:02d}"
    if last != start_year:
        label += f"-{last}/{(last + 1) % 100:02d}"
    if end is None or end >= date(last + 1, 3, 31):
        return label
    if last != start_year:
        return f"{label}, to {_day(end)} {end.year}"
    return f"{label}, {_span_text(date(last, 4, 1), end)}"


def _day(day: date, whole_month: bool = False) -> str:
    return MONTHS[day.month - 1] if whole_month else f"{day.day} {MONTHS[day.month - 1]}"


def _span_text(start: date, end: date) -> str:
    """ "April to June 2025" when the span is whole months, else "1 April to 2 July 2025"."""
    whole = start.day == 1 and (end + pd.Timedelta(days=1)).day == 1
    first = _day(start, whole) + ("" if start.year == end.year else f" {start.year}")
    if whole and (start.year, start.month) == (end.year, end.month):
        return f"{_day(end, True)} {end.year}"
    return f"{first} to {_day(end, whole)} {end.year}"


def followed_up_until(indicator: IndicatorDefinition, extract_date: date) -> date:
    """The last date of the period column whose patients are fully followed up at the extract date, as the
    denominator requires (``indicators.conditions``); an indicator requiring none is complete up to the
    extract date."""
    return indicator.conditions.denominator.followed_up_until(indicator.period_column, extract_date) or extract_date


def coverage(start: date, end: date, complete_until: date) -> tuple[date, float]:
    """The last date the period ``start``-``end`` really covers, and the fraction of its days covered."""
    covered_end = min(end, complete_until)
    days = max((covered_end - start).days + 1, 0)
    return covered_end, days / ((end - start).days + 1)


def compute_indicator(
    frame: pd.DataFrame,
    indicator: IndicatorDefinition,
    *,
    extract_date: date,
    provider_column: str,
    alliance_of: dict[str, str],
) -> IndicatorOutput:
    """All results of one indicator.

    Its kind (indicators/kinds) decides the expected events, the statistic and its interval, the
    value shown and the funnel: a proportion is numerator/denominator per organisation with Wilson
    intervals and funnel limits around the pooled national proportion; a risk-adjusted ratio fits a
    logistic model on every patient in the denominator (all years), expected = sum of predicted
    risks, value = O/E with exact Poisson limits, adjusted rate = O/E x national rate. Funnels are
    drawn per audit year among providers and, separately, among Cancer Alliances.
    """
    denominator = evaluate(indicator.conditions.denominator, frame, extract_date)
    for exclusion in indicator.conditions.exclusions:
        denominator = denominator & ~evaluate(exclusion, frame, extract_date)
    dates = frame[indicator.period_column]
    denominator = denominator & dates.notna().to_numpy()
    numerator = denominator & evaluate(indicator.conditions.numerator, frame, extract_date)
    # A field the indicator depends on: its completeness is measured among the patients the
    # denominator takes whatever the field says (the "base"), a blank counts as not recorded, and a
    # trust's year below the definition's minimum is refused before anything is fitted or summed.
    base = denominator
    recorded = np.zeros(len(frame), dtype=bool)
    refused = np.zeros(len(frame), dtype=bool)
    refused_cells = pd.DataFrame()
    if indicator.requires is not None:
        column = indicator.requires["column"]
        base = evaluate(_ignoring(indicator.denominator, column), frame, extract_date)
        for exclusion in indicator.conditions.exclusions:
            base = base & ~evaluate(exclusion, frame, extract_date)
        base = (base & dates.notna().to_numpy()) | denominator
        values = frame[column]
        recorded = (values.notna() & ~values.astype(object).isin(indicator.requires.get("unknown_codes", []))).to_numpy(
            dtype=bool
        )
        audit_years = audit_year(dates).to_numpy()
        share = pd.Series(recorded[base]).groupby([frame[provider_column].to_numpy()[base], audit_years[base]])
        enough = share.transform("mean").to_numpy() >= indicator.requires["minimum_completeness"]
        refused[np.flatnonzero(base)[~enough]] = True
        refused_cells = pd.DataFrame(
            {
                "organisation": frame[provider_column].to_numpy()[refused],
                "year": audit_years[refused].astype(int),
                "numerator": numerator[refused].astype(np.int64),
                "denominator": denominator[refused].astype(np.int64),
                "recorded": recorded[refused].astype(np.int64),
                "base": np.ones(int(refused.sum()), dtype=np.int64),
            }
        )
        base = base & ~refused
        denominator = denominator & ~refused
        numerator = numerator & ~refused

    row_years = audit_year(dates).to_numpy()
    counted = KINDS[indicator.kind].cohort(
        indicator, frame, numerator, denominator, years=row_years, groups=frame[provider_column].to_numpy()
    )
    if counted.unfitted:  # no model to judge by: the card says why
        return IndicatorOutput(results=pd.DataFrame(columns=RESULT_COLUMNS), model_card=counted.card)
    numerator, denominator, card = counted.numerator, counted.denominator, counted.card

    # Organisations as integer codes, so every sum below is a bincount, not a string groupby. The rows
    # are the denominator's patients and, for a required field, the base it is measured among.
    in_cohort = denominator | (base & ~refused)
    provider_codes, providers = pd.factorize(frame[provider_column].to_numpy()[in_cohort], sort=True)
    alliance_codes, alliances = pd.factorize(pd.Series(providers).map(alliance_of).fillna("unknown"), sort=True)
    # NHS financial quarters: Q1 is April to June of the audit year.
    quarters = (audit_year(dates) * 4 + (dates.dt.month - 4) % 12 // 3).to_numpy()[in_cohort].astype(np.int64)
    cohort = pd.DataFrame(
        {
            "provider": provider_codes,
            "alliance": alliance_codes[provider_codes] if len(providers) else provider_codes,
            "national": np.zeros(len(provider_codes), dtype=np.int64),
            "year": row_years[in_cohort].astype(int),
            "quarter": quarters - (quarters.min() if len(quarters) else 0),
            "numerator": numerator[in_cohort].astype(np.int64),
            "denominator": denominator[in_cohort].astype(np.int64),
            "expected": np.where(denominator, counted.expected, 0.0)[in_cohort],
            "variance": np.where(denominator, counted.variance, 0.0)[in_cohort],
            "recorded": recorded[in_cohort].astype(np.int64),
            "base": np.ones(int(in_cohort.sum()), dtype=np.int64),
        }
    )
    first_quarter = int(quarters.min()) if len(quarters) else 0
    labels = {
        "provider": np.asarray(providers, dtype=object),
        "alliance": np.asarray(alliances, dtype=object),
        "national": np.array([ENGLAND_CODE], dtype=object),
    }

    output = IndicatorOutput(results=pd.DataFrame(columns=RESULT_COLUMNS), model_card=card)
    complete_until = followed_up_until(indicator, extract_date)
    years = sorted(int(y) for y in cohort.loc[cohort["denominator"] > 0, "year"].unique())
    # The all-years period spans every year with patients, refused ones too (one label for all its rows).
    span = sorted({*years, *(refused_cells["year"].tolist() if refused.any() else [])})
    if refused.any():
        parts = [_refused_results(refused_cells, cohort, labels, indicator, complete_until, span)]
    elif not years:
        return output
    else:
        parts = []
    for year, rows in cohort[cohort["year"].isin(years)].groupby("year", sort=True):
        assert isinstance(year, int | np.integer)  # the key of the whole-number year column
        parts.extend(_year_results(rows, labels, int(year), indicator, output, complete_until=complete_until))
    if len(span) > 1 and years:  # all audit years together: steadier for small trusts and rare outcomes
        parts.extend(
            _year_results(cohort, labels, span[0], indicator, output, last_year=span[-1], complete_until=complete_until)
        )
    results = pd.concat([part for part in parts if len(part)], ignore_index=True)
    if refused.any():
        _note_exclusions(results, refused_cells, alliance_of, indicator)
        england = results[results["level"] == "national"].set_index("period")["national_value"]
        results["national_value"] = results["national_value"].fillna(results["period"].map(england))
    output.results = results[list(RESULT_COLUMNS)]
    output.trends = _trends(cohort, labels, first_quarter, indicator, complete_until)
    return output


def _ignoring(condition: dict[str, Any], column: str) -> dict[str, Any]:
    """``condition`` without the tests on ``column`` among its ``all`` parts: the patients the
    denominator would take whatever ``column`` says."""
    if "all" not in condition:
        return {"all": []} if condition.get("column") == column else condition
    parts = [_ignoring(part, column) for part in condition["all"] if part.get("column") != column]
    return {"all": [part for part in parts if part != {"all": []}]}


def _period(indicator: IndicatorDefinition, year: int, last_year: int | None, complete_until: date) -> dict[str, Any]:
    """A period's label, its real first and last dates, the share of its days covered, and why it has
    no funnel flags when it covers less than the definition's ``minimum_coverage``."""
    last = year if last_year is None else last_year
    start, end = date(year, 4, 1), date(last + 1, 3, 31)
    covered_end, share = coverage(start, end, complete_until)
    label = period_label(year, last_year, covered_end)
    note = ""
    flaggable = share >= indicator.minimum_coverage
    if share < 1:
        note = (
            f"Covers {_span_text(start, covered_end)} only ({share:.0%} of the period): "
            f"{indicator.period_column} up to {covered_end.isoformat()} is followed up at the extract date."
        )
        if not flaggable:
            note += f" No funnel flags: the indicator needs at least {indicator.minimum_coverage:.0%} of the period."
    return {
        "period": label,
        "period_start": start,
        "period_end": covered_end,
        "coverage": share,
        "partial": share < 1,
        "note": note,
        "flaggable": flaggable,
    }


def _refused_results(
    cells: pd.DataFrame,
    cohort: pd.DataFrame,
    labels: dict[str, np.ndarray],
    indicator: IndicatorDefinition,
    complete_until: date,
    span: list[int],
) -> pd.DataFrame:
    """Rows for the trusts' years refused for a field recorded too rarely: counts and completeness,
    no value and no flag, and the reason in words. Their all-years row is refused too when the
    trust has no accepted year (otherwise its all-years row covers its accepted years only)."""
    assert indicator.requires is not None
    years = span
    counts = ["numerator", "denominator", "recorded", "base"]
    sums = cells.groupby(["organisation", "year"], as_index=False)[counts].sum()
    if len(years) > 1:
        accepted = set(labels["provider"][cohort.loc[cohort["denominator"] > 0, "provider"].unique()])
        whole = cells[~cells["organisation"].isin(accepted)]
        pooled = whole.groupby("organisation", as_index=False)[counts].sum()
        pooled["year"] = -1
        sums = pd.concat([sums, pooled], ignore_index=True)
    column, minimum = indicator.requires["column"], indicator.requires["minimum_completeness"]
    rows = []
    for record in sums.to_dict("records"):
        pooled_row = record["year"] == -1
        period = _period(
            indicator, years[0] if pooled_row else record["year"], years[-1] if pooled_row else None, complete_until
        )
        share = record["recorded"] / record["base"]
        rows.append(
            {
                **{name: period[name] for name in ("period", "period_start", "period_end", "coverage", "partial")},
                "level": "provider",
                "organisation": str(record["organisation"]),
                "numerator": int(record["numerator"]),
                "denominator": int(record["denominator"]),
                "field_completeness": share,
                "flag": "none",
                "eligible": False,
                "note": (
                    f"Not computed: {column} is recorded for {share:.0%} of these patients, below the "
                    f"{minimum:.0%} this indicator needs; a blank counts as not recorded."
                ),
            }
        )
    return pd.DataFrame(rows).reindex(columns=list(RESULT_COLUMNS))


def _note_exclusions(
    results: pd.DataFrame, cells: pd.DataFrame, alliance_of: dict[str, str], indicator: IndicatorDefinition
) -> None:
    """Say on England's and each alliance's rows (and a trust's all-years row) which refused trusts'
    patients they leave out."""
    assert indicator.requires is not None
    column = indicator.requires["column"]
    year = pd.to_datetime(results["period_start"]).dt.year.to_numpy()
    pooled = results["period"].astype(str).str.contains("-").to_numpy()
    notes = results["note"].astype(str).tolist()
    for position, (level, organisation) in enumerate(zip(results["level"], results["organisation"], strict=True)):
        if notes[position].startswith("Not computed"):
            continue
        left = cells if pooled[position] else cells[cells["year"] == year[position]]
        if level == "alliance":
            left = left[left["organisation"].map(alliance_of).fillna("unknown") == organisation]
        elif level == "provider":
            left = left[left["organisation"] == organisation]
        if left.empty:
            continue
        who = (
            f"its years {', '.join(period_label(int(y)) for y in sorted(left['year'].unique()))}"
            if level == "provider"
            else f"{left['organisation'].nunique()} trust(s)"
        )
        notes[position] = f"{notes[position]} Leaves out {who} with {column} recorded for too few patients.".strip()
    results["note"] = notes


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


def _year_results(
    rows: pd.DataFrame,
    labels: dict[str, np.ndarray],
    year: int,
    indicator: IndicatorDefinition,
    output: IndicatorOutput,
    last_year: int | None = None,
    *,
    complete_until: date,
):
    period = _period(indicator, year, last_year, complete_until)
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
        if level != "national":
            _funnel(table, level, label, indicator, counts, rate, output)
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
        if not period["flaggable"]:  # a part-period too short to judge: no limits, no flags, and why
            table[[*result_fields.LIMITS, "z"]] = np.nan
            table["flag"] = "none"
    if not period["flaggable"]:
        output.funnels[:] = [fit for fit in output.funnels if fit["period"] != label]
    return frames


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


def quarter_label(quarter: int) -> tuple[str, date]:
    """An NHS financial quarter numbered audit year x 4 + (0 for April-June ... 3 for January-March):
    its label ("2024/25 Q1") and first day."""
    year, index = divmod(quarter, 4)
    month = 4 + 3 * index
    return f"{period_label(year)} Q{index + 1}", date(year + (month > 12), (month - 1) % 12 + 1, 1)


def _trends(
    cohort: pd.DataFrame,
    labels: dict[str, np.ndarray],
    first_quarter: int,
    indicator: IndicatorDefinition,
    complete_until: date,
) -> list[dict[str, Any]]:
    """Quarterly values per organisation, with an XmR chart where there are enough quarters.

    Every NHS financial quarter from an organisation's first to its last with patients is a point;
    a quarter without patients is a gap (no value), which the XmR chart keeps as a gap. ``expected``
    is the sum of predicted risks (risk-adjusted) or the denominator x the overall rate. A quarter
    not wholly followed up at the extract date is ``partial`` and left out of the XmR chart."""
    kind = KINDS[indicator.kind]
    trends = []
    overall = cohort["numerator"].sum() / cohort["denominator"].sum()
    width = int(cohort["quarter"].max()) + 1 if len(cohort) else 1
    quarters = [quarter_label(first_quarter + q) for q in range(width + 1)]
    followed_up = complete_until + pd.Timedelta(days=1)
    partial = [quarters[q + 1][1] > followed_up for q in range(width)]
    for level in LEVELS:
        # One row per organisation, one column per quarter: bincounts on organisation x quarter codes.
        codes = cohort[level].to_numpy() * width + cohort["quarter"].to_numpy()
        size = len(labels[level]) * width

        def grid(name: str, codes: np.ndarray = codes, size: int = size) -> np.ndarray:
            weights = cohort[name].to_numpy(dtype=float)
            return np.bincount(codes, weights=weights, minlength=size).reshape(-1, width)

        numerators = grid("numerator").round().astype(np.int64)
        denominators = grid("denominator").round().astype(np.int64)
        expecteds = kind.expected(denominators, grid("expected"), overall)
        for row, organisation in enumerate(labels[level]):
            present = np.flatnonzero(denominators[row] > 0)
            if not present.size:
                continue
            span = slice(int(present[0]), int(present[-1]) + 1)  # first to last quarter with patients
            numerator, denominator = numerators[row, span], denominators[row, span]
            expected = np.asarray(expecteds[row, span], dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                values = kind.adjusted_rate(numerator / kind.counts(denominator, expected), overall)
            points: list[dict[str, Any]] = []
            for q, n, d, e, v in zip(
                range(span.start, span.stop), numerator, denominator, expected, values, strict=True
            ):
                label, start = quarters[q]
                points.append(
                    {
                        "quarter": label,
                        "start": start.isoformat(),
                        "numerator": int(n),
                        "denominator": int(d),
                        "expected": float(e),
                        "value": finite_or_none(v) if d > 0 else None,
                        "partial": partial[q],
                    }
                )
            chart = trend_chart([None if p["partial"] else p["value"] for p in points], indicator)
            trends.append({"level": level, "organisation": str(organisation), "points": points, "xmr": chart})
    return trends


def trend_chart(values: list[float | None], indicator: IndicatorDefinition) -> dict[str, Any] | None:
    """The XmR chart of a quarterly series in order; a None is a quarter with no value, kept as a gap
    (moving ranges only between adjacent quarters). None with fewer than three values or no two
    adjacent ones. Its points are the quarters with a value. Limits stay within what the measure
    can take (its kind's ``limits_within``: 0 to 1 for a proportion, at least 0 for a risk-adjusted rate)."""
    series = np.array([np.nan if v is None else v for v in values], dtype=float)
    finite = np.isfinite(series)
    if finite.sum() < 3 or not (finite[1:] & finite[:-1]).any():
        return None
    series = series[np.flatnonzero(finite)[0] : np.flatnonzero(finite)[-1] + 1]  # no gap at either end
    target = (indicator.standard or {}).get("value")
    chart = xmr_chart(
        series,
        improvement_direction=indicator.improvement_direction,
        target=target,
        gaps=True,
        limits_within=KINDS[indicator.kind].limits_within,
    ).as_dict()
    # One chart point per quarter with a value, in order (pages pair them so); ``x`` counts the gaps.
    chart["points"] = [point for point in chart["points"] if point["value"] is not None]
    return chart
