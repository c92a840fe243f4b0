"""One indicator's inequality breakdowns: its numerator and denominator per group of each declared dimension
(deprivation, age band, sex, ethnicity: ``indicators.inequalities``) for England and each Cancer Alliance, in
the headline period, with each group's proportion and Wilson interval; for deprivation, the slope index of
inequality and the gap between the most and the least deprived (``indicators.stats.inequality``).

The values are crude proportions (numerator / denominator) whatever the indicator's kind: a risk-adjusted
indicator's breakdown shows who has the outcome, not who has more than expected.

:func:`protect_inequalities` then decides what everyone but the audit's analysts sees, under the rule of
``indicators.disclosure``: England's rows are published as computed; an alliance's group whose numerator,
denominator or complement is 1-7 is hidden (primary suppression), and further groups are hidden until no
published total gives a hidden one back (secondary suppression): the alliance's total (its published result)
less its shown groups, and England's group less the alliances' shown groups. A shown alliance row is published
with counts rounded to the nearest 5 and figures computed from them; its SII and gap only when none of its
ordered groups is hidden.

Pure: numpy and pandas, one bincount per dimension over the cohort (no loop over patients).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from indicators.inequalities import NOT_KNOWN, ORDERED, Dimension
from indicators.levels import ALLIANCE, ENGLAND_CODE, NATIONAL
from indicators.stats.arrays import finite_or_none
from indicators.stats.inequality import group_proportions, slope_index
from indicators.stats.suppression import (
    SuppressionPolicy,
    primary_suppression,
    rounded_counts,
    secondary_suppression,
)

INEQUALITY_COLUMNS = (
    "dimension",
    "level",
    "organisation",
    "position",
    "group",
    "numerator",
    "denominator",
    "value",
    "ci_lower",
    "ci_upper",
    "sii",
    "sii_lower",
    "sii_upper",
    "gap",
)
#: The figures of a row everyone but the analysts sees from its ``public`` field.
PUBLIC_FIGURES = ("numerator", "denominator", "value", "ci_lower", "ci_upper", "sii", "sii_lower", "sii_upper", "gap")
# As indicators.disclosure: a hidden cell with no event, or all, protects nothing; chosen last.
_UNINFORMATIVE = 1e12


def _group_codes(values: pd.Series, dimension: Dimension) -> np.ndarray:
    """Each row's group index in ``dimension``; ``len(dimension.groups)`` for "Not known"."""
    missing = len(dimension.groups)
    if dimension.banded:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        bounds = np.array([low for low, _ in dimension.groups], dtype=float)
        codes = np.clip(np.searchsorted(bounds, numbers, side="right") - 1, 0, None)
        return np.where(np.isnan(numbers), missing, codes).astype(np.int64)
    wanted = [str(value) for value, _ in dimension.groups]
    as_text = values.astype(object).where(values.notna(), None).map(lambda v: None if v is None else str(v))
    codes = pd.Categorical(as_text, categories=wanted).codes.astype(np.int64)
    return np.where(codes < 0, missing, codes)


def inequality_rows(
    frame: pd.DataFrame,
    dimensions: Sequence[Dimension],
    *,
    rows: np.ndarray,
    events: np.ndarray,
    alliance_codes: np.ndarray,
    alliances: np.ndarray,
) -> pd.DataFrame:
    """The breakdowns of the patients at positions ``rows`` of ``frame`` (the denominator; ``events`` says which
    have the outcome), for England and by alliance (``alliances[alliance_codes]`` is each one's), in
    ``INEQUALITY_COLUMNS``."""
    events = events.astype(float)
    parts = []
    for dimension in dimensions:
        codes = _group_codes(frame[dimension.column].iloc[rows], dimension)
        width = len(dimension.groups) + 1
        labels = [*dimension.labels, NOT_KNOWN]
        by_alliance = (
            np.bincount(alliance_codes * width + codes, weights=events, minlength=len(alliances) * width),
            np.bincount(alliance_codes * width + codes, minlength=len(alliances) * width).astype(float),
        )
        national = (np.bincount(codes, weights=events, minlength=width), np.bincount(codes, minlength=width))
        keep = width if national[1][-1] > 0 else width - 1  # "Not known" only when someone is not known
        organisations = [(NATIONAL, ENGLAND_CODE, national[0], national[1].astype(float))]
        organisations += [
            (ALLIANCE, str(code), by_alliance[0][i * width :][:width], by_alliance[1][i * width :][:width])
            for i, code in enumerate(alliances)
        ]
        for level, organisation, x, n in organisations:
            x, n = x[:keep], n[:keep]
            table = _table(dimension, level, organisation, x, n, labels[:keep])
            parts.append(table)
    if not parts:
        return pd.DataFrame(columns=INEQUALITY_COLUMNS)
    return pd.concat(parts, ignore_index=True)[list(INEQUALITY_COLUMNS)]


def _table(dimension: Dimension, level: str, organisation: str, x: np.ndarray, n: np.ndarray, labels: list[str]):
    shown = group_proportions(x, n)
    sii, gap = _slope(dimension, x, n, shown.value)
    return pd.DataFrame(
        {
            "dimension": dimension.name,
            "level": level,
            "organisation": organisation,
            "position": np.arange(len(labels)),
            "group": labels,
            "numerator": x.round().astype(np.int64),
            "denominator": n.round().astype(np.int64),
            "value": shown.value,
            "ci_lower": shown.lower,
            "ci_upper": shown.upper,
            "sii": sii[0],
            "sii_lower": sii[1],
            "sii_upper": sii[2],
            "gap": gap,
        }
    )


def _slope(dimension: Dimension, x: np.ndarray, n: np.ndarray, value: np.ndarray) -> tuple[tuple[float, ...], float]:
    """SII (value, lower, upper) and most-minus-least deprived gap of the ordered groups; NaN elsewhere."""
    if dimension.name != ORDERED:
        return (np.nan, np.nan, np.nan), np.nan
    ordered = len(dimension.groups)
    slope = slope_index(x[:ordered], n[:ordered])
    return (slope.sii, slope.lower, slope.upper), float(value[0] - value[ordered - 1])


def protect_inequalities(rows: pd.DataFrame, policy: SuppressionPolicy) -> pd.DataFrame:
    """``rows`` with ``suppressed`` (hidden from everyone but the analysts) and ``public`` (what they see of a
    shown alliance row; None for England and hidden rows). See the module's docstring for the rule."""
    rows = rows.reset_index(drop=True)
    if not len(rows):
        return rows.assign(suppressed=pd.Series(dtype=bool), public=pd.Series(dtype=object))
    local = (rows["level"] == ALLIANCE).to_numpy()
    x, n = rows["numerator"].to_numpy(float), rows["denominator"].to_numpy(float)
    hidden = primary_suppression(x, n, policy) & local
    if policy.secondary:
        uninformative = (x == 0) | (x == n)
        own = ("org|" + rows["dimension"] + "|" + rows["organisation"])[local]  # the alliance's published total
        across = "group|" + rows["dimension"] + "|" + rows["position"].astype(str)  # England's group and its parts
        keys = pd.concat([own, across])
        total_of, _ = pd.factorize(keys)
        cell_of = np.concatenate([np.flatnonzero(local), np.arange(len(rows))])
        hidden = secondary_suppression(
            hidden,
            (total_of, cell_of),
            cost=n + _UNINFORMATIVE * uninformative,
            hideable=local,
            informative=~uninformative,
        )
    rows = rows.assign(suppressed=hidden)
    public: list[dict[str, Any] | None] = [None] * len(rows)
    for _, table in rows[local].groupby(["dimension", "organisation"], sort=False):
        _public_table(table, policy, public)
    return rows.assign(public=pd.Series(public, index=rows.index, dtype=object))


def _public_table(table: pd.DataFrame, policy: SuppressionPolicy, public: list[dict[str, Any] | None]) -> None:
    """The published figures of one alliance's groups in one dimension, from counts rounded to ``policy``."""
    x = rounded_counts(table["numerator"].to_numpy(float), policy)
    n = rounded_counts(table["denominator"].to_numpy(float), policy)
    shown = group_proportions(x, n)
    hidden = table["suppressed"].to_numpy(bool)
    ordered = table["group"].to_numpy() != NOT_KNOWN
    sii: tuple[float | None, ...] = (None, None, None)
    gap: float | None = None
    if table["dimension"].iloc[0] == ORDERED and not hidden[ordered].any():
        slope = slope_index(x[ordered], n[ordered])
        sii = (finite_or_none(slope.sii), finite_or_none(slope.lower), finite_or_none(slope.upper))
        gap = finite_or_none(shown.value[ordered][0] - shown.value[ordered][-1])
    for i, index in enumerate(table.index):
        if hidden[i]:
            continue
        public[index] = {
            "numerator": int(x[i]),
            "denominator": int(n[i]),
            "value": finite_or_none(shown.value[i]),
            "ci_lower": finite_or_none(shown.lower[i]),
            "ci_upper": finite_or_none(shown.upper[i]),
            "sii": sii[0],
            "sii_lower": sii[1],
            "sii_upper": sii[2],
            "gap": gap,
        }
