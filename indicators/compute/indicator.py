"""One indicator: its cohort selected from the rows (denominator, numerator, exclusions, a required field's
completeness) and counted by its kind, then its results for every audit year and all years together, and its
trends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from indicators.compute.inequalities import inequality_rows
from indicators.compute.output import RESULT_COLUMNS, IndicatorOutput
from indicators.compute.periods import audit_year, followed_up_until, pooled_window
from indicators.compute.refusals import note_exclusions, refused_results
from indicators.compute.trends import quarterly_trends
from indicators.compute.years import year_results
from indicators.definitions import IndicatorDefinition, evaluate
from indicators.headline import headline_key
from indicators.inequalities import Dimension
from indicators.kinds import KINDS
from indicators.levels import ENGLAND_CODE


def compute_indicator(
    frame: pd.DataFrame,
    indicator: IndicatorDefinition,
    *,
    extract_date: date,
    provider_column: str,
    alliance_of: dict[str, str],
    dimensions: Sequence[Dimension] = (),
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
    # Converted once: an Arrow-backed text column takes tens of milliseconds per conversion at a million rows.
    organisations = frame[provider_column].to_numpy()
    row_years = audit_year(dates).to_numpy()
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
        share = pd.Series(recorded[base]).groupby([organisations[base], row_years[base]])
        enough = share.transform("mean").to_numpy() >= indicator.requires["minimum_completeness"]
        refused[np.flatnonzero(base)[~enough]] = True
        refused_cells = pd.DataFrame(
            {
                "organisation": organisations[refused],
                "year": row_years[refused].astype(int),
                "numerator": numerator[refused].astype(np.int64),
                "denominator": denominator[refused].astype(np.int64),
                "recorded": recorded[refused].astype(np.int64),
                "base": np.ones(int(refused.sum()), dtype=np.int64),
            }
        )
        base = base & ~refused
        denominator = denominator & ~refused
        numerator = numerator & ~refused

    counted = KINDS[indicator.kind].cohort(
        indicator, frame, numerator, denominator, years=row_years, groups=organisations
    )
    if counted.unfitted:  # no model to judge by: the card says why
        return IndicatorOutput(results=pd.DataFrame(columns=RESULT_COLUMNS), model_card=counted.card)
    numerator, denominator, card = counted.numerator, counted.denominator, counted.card

    # Organisations as integer codes, so every sum below is a bincount, not a string groupby. The rows
    # are the denominator's patients and, for a required field, the base it is measured among.
    in_cohort = denominator | (base & ~refused)
    provider_codes, providers = pd.factorize(organisations[in_cohort], sort=True)
    alliance_codes, alliances = pd.factorize(pd.Series(providers).map(alliance_of).fillna("unknown"), sort=True)
    # NHS financial quarters: Q1 is April to June of the audit year.
    quarters = (row_years * 4 + (dates.dt.month.to_numpy() - 4) % 12 // 3)[in_cohort].astype(np.int64)
    first_quarter = int(quarters.min()) if len(quarters) else 0
    patient_numerator = numerator[in_cohort].astype(np.int64)
    patient_denominator = denominator[in_cohort].astype(np.int64)
    cohort = _cells(
        provider_codes,
        quarters - first_quarter,
        first_quarter,
        alliance_codes,
        numerator=patient_numerator,
        denominator=patient_denominator,
        expected=np.where(denominator, counted.expected, 0.0)[in_cohort],
        variance=np.where(denominator, counted.variance, 0.0)[in_cohort],
        recorded=recorded[in_cohort].astype(np.int64),
    )
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
    # The headline period pools every year, or the latest years the definition declares (indicators.reporting).
    window = pooled_window(indicator, span, complete_until)
    if refused.any():
        parts = [refused_results(refused_cells, cohort, labels, indicator, complete_until, window)]
    elif not years:
        return output
    else:
        parts = []
    for year, rows in cohort[cohort["year"].isin(years)].groupby("year", sort=True):
        assert isinstance(year, int | np.integer)  # the key of the whole-number year column
        parts.extend(year_results(rows, labels, int(year), indicator, output, complete_until=complete_until))
    if len(window) > 1 and years:  # audit years pooled: steadier for small trusts and rare outcomes
        pooled = cohort[cohort["year"].between(window[0], window[-1])]
        parts.extend(
            year_results(
                pooled, labels, window[0], indicator, output, last_year=window[-1], complete_until=complete_until
            )
        )
    results = pd.concat([part for part in parts if len(part)], ignore_index=True)
    if refused.any():
        note_exclusions(results, refused_cells, alliance_of, indicator, window)
        england = results[results["level"] == "national"].set_index("period")["national_value"]
        results["national_value"] = results["national_value"].fillna(results["period"].map(england))
    output.results = results[list(RESULT_COLUMNS)]
    output.trends = quarterly_trends(cohort, labels, first_quarter, indicator, complete_until)
    if dimensions:  # the breakdowns of the headline period: every audit year's patients, or the only year's
        national = results[results["level"] == "national"]
        headline = max(
            zip(national["period_start"], national["period_end"], national["period"], strict=True),
            key=lambda row: headline_key(row[0], row[1]),
        )
        in_denominator = patient_denominator > 0
        output.inequality_period = str(headline[2])
        output.inequalities = inequality_rows(
            frame,
            dimensions,
            rows=np.flatnonzero(in_cohort)[in_denominator],
            events=patient_numerator[in_denominator] > 0,
            alliance_codes=alliance_codes[provider_codes][in_denominator],
            alliances=labels["alliance"],
        )
    return output


def _cells(
    provider: np.ndarray,
    quarter: np.ndarray,
    first_quarter: int,
    alliance_of_provider: np.ndarray,
    **counts: np.ndarray,
) -> pd.DataFrame:
    """The cohort summed per organisation and quarter (the columns ``year_results``, ``quarterly_trends`` and
    ``refused_results`` read, and only ever sum): a few thousand cells instead of a row per patient.
    ``quarter`` counts from ``first_quarter`` (audit year x 4 + quarter of the year); ``base`` counts the
    patients of a cell."""
    width = int(quarter.max()) + 1 if len(quarter) else 1
    codes = provider * width + quarter
    size = (int(provider.max()) + 1 if len(provider) else 0) * width
    patients = np.bincount(codes, minlength=size)
    kept = np.flatnonzero(patients)
    cells = {name: np.bincount(codes, weights=values, minlength=size)[kept] for name, values in counts.items()}
    for name in ("numerator", "denominator", "recorded"):
        cells[name] = cells[name].round().astype(np.int64)
    providers, quarters = kept // width, kept % width
    return pd.DataFrame(
        {
            "provider": providers,
            "alliance": alliance_of_provider[providers] if len(providers) else providers,
            "national": np.zeros(len(kept), dtype=np.int64),
            "year": (quarters + first_quarter) // 4,
            "quarter": quarters,
            **cells,
            "base": patients[kept].astype(np.int64),
        }
    )


def _ignoring(condition: dict[str, Any], column: str) -> dict[str, Any]:
    """``condition`` without the tests on ``column`` among its ``all`` parts: the patients the
    denominator would take whatever ``column`` says."""
    if "all" not in condition:
        return {"all": []} if condition.get("column") == column else condition
    parts = [_ignoring(part, column) for part in condition["all"] if part.get("column") != column]
    return {"all": [part for part in parts if part != {"all": []}]}
