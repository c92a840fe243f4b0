"""The logistic-regression design matrix: treatment-coded levels, centred squares, interactions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from indicators.stats.risk.covariates import Covariate, parse_interactions, parse_spec
from indicators.stats.risk.levels import learn

__all__ = ["INTERCEPT", "build_design_matrix", "design", "n_main_terms"]

INTERCEPT = "intercept"


def _main_parts(c: Covariate, raw: np.ndarray) -> list[tuple[str, np.ndarray, bool]]:
    """The design columns of one covariate for rows whose raw codes/values are ``raw`` (none missing)."""
    if c.type == "categorical":
        g = c.group_of[raw]
        return [
            (f"{c.column}[{name}]", (g == k).astype(np.float64), True)
            for k, name in enumerate(c.groups)
            if k != c.ref_group
        ]
    if c.transform == "square":
        assert c.centre is not None
        v = raw - c.centre
        return [(c.column, v, False), (f"{c.column}^2", v * v, False)]
    return [(c.column, raw.astype(np.float64, copy=False), c.type == "boolean")]


def design(
    specs: list[Covariate],
    pairs: list[tuple[str, str]],
    raw: Mapping[str, np.ndarray],
    n: int,
    terms: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """Design matrix of ``n`` rows; with ``terms`` (a fitted model's), exactly those columns."""
    parts = {c.column: _main_parts(c, raw[c.column]) for c in specs}
    names, columns, binary = [INTERCEPT], [np.ones(n)], [False]
    for c in specs:
        for name, column, is_binary in parts[c.column]:
            names.append(name)
            columns.append(column)
            binary.append(is_binary)
    wanted = set(terms) if terms is not None else None
    dropped: list[str] = []
    by_column = {c.column: c for c in specs}
    for a, b in pairs:
        for name_a, col_a, bin_a in _interaction_parts(by_column[a], parts[a]):
            for name_b, col_b, bin_b in _interaction_parts(by_column[b], parts[b]):
                name = f"{name_a}:{name_b}"
                if wanted is not None and name not in wanted:
                    continue
                product = col_a * col_b
                # An interaction of levels nobody has together carries no information
                # and would make the design matrix singular.
                if wanted is None and not product.any():
                    dropped.append(name)
                    continue
                names.append(name)
                columns.append(product)
                binary.append(bin_a and bin_b)
    # Column-major: each column is written contiguously, and statsmodels' Hessian
    # (w·Xᵀ)·X runs about 2.5× faster on a million rows than with a row-major X.
    X = np.empty((n, len(columns)), dtype=np.float64, order="F")
    for j, col in enumerate(columns):
        X[:, j] = col
    if terms is not None and names != list(terms):
        order = [names.index(t) for t in terms]
        X, names = np.asfortranarray(X[:, order]), list(terms)
    return X, names, np.array(binary), dropped


def n_main_terms(c: Covariate) -> int:
    if c.type == "categorical":
        return len(c.groups) - 1
    return 2 if c.transform == "square" else 1


def _interaction_parts(c: Covariate, parts: list[tuple[str, np.ndarray, bool]]) -> list[tuple[str, np.ndarray, bool]]:
    if c.type == "categorical":
        return parts
    return parts[:1]  # the linear term only: squares are not interacted


def build_design_matrix(
    frame: pd.DataFrame,
    covariates: Sequence[Mapping[str, Any]],
    interactions: Sequence[Sequence[str]] = (),
) -> tuple[np.ndarray, list[str], np.ndarray, dict[str, Any]]:
    """Build the logistic-regression design matrix of the complete cases from a plain-data spec.

    Returns ``(X, names, keep, report)``: ``X`` is a float64 array with one row per
    input row with every covariate recorded (``keep.sum()`` rows) and an intercept
    first column; ``names`` are the column names (``age``, ``age^2``, ``stage[3]``,
    ``age:stage[3]``...); ``keep`` is a boolean mask over the input rows; ``report``
    gives ``n_rows``, ``n_complete``, per covariate ``{n_missing, handling}``,
    ``dropped_levels`` (levels with no complete case) and ``dropped_terms`` (all-zero
    interaction columns). No level is pooled here: pooling needs the outcome.

    Coding follows standard treatment (reference-level) contrasts as in R's
    ``glm``, with the age + age² and age × metastasis terms of the NBOCA model
    (docs/domain.md §1.1, §1.6).
    """
    specs = parse_spec(frame, covariates)
    pairs = parse_interactions(interactions, specs)
    keep = np.ones(len(frame), dtype=bool)
    for c in specs:
        keep &= ~c.missing_rows
    if not keep.any():
        raise ValueError("no patient has every covariate recorded")
    learn(specs, {c.column: frame[c.column] for c in specs}, keep, keep, None, 0)
    rows = np.flatnonzero(keep)
    X, names, _, dropped = design(specs, pairs, {c.column: c.raw(rows) for c in specs}, rows.size)
    report = {
        "n_rows": len(frame),
        "n_complete": int(keep.sum()),
        "covariates": {c.column: {"n_missing": int(c.missing_rows.sum()), "handling": c.missing} for c in specs},
        "dropped_levels": {c.column: c.dropped_levels for c in specs if c.dropped_levels},
        "dropped_terms": dropped,
    }
    return X, names, keep, report
