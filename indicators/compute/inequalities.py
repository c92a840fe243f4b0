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
    if all(isinstance(value, int) for value, _ in dimension.groups):  # e.g. IMD quintiles: compared as numbers
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        wanted_numbers = np.array([value for value, _ in dimension.groups], dtype=float)
        order = np.argsort(wanted_numbers)
        at = np.clip(np.searchsorted(wanted_numbers[order], numbers), 0, len(order) - 1)
        found = wanted_numbers[order][at] == numbers
        return np.where(found, order[at], missing).astype(np.int64)
    wanted = [str(value) for value, _ in dimension.groups]
    as_text = values.astype(str).where(values.notna().to_numpy(), None)
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
    ``INEQUALITY_COLUMNS``. One bincount per dimension; the figures are computed on the whole table at once."""
    events = events.astype(float)
    organisations = np.array([ENGLAND_CODE, *(str(code) for code in alliances)], dtype=object)
    levels = np.array([NATIONAL] + [ALLIANCE] * len(alliances), dtype=object)
    parts = []
    for dimension in dimensions:
        codes = _group_codes(frame[dimension.column].iloc[rows], dimension)
        width = len(dimension.groups) + 1
        size = len(alliances) * width
        x = np.bincount(alliance_codes * width + codes, weights=events, minlength=size).reshape(-1, width)
        n = np.bincount(alliance_codes * width + codes, minlength=size).astype(float).reshape(-1, width)
        x = np.vstack([x.sum(axis=0), x])  # England first, then each alliance
        n = np.vstack([n.sum(axis=0), n])
        keep = width if n[0, -1] > 0 else width - 1  # "Not known" only when someone is not known
        x, n = x[:, :keep], n[:, :keep]
        shown = group_proportions(x, n)
        slopes = np.full((len(organisations), 3), np.nan)
        gaps = np.full(len(organisations), np.nan)
        if dimension.name == ORDERED:
            ordered = len(dimension.groups)
            for i in range(len(organisations)):
                slope = slope_index(x[i, :ordered], n[i, :ordered])
                slopes[i] = slope.sii, slope.lower, slope.upper
            gaps = shown.value[:, 0] - shown.value[:, ordered - 1]
        labels = np.array([*dimension.labels, NOT_KNOWN][:keep], dtype=object)
        parts.append(
            pd.DataFrame(
                {
                    "dimension": dimension.name,
                    "level": np.repeat(levels, keep),
                    "organisation": np.repeat(organisations, keep),
                    "position": np.tile(np.arange(keep), len(organisations)),
                    "group": np.tile(labels, len(organisations)),
                    "numerator": x.reshape(-1).round().astype(np.int64),
                    "denominator": n.reshape(-1).round().astype(np.int64),
                    "value": shown.value.reshape(-1),
                    "ci_lower": shown.lower.reshape(-1),
                    "ci_upper": shown.upper.reshape(-1),
                    "sii": np.repeat(slopes[:, 0], keep),
                    "sii_lower": np.repeat(slopes[:, 1], keep),
                    "sii_upper": np.repeat(slopes[:, 2], keep),
                    "gap": np.repeat(gaps, keep),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=INEQUALITY_COLUMNS)
    return pd.concat(parts, ignore_index=True)[list(INEQUALITY_COLUMNS)]


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
    return rows.assign(public=pd.Series(_public(rows, local, policy), index=rows.index, dtype=object))


def _public(rows: pd.DataFrame, local: np.ndarray, policy: SuppressionPolicy) -> list[dict[str, Any] | None]:
    """The published figures of each shown alliance row, from counts rounded to ``policy`` (None elsewhere); the
    SII and gap of an alliance's deprivation groups only when none of them is hidden."""
    x = rounded_counts(rows["numerator"].to_numpy(float), policy)
    n = rounded_counts(rows["denominator"].to_numpy(float), policy)
    shown = group_proportions(x, n)
    hidden = rows["suppressed"].to_numpy(bool)
    summary: dict[str, tuple[float | None, ...]] = {}
    ordered_rows = local & (rows["dimension"] == ORDERED).to_numpy() & (rows["group"] != NOT_KNOWN).to_numpy()
    for organisation, positions in pd.Series(np.flatnonzero(ordered_rows)).groupby(
        rows["organisation"].to_numpy()[ordered_rows]
    ):
        at = positions.to_numpy()
        if hidden[at].any():
            continue
        slope = slope_index(x[at], n[at])
        gap = shown.value[at][0] - shown.value[at][-1]
        summary[str(organisation)] = tuple(finite_or_none(v) for v in (slope.sii, slope.lower, slope.upper, gap))
    public: list[dict[str, Any] | None] = [None] * len(rows)
    dimensions, organisations = rows["dimension"].to_numpy(), rows["organisation"].to_numpy()
    for i in np.flatnonzero(local & ~hidden):
        figures = summary.get(organisations[i], (None,) * 4) if dimensions[i] == ORDERED else (None,) * 4
        public[i] = {
            "numerator": int(x[i]),
            "denominator": int(n[i]),
            "value": finite_or_none(shown.value[i]),
            "ci_lower": finite_or_none(shown.lower[i]),
            "ci_upper": finite_or_none(shown.upper[i]),
            **dict(zip(("sii", "sii_lower", "sii_upper", "gap"), figures, strict=True)),
        }
    return public
