"""A field recorded too rarely: the rows of the trusts' years refused for it, and the notes on the rows that
leave their patients out."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from indicators.compute.output import RESULT_COLUMNS
from indicators.compute.periods import period_label, period_of
from indicators.definitions import IndicatorDefinition


def refused_results(
    cells: pd.DataFrame,
    cohort: pd.DataFrame,
    labels: dict[str, np.ndarray],
    indicator: IndicatorDefinition,
    complete_until: date,
    span: list[int],
) -> pd.DataFrame:
    """Rows for the trusts' years refused for a field recorded too rarely: counts and completeness,
    no value and no flag, and the reason in words. Their pooled row (``span``: the audit years the headline period
    pools) is refused too when the trust has no accepted year in it (otherwise it covers its accepted years only)."""
    assert indicator.requires is not None
    years = span
    counts = ["numerator", "denominator", "recorded", "base"]
    sums = cells.groupby(["organisation", "year"], as_index=False)[counts].sum()
    if len(years) > 1:
        in_span = cohort["year"].isin(years) & (cohort["denominator"] > 0)
        accepted = set(labels["provider"][cohort.loc[in_span, "provider"].unique()])
        whole = cells[~cells["organisation"].isin(accepted) & cells["year"].isin(years)]
        pooled = whole.groupby("organisation", as_index=False)[counts].sum()
        pooled["year"] = -1
        sums = pd.concat([sums, pooled], ignore_index=True)
    column, minimum = indicator.requires["column"], indicator.requires["minimum_completeness"]
    rows = []
    for record in sums.to_dict("records"):
        pooled_row = record["year"] == -1
        period = period_of(
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


def note_exclusions(
    results: pd.DataFrame,
    cells: pd.DataFrame,
    alliance_of: dict[str, str],
    indicator: IndicatorDefinition,
    window: list[int],
) -> None:
    """Say on England's and each alliance's rows (and a trust's pooled row, of the audit years ``window``) which
    refused trusts' patients they leave out."""
    assert indicator.requires is not None
    column = indicator.requires["column"]
    year = pd.to_datetime(results["period_start"]).dt.year.to_numpy()
    pooled = results["period"].astype(str).str.contains("-").to_numpy()
    notes = results["note"].astype(str).tolist()
    for position, (level, organisation) in enumerate(zip(results["level"], results["organisation"], strict=True)):
        if notes[position].startswith("Not computed"):
            continue
        left = cells[cells["year"].isin(window)] if pooled[position] else cells[cells["year"] == year[position]]
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
