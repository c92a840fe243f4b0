"""Quarterly trends per organisation, with their XmR charts."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from indicators.compute.periods import quarter_label
from indicators.definitions import IndicatorDefinition
from indicators.kinds import KINDS
from indicators.levels import LEVELS
from indicators.stats.arrays import finite_or_none
from indicators.stats.spc import xmr_chart


def quarterly_trends(
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
