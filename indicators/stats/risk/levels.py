"""The levels of a categorical covariate, learned on the rows the model is fitted on.

The order of the levels, the reference level, and the pooling of sparse levels: a level with
fewer than ``MIN_LEVEL_PATIENTS`` patients, or with no patient with (or without) the event, is
pooled into an ``(other)`` level, or into the reference level when the pool is itself too small.
A squared number is centred at the mean of the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from indicators.stats.risk.covariates import Covariate
from indicators.stats.risk.words import RiskModelError, level_name, who

__all__ = ["MIN_LEVEL_PATIENTS", "OTHER_LEVEL", "learn"]

OTHER_LEVEL = "(other)"
MIN_LEVEL_PATIENTS = 30  # a level with fewer patients is pooled before fitting


def _level_order(series: pd.Series, observed: Sequence[Any]) -> list[Any]:
    # Keep a categorical dtype's own order (e.g. stage I..IV); otherwise sort by text
    # so the columns do not depend on row order.
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(observed)
        return [c for c in series.cat.categories if c in present]
    try:
        return sorted(observed)
    except TypeError:  # mixed types, e.g. 1 and "X"
        return sorted(observed, key=lambda v: (type(v).__name__, str(v)))


def _sparse_reason(n: int, events: int, minimum: int) -> str | None:
    if n < minimum:
        return f"{who(n)}, fewer than {minimum}"
    if events == 0:
        return f"{who(n)}, none with the event"
    if events == n:
        return f"{who(n)}, all with the event"
    return None


def _learn_categorical(
    c: Covariate, series: pd.Series, fit_rows: np.ndarray, model_rows: np.ndarray, y: np.ndarray | None, minimum: int
) -> None:
    """Levels, reference and pooling of sparse levels, from the rows the model is fitted on.

    ``y`` None (a design matrix on its own) pools nothing.
    """
    width = len(c.uniques)
    codes = c.codes[fit_rows]
    n_u = np.bincount(codes, minlength=width)
    e_u = np.bincount(codes, weights=y, minlength=width) if y is not None else None
    observed = [u for u, k in zip(c.uniques, n_u, strict=True) if k > 0]
    if not observed:
        raise RiskModelError(f"{c.label}: no patient with every case-mix field recorded has a value")
    levels = _level_order(series, observed)
    declared = list(series.cat.categories) if isinstance(series.dtype, pd.CategoricalDtype) else list(c.uniques)
    present = set(levels)
    in_model = np.bincount(c.codes[model_rows & ~c.missing_rows], minlength=width)
    c.dropped_levels = [
        level_name(v)
        for v in declared
        if v not in present and (v not in c.uniques or in_model[c.uniques.index(v)] == 0)
    ]
    index = {u: j for j, u in enumerate(c.uniques)}
    if c.reference is None:
        # Most common level as the default reference: the odds ratios of the other
        # levels are then estimated against the best-determined group.
        reference = max(levels, key=lambda lv: (n_u[index[lv]], -levels.index(lv)))
    else:
        matches = [lv for lv in levels if lv == c.reference or level_name(lv) == str(c.reference)]
        if not matches:
            raise RiskModelError(
                f"{c.label}: the reference level {c.reference!r} has no patient with every case-mix "
                f"field recorded (levels: {[level_name(v) for v in levels]})"
            )
        reference = matches[0]
    c.reference = reference

    sparse: list[tuple[Any, str]] = []
    if e_u is not None:
        for lv in levels:
            j = index[lv]
            reason = _sparse_reason(int(n_u[j]), int(round(e_u[j])), minimum)
            if lv != reference and reason is not None:
                sparse.append((lv, reason))
    kept = [lv for lv in levels if lv not in {s for s, _ in sparse}]
    c.groups = [level_name(lv) for lv in kept]
    c.ref_group = kept.index(reference)
    group_of = np.full(width, c.ref_group, dtype=np.int64)
    for g, lv in enumerate(kept):
        group_of[index[lv]] = g
    target = c.ref_group
    if sparse:
        pooled = [index[lv] for lv, _ in sparse]
        assert e_u is not None
        pool_reason = _sparse_reason(int(n_u[pooled].sum()), int(round(e_u[pooled].sum())), minimum)
        if len(sparse) > 1 and pool_reason is None:
            c.groups.append(OTHER_LEVEL)
            target = len(c.groups) - 1
        into = "an '(other)' level" if target != c.ref_group else f"the reference level '{level_name(reference)}'"
        for lv, reason in sparse:
            group_of[index[lv]] = target
            c.merged.append(
                f"{c.label} '{level_name(lv)}' ({reason}) was merged into {into}: a level needs at least "
                f"{minimum} patients, some with and some without the event, for its effect to be estimated."
            )
    # Values no complete case has (seen only with another field missing) go where sparse ones go.
    unseen = [j for j in range(width) if n_u[j] == 0 and in_model[j] > 0]
    for j in unseen:
        group_of[j] = target
        c.merged.append(
            f"{c.label} '{level_name(c.uniques[j])}' ({who(int(in_model[j]))}, none with every case-mix field "
            f"recorded) was counted with '{c.groups[target]}'."
        )
    c.group_of = group_of


def learn(
    specs: list[Covariate],
    frame_columns: Mapping[str, pd.Series],
    fit_rows: np.ndarray,
    model_rows: np.ndarray,
    y: np.ndarray | None,
    minimum: int,
) -> None:
    """Learn each covariate's levels (categorical) or centre (squared number) on ``fit_rows``; levels
    seen only in the other ``model_rows`` are counted with a learned one."""
    for c in specs:
        if c.type == "categorical":
            _learn_categorical(c, frame_columns[c.column], fit_rows, model_rows, y, minimum)
        elif c.transform == "square":
            c.centre = float(c.values[fit_rows].mean())
