"""Case-mix (risk) adjustment by patient-level logistic regression.

National clinical audits such as NBOCA and NLCA fit one logistic regression of a
binary outcome (e.g. 90-day death) on case-mix factors over the whole release,
then compare each provider's observed events with its expected events, the sum of
its patients' predicted risks (see docs/domain.md §1.1, §1.2, §1.6 and §3.1).

The covariate specification is plain data, as it comes from an audit's YAML
definition::

    covariates = [
        {"column": "age", "type": "numeric", "transform": "square"},
        {"column": "sex", "type": "categorical", "reference": "M"},
        {"column": "asa", "type": "categorical", "missing": "impute"},
        {"column": "emergency", "type": "boolean"},
    ]
    interactions = [["age", "stage_m"]]

``missing`` is ``"impute"`` or ``"exclude"`` (patients with a missing value are
dropped); the default is ``"impute"`` for categorical covariates and ``"exclude"``
otherwise. Imputation never lets a missing value carry a coefficient of its own
(docs/adr/0005): the model is fitted on the patients with every covariate recorded
(complete cases; White & Carlin 2010, Statistics in Medicine 29:2920-2931, on when
that is unbiased), and a patient with a missing value gets the average of the
model's predicted risks over ``M`` draws of the missing values from recorded
patients like them: same recorded case-mix and audit year, any provider, outcome
not used (hot-deck multiple imputation within donor cells: Andridge & Little 2010,
International Statistical Review 78:40-64; van Buuren 2018, *Flexible Imputation of
Missing Data*, 2nd ed., §3.4, §5.1). The average over the draws is Rubin's (1987)
pooled point estimate of each patient's expected risk, and so of every expected
count (a sum of them).

Levels of a categorical covariate with fewer than ``MIN_LEVEL_PATIENTS`` patients,
or with no patient with (or without) the event, are pooled into an ``(other)`` level,
or into the reference level when the pool is itself too small, before fitting.

With an audit year per patient the model carries the year as a categorical term and,
last, each year's intercept is recalibrated on the logit scale so that the expected
events of that year, imputed patients included, equal its observed events
(recalibration in the large: Steyerberg 2019, *Clinical Prediction Models*, 2nd ed.,
§20.3; Spiegelhalter et al. 2012, Statistics in Medicine 31:2529-2546 on comparing
providers against a recalibrated target). England's O/E is then 1 in every year.

A ``"square"`` transform adds the covariate and its square, both centred at the mean
of the complete cases so the two terms are not nearly collinear.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
import statsmodels.api as sm
from scipy import stats
from scipy.special import expit
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    HessianInversionWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from indicators.stats.arrays import finite_or_none
from indicators.stats.risk_spec import (
    COVARIATE_KEYS,
    COVARIATE_TYPES,
    DEFAULT_MINIMUM_COMPLETENESS,
    MISSING_HANDLING,
    TRANSFORMS,
    WITHDRAWN_MISSING,
)

__all__ = [
    "IMPUTATIONS",
    "MIN_LEVEL_PATIENTS",
    "OTHER_LEVEL",
    "YEAR_TERM",
    "RiskModelError",
    "RiskModelFit",
    "build_design_matrix",
    "c_statistic",
    "expected_by_group",
    "fit_risk_model",
]

OTHER_LEVEL = "(other)"
INTERCEPT = "intercept"
YEAR_TERM = "audit_year"
IMPUTATIONS = 10  # draws per patient with a missing value (van Buuren 2018 §2.8: 5 to 20 for point estimates)
MIN_LEVEL_PATIENTS = 30  # a level with fewer patients is pooled before fitting
MIN_DONORS = 5  # a donor cell with fewer recorded patients is widened
MAX_CELL_COVARIATES = 3  # recorded covariates defining a donor cell, in the definition's order
IMPUTATION_SEED = 20181  # fixed, so a release's results are reproducible

_TYPES = set(COVARIATE_TYPES)
_KEYS = COVARIATE_KEYS
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
# A standard error this large on the log-odds scale only arises when the likelihood
# has no finite maximum (quasi-complete separation); a real effect is never that vague.
_SEPARATION_SE = 50.0
_Z95 = float(stats.norm.ppf(0.975))


class RiskModelError(ValueError):
    """The model could not be fitted; the message says why in plain words (no library text)."""


@dataclass
class _Covariate:
    column: str
    type: str
    missing: str
    transform: str | None
    reference: Any = None
    label: str = ""
    # per input row: categorical codes into ``uniques`` (-1 missing), else values (NaN missing)
    codes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    uniques: list[Any] = field(default_factory=list)
    values: np.ndarray = field(default_factory=lambda: np.empty(0))
    missing_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    n_missing: int = 0
    # learned on the complete cases
    centre: float | None = None
    group_of: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    groups: list[str] = field(default_factory=list)
    ref_group: int = 0
    dropped_levels: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)

    def raw(self, rows: np.ndarray) -> np.ndarray:
        source: np.ndarray = self.codes if self.type == "categorical" else self.values
        return np.asarray(source[rows])


@dataclass(frozen=True)
class RiskModelFit:
    """A fitted case-mix model.

    ``predicted`` holds each input row's expected risk (NaN for rows left out of the
    model; for a row with imputed values, the average over the imputations);
    ``included`` marks the rows with a prediction; ``terms`` and ``params`` are the
    design-matrix column names and log-odds estimates (before the per-year
    recalibration, which the card reports); ``card`` is the JSON-serialisable model
    card (see :func:`fit_risk_model`).
    """

    predicted: np.ndarray
    included: np.ndarray
    terms: list[str]
    params: np.ndarray
    card: dict[str, Any]


# --- specification --------------------------------------------------------------------


def _parse_spec(frame: pd.DataFrame, covariates: Sequence[Mapping[str, Any]]) -> list[_Covariate]:
    parsed: list[_Covariate] = []
    seen: set[str] = set()
    for i, spec in enumerate(covariates):
        if not isinstance(spec, Mapping) or "column" not in spec or "type" not in spec:
            raise ValueError(f"covariate {i}: needs at least 'column' and 'type'")
        unknown = set(spec) - _KEYS
        if unknown:
            raise ValueError(f"covariate {spec['column']!r}: unknown keys {sorted(unknown)}")
        column, kind = str(spec["column"]), spec["type"]
        if kind not in _TYPES:
            raise ValueError(f"covariate {column!r}: type must be one of {sorted(_TYPES)}")
        if column not in frame.columns:
            raise ValueError(f"covariate {column!r}: no such column in the data")
        if column in seen or column == YEAR_TERM:
            raise ValueError(f"covariate {column!r} is listed twice (or is the audit year)")
        seen.add(column)
        missing = spec.get("missing", "impute" if kind == "categorical" else "exclude")
        if missing in WITHDRAWN_MISSING:
            raise ValueError(f"covariate {column!r}: {WITHDRAWN_MISSING[missing]}")
        if missing not in MISSING_HANDLING:
            raise ValueError(f"covariate {column!r}: missing must be one of {', '.join(MISSING_HANDLING)}")
        transform = spec.get("transform")
        if transform is not None and (transform not in TRANSFORMS or kind != "numeric"):
            raise ValueError(f"covariate {column!r}: only numeric covariates take transform 'square'")
        if "reference" in spec and kind != "categorical":
            raise ValueError(f"covariate {column!r}: only categorical covariates take a reference")
        c = _Covariate(column, kind, missing, transform, reference=spec.get("reference"))
        c.label = column.replace("_", " ")
        _read(c, frame[column])
        parsed.append(c)
    return parsed


def _read(c: _Covariate, series: pd.Series) -> None:
    if c.type == "categorical":
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        c.codes, c.uniques = codes.astype(np.int64), list(uniques)
        c.missing_rows = codes < 0
    else:
        c.values = _as_numeric(series, c.column) if c.type == "numeric" else _as_boolean(series, c.column)
        c.missing_rows = np.isnan(c.values)


def _as_numeric(series: pd.Series, column: str) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(values) & series.notna().to_numpy()
    bad |= np.isinf(values)
    if bad.any():
        example = series[bad].iloc[0]
        raise ValueError(f"covariate {column!r}: {int(bad.sum())} values are not numbers (e.g. {example!r})")
    return values


def _as_boolean(series: pd.Series, column: str) -> np.ndarray:
    """0.0/1.0 with NaN for missing; accepts bools, 0/1 and yes/no style text."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.empty(len(uniques), dtype=np.float64)
    for j, level in enumerate(uniques):
        text = str(level).strip().lower()
        if isinstance(level, (bool, np.bool_)):
            mapped[j] = float(level)
        elif isinstance(level, (int, float, np.integer, np.floating)) and level in (0, 1):
            mapped[j] = float(level)
        elif text in _TRUE:
            mapped[j] = 1.0
        elif text in _FALSE:
            mapped[j] = 0.0
        else:
            raise ValueError(f"covariate {column!r}: {level!r} is not a yes/no value")
    out = np.full(codes.size, np.nan)
    present = codes >= 0
    out[present] = mapped[codes[present]]
    return out


def _label(level: Any) -> str:
    # A code column read with missing values becomes float (2.0); name it "2".
    if isinstance(level, (float, np.floating)) and float(level).is_integer():
        return str(int(level))
    return str(level)


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


# --- encoding learned on the complete cases -------------------------------------------


def _who(n: int) -> str:
    return "1 patient" if n == 1 else f"{n:,} patients"


def _sparse_reason(n: int, events: int, minimum: int) -> str | None:
    if n < minimum:
        return f"{_who(n)}, fewer than {minimum}"
    if events == 0:
        return f"{_who(n)}, none with the event"
    if events == n:
        return f"{_who(n)}, all with the event"
    return None


def _learn_categorical(
    c: _Covariate, series: pd.Series, fit_rows: np.ndarray, model_rows: np.ndarray, y: np.ndarray | None, minimum: int
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
        _label(v) for v in declared if v not in present and (v not in c.uniques or in_model[c.uniques.index(v)] == 0)
    ]
    index = {u: j for j, u in enumerate(c.uniques)}
    if c.reference is None:
        # Most common level as the default reference: the odds ratios of the other
        # levels are then estimated against the best-determined group.
        reference = max(levels, key=lambda lv: (n_u[index[lv]], -levels.index(lv)))
    else:
        matches = [lv for lv in levels if lv == c.reference or _label(lv) == str(c.reference)]
        if not matches:
            raise RiskModelError(
                f"{c.label}: the reference level {c.reference!r} has no patient with every case-mix "
                f"field recorded (levels: {[_label(v) for v in levels]})"
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
    c.groups = [_label(lv) for lv in kept]
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
        into = "an '(other)' level" if target != c.ref_group else f"the reference level '{_label(reference)}'"
        for lv, reason in sparse:
            group_of[index[lv]] = target
            c.merged.append(
                f"{c.label} '{_label(lv)}' ({reason}) was merged into {into}: a level needs at least "
                f"{minimum} patients, some with and some without the event, for its effect to be estimated."
            )
    # Values no complete case has (seen only with another field missing) go where sparse ones go.
    unseen = [j for j in range(width) if n_u[j] == 0 and in_model[j] > 0]
    for j in unseen:
        group_of[j] = target
        c.merged.append(
            f"{c.label} '{_label(c.uniques[j])}' ({_who(int(in_model[j]))}, none with every case-mix field "
            f"recorded) was counted with '{c.groups[target]}'."
        )
    c.group_of = group_of


def _learn(
    specs: list[_Covariate],
    frame_columns: Mapping[str, pd.Series],
    fit_rows: np.ndarray,
    model_rows: np.ndarray,
    y: np.ndarray | None,
    minimum: int,
) -> None:
    for c in specs:
        if c.type == "categorical":
            _learn_categorical(c, frame_columns[c.column], fit_rows, model_rows, y, minimum)
        elif c.transform == "square":
            c.centre = float(c.values[fit_rows].mean())


def _main_parts(c: _Covariate, raw: np.ndarray) -> list[tuple[str, np.ndarray, bool]]:
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


def _design(
    specs: list[_Covariate],
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


def _n_main(c: _Covariate) -> int:
    if c.type == "categorical":
        return len(c.groups) - 1
    return 2 if c.transform == "square" else 1


def _interaction_parts(c: _Covariate, parts: list[tuple[str, np.ndarray, bool]]) -> list[tuple[str, np.ndarray, bool]]:
    if c.type == "categorical":
        return parts
    return parts[:1]  # the linear term only: squares are not interacted


def _pairs(interactions: Sequence[Sequence[str]], specs: list[_Covariate]) -> list[tuple[str, str]]:
    by_column = {c.column for c in specs}
    pairs: list[tuple[str, str]] = []
    for pair in interactions:
        if len(pair) != 2:
            raise ValueError(f"interaction {list(pair)!r}: give exactly two column names")
        a, b = str(pair[0]), str(pair[1])
        if a == b or a not in by_column or b not in by_column:
            raise ValueError(f"interaction {[a, b]!r}: both columns must be distinct, declared covariates")
        if (a, b) in pairs or (b, a) in pairs:
            raise ValueError(f"interaction {[a, b]!r} is listed twice")
        pairs.append((a, b))
    return pairs


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
    specs = _parse_spec(frame, covariates)
    pairs = _pairs(interactions, specs)
    keep = np.ones(len(frame), dtype=bool)
    for c in specs:
        keep &= ~c.missing_rows
    if not keep.any():
        raise ValueError("no patient has every covariate recorded")
    _learn(specs, {c.column: frame[c.column] for c in specs}, keep, keep, None, 0)
    rows = np.flatnonzero(keep)
    X, names, _, dropped = _design(specs, pairs, {c.column: c.raw(rows) for c in specs}, rows.size)
    report = {
        "n_rows": len(frame),
        "n_complete": int(keep.sum()),
        "covariates": {c.column: {"n_missing": int(c.missing_rows.sum()), "handling": c.missing} for c in specs},
        "dropped_levels": {c.column: c.dropped_levels for c in specs if c.dropped_levels},
        "dropped_terms": dropped,
    }
    return X, names, keep, report


# --- imputation ----------------------------------------------------------------------------


def _cells(c: _Covariate, complete: np.ndarray) -> np.ndarray:
    """Donor-cell code of every row for one covariate (-1 where missing): its level, or its
    fifth of the complete cases' distribution for a number."""
    if c.type == "categorical":
        return c.codes
    if c.type == "boolean":
        return np.where(c.missing_rows, -1, np.nan_to_num(c.values)).astype(np.int64)
    edges = np.quantile(c.values[complete], [0.2, 0.4, 0.6, 0.8])
    return np.where(c.missing_rows, -1, np.searchsorted(edges, c.values, side="right")).astype(np.int64)


def _cell_key(columns: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
    key = np.zeros(rows.size, dtype=np.int64)
    for col in columns:
        part = col[rows]
        key = key * (int(col.max()) + 2) + part + 1
        if key.size and key.max() > 2**40:  # keep the mixed-radix key small
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
    return key


def _donors(
    specs: list[_Covariate],
    cells: dict[str, np.ndarray],
    year_cells: np.ndarray | None,
    complete: np.ndarray,
    recipients: np.ndarray,
    draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """For each recipient row, ``draws`` donor rows drawn at random from the complete cases
    in its donor cell: the same values of up to ``MAX_CELL_COVARIATES`` of its recorded
    covariates (in the definition's order) and the same audit year; a cell with fewer than
    ``MIN_DONORS`` donors is widened by dropping the year, then the last covariate. The
    outcome and the provider are never used. Returns an int array (recipients x draws)."""
    donor_rows = np.flatnonzero(complete)
    if year_cells is not None:
        cells = {**cells, YEAR_TERM: year_cells}
    out = np.empty((recipients.size, draws), dtype=np.int64)
    pattern = np.zeros(recipients.size, dtype=np.int64)
    for j, c in enumerate(specs):
        pattern |= c.missing_rows[recipients].astype(np.int64) << j
    sorted_cache: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
    for bits in np.unique(pattern):
        todo = np.flatnonzero(pattern == bits)
        recorded = [c.column for j, c in enumerate(specs) if not (int(bits) >> j) & 1]
        chosen = recorded[:MAX_CELL_COVARIATES]
        ladder = [(*chosen, YEAR_TERM)] if year_cells is not None else []
        ladder += [tuple(chosen[:k]) for k in range(len(chosen), -1, -1)]
        for names in ladder:
            if todo.size == 0:
                break
            columns = [cells[n] for n in names]
            if names not in sorted_cache:
                keys = _cell_key(columns, donor_rows)
                # small keys sort by radix (linear time) as 16-bit integers
                order = np.argsort(keys.astype(np.uint16) if keys.max() < 2**16 else keys, kind="stable")
                sorted_cache[names] = (keys[order], donor_rows[order])
            sorted_keys, sorted_rows = sorted_cache[names]
            wanted = _cell_key(columns, recipients[todo])
            lo = np.searchsorted(sorted_keys, wanted, side="left")
            count = np.searchsorted(sorted_keys, wanted, side="right") - lo
            ok = count >= (MIN_DONORS if names else 1)
            take = todo[ok]
            pick = lo[ok, None] + (rng.random((take.size, draws)) * count[ok, None]).astype(np.int64)
            out[take] = sorted_rows[pick]
            todo = todo[~ok]
    return out


def _imputed_raw(c: _Covariate, recipients: np.ndarray, donors: np.ndarray) -> np.ndarray:
    own = c.raw(recipients)
    if not c.missing_rows[recipients].any():
        return own
    return np.where(c.missing_rows[recipients], c.raw(donors), own)


# --- recalibration ---------------------------------------------------------------------------


def _recalibrate(
    eta: np.ndarray, weight: np.ndarray, stratum: np.ndarray, observed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-stratum shift δ of the log-odds with Σ weight·expit(η + δ) = observed events.

    Newton's method on a sum of logistic functions (increasing and convex-concave in δ,
    one root); strata with no events or only events are left unshifted. Returns
    ``(delta, solvable)``.
    """
    size = observed.size
    totals = np.bincount(stratum, weights=weight, minlength=size)
    solvable = (observed > 0) & (observed < totals - 1e-9)
    delta = np.zeros(size)
    for _ in range(100):
        p = expit(eta + delta[stratum])
        gap = np.bincount(stratum, weights=weight * p, minlength=size) - observed
        slope = np.bincount(stratum, weights=weight * p * (1 - p), minlength=size)
        gap[~solvable] = 0.0
        if np.all(np.abs(gap) <= 1e-11 * np.maximum(observed, 1.0)):
            break
        delta -= np.where(solvable, gap / np.where(slope > 0, slope, 1.0), 0.0)
    return delta, solvable


# --- completeness ----------------------------------------------------------------------------


def _completeness(specs: list[_Covariate], rows: np.ndarray, groups: Any, minimum: float) -> dict[str, Any]:
    """Share of patients with each covariate recorded, in England and per group, and the
    caveat of each group below ``minimum`` for any covariate."""
    labels = groups.to_numpy() if isinstance(groups, (pd.Series, pd.Index)) else np.asarray(groups)
    codes, names = pd.factorize(labels[rows], sort=True, use_na_sentinel=False)
    size = np.bincount(codes, minlength=len(names)).astype(np.float64)
    national = {c.column: float(1 - c.missing_rows[rows].mean()) if rows.size else None for c in specs}
    share = {c.column: 1 - np.bincount(codes, weights=c.missing_rows[rows], minlength=len(names)) / size for c in specs}
    by_group = {str(g): {c.column: float(share[c.column][k]) for c in specs} for k, g in enumerate(names)}
    caveats: dict[str, str] = {}
    for g, values in by_group.items():
        low = [c for c in specs if values[c.column] < minimum]
        if not low:
            continue
        # The trust's own share is not in the words: per-trust completeness is for the audit's analysts and
        # alliance leads (accounts.roles.quality_by_trust_scope), while a caveat is shown to every reader.
        listed = "; ".join(f"{c.label} (England {national[c.column] or 0:.0%})" for c in low)
        imputed = [c.label for c in low if c.missing == "impute"]
        excluded = [c.label for c in low if c.missing == "exclude"]
        consequence = []
        if imputed:
            consequence.append(
                f"missing {', '.join(imputed)} values were filled in from similar patients across England, "
                "so the expected count assumes this trust's unrecorded patients resemble them"
            )
        if excluded:
            consequence.append(f"patients without {', '.join(excluded)} are left out of this result")
        caveats[g] = (
            f"Case-mix data incomplete: fewer than {minimum:.0%} of this trust's patients have {listed} recorded, "
            f"below what this indicator asks for; "
            f"{' and '.join(consequence)}. Read this result with caution."
        )
    return {"national": national, "by_group": by_group, "caveats": caveats}


# --- performance measures --------------------------------------------------------------


def _binary_outcome(y: Any, name: str = "outcome") -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype == bool:
        return arr.astype(np.float64)
    arr = arr.astype(np.float64)
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name} must be 0/1 or True/False")
    return arr


def c_statistic(y: Any, p: Any) -> float:
    """Area under the ROC curve (c-statistic) by the Mann–Whitney rank formula.

    AUC = (R₁ − n₁(n₁+1)/2) / (n₁·n₀), where R₁ is the sum of the mid-ranks of the
    predicted risks of patients with the event; mid-ranks count a tied
    event/non-event pair as one half (Hanley & McNeil 1982, Radiology 143:29-36).
    Raises ValueError unless both outcomes occur.
    """
    outcome = _binary_outcome(y)
    risk = np.asarray(p, dtype=np.float64)
    if outcome.shape != risk.shape or outcome.ndim != 1:
        raise ValueError("y and p must be one-dimensional and the same length")
    if not np.all(np.isfinite(risk)):
        raise ValueError("p must be finite")
    n1 = float(outcome.sum())
    n0 = float(outcome.size - n1)
    if n1 == 0 or n0 == 0:
        raise ValueError("the c-statistic needs patients both with and without the event")
    ranks = stats.rankdata(risk, method="average")
    return float((ranks @ outcome - n1 * (n1 + 1) / 2) / (n1 * n0))


def _risk_groups(p: np.ndarray, groups: int = 10) -> np.ndarray:
    """Equal-sized groups by rank of predicted risk (sizes differ by at most one).

    Ranking rather than cutting at quantiles keeps ten groups even when many
    patients share a predicted risk (a model with only categorical terms).
    """
    order = np.argsort(p, kind="stable")
    g = np.empty(p.size, dtype=np.int64)
    g[order] = (np.arange(p.size) * groups) // p.size
    return g


def _calibration(y: np.ndarray, p: np.ndarray) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    g = _risk_groups(p)
    n = np.bincount(g, minlength=10).astype(np.float64)
    expected = np.bincount(g, weights=p, minlength=10)
    observed = np.bincount(g, weights=y, minlength=10)
    present = n > 0
    table = [
        {
            "decile": int(d + 1),
            "n": int(n[d]),
            "mean_predicted": float(expected[d] / n[d]),
            "observed_rate": float(observed[d] / n[d]),
            "expected_events": float(expected[d]),
            "observed_events": int(round(observed[d])),
        }
        for d in np.flatnonzero(present)
    ]
    # Hosmer & Lemeshow (1980): Σ (O − E)² / (E·(1 − E/n)) over the risk groups,
    # referred to chi-squared on (groups − 2) degrees of freedom.
    var = expected[present] * (1 - expected[present] / n[present])
    chi2 = float(np.sum((observed[present] - expected[present]) ** 2 / var))
    df = int(present.sum() - 2)
    p_value = float(stats.chi2.sf(chi2, df)) if df > 0 else float("nan")
    return table, {"chi2": chi2, "df": df, "p": p_value, "groups": int(present.sum())}


# --- fitting ---------------------------------------------------------------------------


def _drop_separating_interactions(
    X: np.ndarray, names: list[str], binary: np.ndarray, y: np.ndarray, n_main: int
) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """Leave out 0/1 interaction columns whose patients all had, or all lacked, the event."""
    cols = [j for j in range(n_main, len(names)) if binary[j]]
    if not cols:
        return X, names, binary, []
    sub = X[:, cols]
    n_one, ev_one = sub.sum(axis=0), y @ sub
    bad = {cols[k] for k in np.flatnonzero((ev_one == 0) | (ev_one == n_one))}
    if not bad:
        return X, names, binary, []
    keep = [j for j in range(len(names)) if j not in bad]
    return np.asfortranarray(X[:, keep]), [names[j] for j in keep], binary[keep], [names[j] for j in sorted(bad)]


def _check_separation(X: np.ndarray, names: list[str], y: np.ndarray, binary: np.ndarray) -> None:
    """Refuse a fit whose maximum-likelihood estimate does not exist.

    A 0/1 column whose "1" (or "0") patients all had, or all lacked, the event
    separates the outcome; the estimate runs off to ±infinity.
    """
    if not binary.any():
        return
    cols = np.flatnonzero(binary)
    sub = X[:, cols]
    n_one = sub.sum(axis=0)
    ev_one = y @ sub
    n_zero = y.size - n_one
    ev_zero = y.sum() - ev_one
    bad = (ev_one == 0) | (ev_one == n_one) | (ev_zero == 0) | (ev_zero == n_zero)
    if bad.any():
        detail = ", ".join(
            f"{names[cols[k]]} ({_who(int(n_one[k]))}, {int(ev_one[k])} with the event)" for k in np.flatnonzero(bad)
        )
        raise RiskModelError(
            f"the risk model could not be fitted: perfect separation, the outcome is fully determined by {detail}"
        )


def _check_rank(X: np.ndarray, names: list[str]) -> None:
    xtx = X.T @ X
    scale = np.sqrt(np.diag(xtx))
    if np.any(scale == 0):
        raise RiskModelError(
            f"the risk model could not be fitted: no patient has {[names[j] for j in np.flatnonzero(scale == 0)]}"
        )
    corr = xtx / np.outer(scale, scale)
    _, r, piv = scipy.linalg.qr(corr, pivoting=True)
    diag = np.abs(np.diag(r))
    tol = diag.max() * corr.shape[0] * np.finfo(float).eps * 1e3
    rank = int((diag > tol).sum())
    if rank < X.shape[1]:
        raise RiskModelError(
            "the risk model could not be fitted: collinear terms, "
            f"{[names[j] for j in piv[rank:]]} are determined by the other case-mix factors"
        )


#: Fewest events (or non-events, whichever is rarer) per estimated coefficient for a model to be fitted.
#: Below about 5 per coefficient, logistic coefficients are biased and their intervals unreliable
#: (Vittinghoff & McCulloch 2007, Am J Epidemiol 165:710, relaxing Peduzzi et al. 1996's rule of 10).
MIN_EVENTS_PER_PARAMETER = 5


def _check_events_per_parameter(y: np.ndarray, parameters: int) -> None:
    events = int(y.sum())
    rarer = min(events, int(y.size) - events)
    if parameters and rarer < MIN_EVENTS_PER_PARAMETER * parameters:
        which = "events" if rarer == events else "patients without the event"
        raise RiskModelError(
            f"the risk model could not be fitted: {rarer} {which} among the patients with every case-mix field "
            f"recorded, too few for its {parameters} case-mix terms (at least {MIN_EVENTS_PER_PARAMETER} per term "
            "are needed for a reliable adjustment)"
        )


def _missing_sentence(c: _Covariate, draws: int) -> str:
    n = c.n_missing
    if c.missing == "exclude":
        if n == 0:
            return f"{c.label}: no missing values (patients with a missing value would be left out)."
        return f"{c.label}: {_who(n)} with a missing value were left out of the model."
    if n == 0:
        return f"{c.label}: no missing values (a missing value would be imputed)."
    return (
        f"{c.label}: {_who(n)} with a missing value were kept; the value was drawn {draws} times from "
        "recorded patients in England with the same recorded case-mix and audit year (never from the "
        "outcome), and their expected risk is the average over the draws. No coefficient is estimated "
        "from patients without the value."
    )


def _fit_logit(X: np.ndarray, y: np.ndarray, names: list[str]) -> tuple[Any, bool]:
    """Newton-Raphson maximum likelihood; failures become plain-words ``RiskModelError``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # Our own rank check replaces statsmodels' QR of the whole matrix,
            # which is the slowest step on a million rows.
            result = sm.Logit(y, X, check_rank=False).fit(method="newton", maxiter=100, disp=False)
        except PerfectSeparationError as exc:  # older statsmodels raise instead of warn
            raise RiskModelError(
                "the risk model could not be fitted: perfect separation, the case-mix factors predict the "
                "outcome exactly"
            ) from exc
        except (np.linalg.LinAlgError, ValueError, FloatingPointError, OverflowError) as exc:
            raise RiskModelError(
                "the risk model could not be fitted: the calculation broke down, usually because some "
                "groups of patients are too small"
            ) from exc
    categories = {type(w.message) for w in caught}
    if PerfectSeparationWarning in categories:
        raise RiskModelError(
            "the risk model could not be fitted: perfect separation, the case-mix factors predict the outcome exactly"
        )
    bse = np.asarray(result.bse, dtype=np.float64)
    vague = ~np.isfinite(bse) | (bse > _SEPARATION_SE)
    if vague.any():
        raise RiskModelError(
            "the risk model could not be fitted: quasi-complete separation, no finite estimate for "
            f"{[names[j] for j in np.flatnonzero(vague)]}"
        )
    converged = bool(result.mle_retvals.get("converged", False)) and not (
        {ConvergenceWarning, HessianInversionWarning} & categories
    )
    if not converged or not np.all(np.isfinite(np.asarray(result.params))):
        raise RiskModelError(
            "the risk model did not converge: its estimates had not settled after 100 steps, so its "
            "expected counts cannot be trusted"
        )
    return result, converged


def fit_risk_model(
    frame: pd.DataFrame,
    outcome: str,
    covariates: Sequence[Mapping[str, Any]],
    interactions: Sequence[Sequence[str]] = (),
    *,
    year: Any = None,
    groups: Any = None,
    minimum_completeness: float = DEFAULT_MINIMUM_COMPLETENESS,
    imputations: int = IMPUTATIONS,
    min_level_patients: int = MIN_LEVEL_PATIENTS,
    seed: int = IMPUTATION_SEED,
) -> RiskModelFit:
    """Fit a case-mix logistic regression over the whole release and describe it.

    Method: maximum-likelihood logistic regression (statsmodels ``Logit``,
    Newton–Raphson), as NBOCA and NLCA fit their risk models (docs/domain.md §1.1,
    §1.2), on the patients with every covariate recorded; patients with an imputed
    covariate get the average predicted risk over ``imputations`` hot-deck draws
    (module docstring, docs/adr/0005); sparse levels are pooled first; with ``year``
    (one audit year per row) the year is a categorical term and each year's intercept
    is recalibrated so that its expected events equal its observed events.
    Discrimination by the c-statistic (Mann–Whitney, Hanley & McNeil 1982);
    calibration by tenths of predicted risk and the Hosmer–Lemeshow test (Hosmer &
    Lemeshow 1980, 10 groups, 8 df), both over every included patient. Rows with a
    missing outcome are left out. ``groups`` (one provider per row) adds each group's
    completeness of every covariate and a caveat in words for a group below
    ``minimum_completeness``.

    The ``card`` holds: ``outcome``, ``n_rows``, ``n_patients`` (with a prediction),
    ``n_complete_cases`` (the model was fitted on them), ``n_imputed``,
    ``imputations``, ``n_events``, ``observed_rate``, ``n_excluded_missing``
    (covariates), ``n_excluded_missing_outcome``, ``missing_counts`` (per covariate),
    ``missing_handling`` (one sentence per covariate), ``merged_levels`` (per
    covariate, sentences saying what was pooled and why), ``reference_levels``,
    ``centring``, ``dropped_levels``, ``dropped_terms`` and ``dropped_term_reasons`` (term -> why),
    ``interactions``, ``audit_year`` (``term`` whether the year is in the model,
    ``recalibration`` year -> log-odds shift, ``not_recalibrated`` years with no or
    only events), ``coefficients`` (``term, estimate, std_error, odds_ratio,
    ci_lower, ci_upper, p_value``; the 95% interval is on the odds-ratio scale),
    ``c_statistic``, ``calibration`` (``decile, n, mean_predicted, observed_rate,
    expected_events, observed_events``), ``hosmer_lemeshow`` (``chi2, df, p``),
    ``converged``, ``iterations``, ``log_likelihood``, ``null_log_likelihood``,
    ``method`` and, with ``groups``, ``completeness`` (``national``: covariate ->
    share recorded; ``by_group``: group -> covariate -> share), ``minimum_completeness``
    and ``caveats`` (group -> sentence).
    Raises ``RiskModelError`` (a ValueError, its message in plain words) when nobody
    or everybody had the event, when a term separates the outcome, when terms are
    collinear or when the fit does not converge; ValueError for a malformed spec.
    """
    if outcome not in frame.columns:
        raise ValueError(f"outcome column {outcome!r} is not in the data")
    raw_outcome = frame[outcome]
    outcome_missing = raw_outcome.isna().to_numpy()
    y_all = np.zeros(len(frame))
    if (~outcome_missing).any():
        y_all[~outcome_missing] = _binary_outcome(raw_outcome[~outcome_missing].to_numpy(), f"outcome {outcome!r}")
    base = ~outcome_missing

    specs = _parse_spec(frame, covariates)
    pairs = _pairs(interactions, specs)
    columns = {c.column: frame[c.column] for c in specs}
    terms_specs = list(specs)
    year_c: _Covariate | None = None
    if year is not None:
        years = np.asarray(year, dtype=np.float64)
        if years.shape != (len(frame),):
            raise ValueError("year must give one audit year per row")
        year_c = _Covariate(YEAR_TERM, "categorical", "exclude", None, label="audit year")
        known = np.isfinite(years)
        uniques = np.unique(years[known])
        year_c.codes = np.where(known, np.searchsorted(uniques, np.nan_to_num(years)), -1).astype(np.int64)
        year_c.uniques, year_c.missing_rows = [int(u) for u in uniques], ~known
        columns[YEAR_TERM] = pd.Series(year_c.uniques, dtype=np.int64)  # the years, in order
        terms_specs.append(year_c)
    for c in terms_specs:
        c.n_missing = int((c.missing_rows & base).sum())

    included = base.copy()
    for c in terms_specs:
        if c.missing == "exclude":
            included &= ~c.missing_rows
    complete = included.copy()
    for c in specs:
        complete &= ~c.missing_rows
    if not included.any():
        raise RiskModelError(
            "the risk model could not be fitted: no patient is left once those with a missing value are left out"
        )
    if not complete.any():
        raise RiskModelError("the risk model could not be fitted: no patient has every case-mix field recorded")

    y = y_all[complete]
    n_fit, fit_events = y.size, int(y.sum())
    if fit_events == 0:
        raise RiskModelError("the risk model could not be fitted: no events, no patient in the model had the outcome")
    if fit_events == n_fit:
        raise RiskModelError("the risk model could not be fitted: every patient in the model had the outcome")

    _learn(terms_specs, columns, complete, included, y_all[complete], min_level_patients)
    fit_rows = np.flatnonzero(complete)
    X, names, binary, empty_terms = _design(terms_specs, pairs, {c.column: c.raw(fit_rows) for c in terms_specs}, n_fit)
    n_main = 1 + sum(_n_main(c) for c in terms_specs)
    X, names, binary, separating = _drop_separating_interactions(X, names, binary, y, n_main)
    _check_rank(X, names)
    _check_events_per_parameter(y, X.shape[1] - 1)
    _check_separation(X, names, y, binary)
    result, converged = _fit_logit(X, y, names)
    params = np.asarray(result.params, dtype=np.float64)
    bse = np.asarray(result.bse, dtype=np.float64)
    # Linear predictor of every included row: one for a complete case, one per draw otherwise.
    eta_fit = X @ params
    del X
    recipients = np.flatnonzero(included & ~complete)
    draws = imputations if recipients.size else 0
    eta_imp = np.empty((recipients.size, draws))
    if recipients.size:
        rng = np.random.default_rng(seed)
        cells = {c.column: _cells(c, complete) for c in specs}
        donors = _donors(specs, cells, year_c.codes if year_c else None, complete, recipients, draws, rng)
        for m in range(draws):
            raw = {c.column: _imputed_raw(c, recipients, donors[:, m]) for c in terms_specs}
            X_m, _, _, _ = _design(terms_specs, pairs, raw, recipients.size, terms=names)
            eta_imp[:, m] = X_m @ params

    # Recalibration in the large per audit year (one stratum without years), imputed rows included.
    rows = np.concatenate([fit_rows, np.repeat(recipients, draws)])
    eta = np.concatenate([eta_fit, eta_imp.ravel()])
    weight = np.concatenate([np.ones(fit_rows.size), np.full(recipients.size * draws, 1.0 / max(draws, 1))])
    if year_c is not None:
        stratum_codes, stratum_names = year_c.codes, [_label(u) for u in year_c.uniques]
    else:
        stratum_codes, stratum_names = np.zeros(len(frame), dtype=np.int64), ["all"]
    inc_rows = np.flatnonzero(included)
    observed = np.bincount(stratum_codes[inc_rows], weights=y_all[inc_rows], minlength=len(stratum_names))
    delta, solvable = _recalibrate(eta, weight, stratum_codes[rows], observed)
    p = expit(eta + delta[stratum_codes[rows]])
    predicted = np.full(len(frame), np.nan)
    predicted[fit_rows] = p[: fit_rows.size]
    if recipients.size:
        predicted[recipients] = p[fit_rows.size :].reshape(recipients.size, draws).mean(axis=1)

    y_inc, p_inc = y_all[inc_rows], predicted[inc_rows]
    n, n_events = int(inc_rows.size), int(y_inc.sum())
    z = params / bse
    coefficients = [
        {
            "term": name,
            "estimate": finite_or_none(b),
            "std_error": finite_or_none(se),
            "odds_ratio": finite_or_none(np.exp(b)),
            "ci_lower": finite_or_none(np.exp(b - _Z95 * se)),
            "ci_upper": finite_or_none(np.exp(b + _Z95 * se)),
            "p_value": finite_or_none(2 * stats.norm.sf(abs(zj))),
        }
        for name, b, se, zj in zip(names, params, bse, z, strict=True)
    ]
    calibration, hosmer_lemeshow = _calibration(y_inc, p_inc)
    why_dropped = {t: "no patient has this combination" for t in empty_terms}
    why_dropped.update({t: "its patients all had, or all lacked, the event" for t in separating})
    card: dict[str, Any] = {
        "outcome": outcome,
        "n_rows": len(frame),
        "n_patients": n,
        "n_complete_cases": int(n_fit),
        "n_imputed": int(recipients.size),
        "imputations": int(draws),
        "n_events": n_events,
        "observed_rate": n_events / n,
        "n_excluded_missing": int((base & ~included).sum()),
        "n_excluded_missing_outcome": int(outcome_missing.sum()),
        "missing_counts": {c.column: c.n_missing for c in specs},
        "missing_handling": {c.column: _missing_sentence(c, imputations) for c in specs},
        "merged_levels": {c.column: c.merged for c in terms_specs if c.merged},
        "reference_levels": {c.column: _label(c.reference) for c in specs if c.type == "categorical"},
        "centring": {c.column: c.centre for c in specs if c.centre is not None},
        "dropped_levels": {c.column: c.dropped_levels for c in specs if c.dropped_levels},
        "dropped_terms": list(why_dropped),
        "dropped_term_reasons": why_dropped,
        "interactions": [list(map(str, pair)) for pair in interactions],
        "audit_year": {
            "term": year_c is not None and len(year_c.groups) > 1,
            "recalibration": dict(sorted((s, float(d)) for s, d in zip(stratum_names, delta, strict=True))),
            "not_recalibrated": sorted(s for s, ok in zip(stratum_names, solvable, strict=True) if not ok),
        },
        "coefficients": coefficients,
        "c_statistic": c_statistic(y_inc, p_inc),
        "calibration": calibration,
        "hosmer_lemeshow": {
            "chi2": finite_or_none(hosmer_lemeshow["chi2"]),
            "df": hosmer_lemeshow["df"],
            "p": finite_or_none(hosmer_lemeshow["p"]),
        },
        "converged": converged,
        "iterations": int(result.mle_retvals.get("iterations", -1)),
        "log_likelihood": finite_or_none(result.llf),
        "null_log_likelihood": finite_or_none(
            fit_events * np.log(fit_events / n_fit) + (n_fit - fit_events) * np.log1p(-fit_events / n_fit)
        ),
        "method": (
            "Logistic regression fitted by maximum likelihood (Newton-Raphson, statsmodels Logit) on the "
            "patients in the release with every case-mix factor recorded, with the audit year as a factor. "
            "Categorical covariates use reference-level (treatment) coding; levels with fewer than "
            f"{min_level_patients} patients, or with no patient with or without the event, are merged first; "
            "squared terms are centred at the mean. A patient with a missing case-mix value is kept: the "
            f"value is drawn {imputations} times from recorded patients in England with the same recorded "
            "case-mix and audit year, and the patient's expected risk is the average over the draws. Each "
            "year's baseline is then recalibrated so that England's expected deaths equal its observed deaths "
            "in every year. Odds ratios with 95% Wald confidence intervals. Discrimination: c-statistic "
            "(area under the ROC curve, Mann-Whitney rank formula). Calibration: ten equal-sized groups by "
            "predicted risk and the Hosmer-Lemeshow test on 8 degrees of freedom. Expected events for a "
            "provider are the sum of its patients' expected risks."
        ),
    }
    if groups is not None:
        found = _completeness(specs, np.flatnonzero(base), groups, minimum_completeness)
        card["completeness"] = {"national": found["national"], "by_group": found["by_group"]}
        card["minimum_completeness"] = float(minimum_completeness)
        card["caveats"] = found["caveats"]
    return RiskModelFit(predicted=predicted, included=included, terms=list(names), params=params, card=card)


def expected_by_group(predicted: Any, groups: Any) -> pd.Series:
    """Expected events per group: the sum of predicted risks of each group's patients.

    The E of the indirectly standardised O/E ratio (docs/domain.md §3.1). Rows with
    a NaN prediction (not in the model) add nothing; a group with none of its rows
    in the model gets 0. Groups are matched to predictions by position; missing
    group labels form their own group so the totals always agree.
    """
    risk = np.asarray(predicted, dtype=np.float64)
    labels = groups.to_numpy() if isinstance(groups, (pd.Series, pd.Index)) else np.asarray(groups)
    if labels.shape != risk.shape:
        raise ValueError("predicted and groups must be the same length")
    codes, uniques = pd.factorize(labels, sort=True, use_na_sentinel=False)
    sums = np.bincount(codes, weights=np.nan_to_num(risk, nan=0.0), minlength=len(uniques))
    return pd.Series(sums, index=pd.Index(uniques, name="group"), name="expected")
