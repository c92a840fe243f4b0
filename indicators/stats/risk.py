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
        {"column": "asa", "type": "categorical", "missing": "category"},
        {"column": "emergency", "type": "boolean"},
    ]
    interactions = [["age", "stage_m"]]

``missing`` is ``"category"`` (missing values are modelled: their own level for a
categorical, a missing-value indicator plus mean imputation for a numeric or
boolean) or ``"exclude"`` (patients with a missing value are dropped). The default
is ``"category"`` for categorical covariates and ``"exclude"`` otherwise.
A ``"square"`` transform adds the covariate and its square, both centred at the
mean of the included patients so the two terms are not nearly collinear.
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

from indicators.stats.risk_spec import COVARIATE_KEYS, COVARIATE_TYPES, MISSING_HANDLING, TRANSFORMS

__all__ = [
    "MISSING_LEVEL",
    "RiskModelFit",
    "build_design_matrix",
    "c_statistic",
    "expected_by_group",
    "fit_risk_model",
]

MISSING_LEVEL = "(missing)"
INTERCEPT = "intercept"

_TYPES = set(COVARIATE_TYPES)
_KEYS = COVARIATE_KEYS
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
# A standard error this large on the log-odds scale only arises when the likelihood
# has no finite maximum (quasi-complete separation); a real effect is never that vague.
_SEPARATION_SE = 50.0
_Z95 = float(stats.norm.ppf(0.975))


@dataclass
class _Covariate:
    column: str
    type: str
    missing: str
    transform: str | None
    reference: Any = None
    n_missing: int = 0
    n_excluded: int = 0
    # filled while building
    main_terms: list[str] = field(default_factory=list)
    main_columns: list[np.ndarray] = field(default_factory=list)
    main_binary: list[bool] = field(default_factory=list)
    centre: float | None = None
    fill_value: float | None = None
    levels: list[Any] = field(default_factory=list)
    dropped_levels: list[str] = field(default_factory=list)


@dataclass
class _Design:
    X: np.ndarray
    names: list[str]
    keep: np.ndarray
    missing_report: dict[str, Any]
    covariates: list[_Covariate]
    dropped_terms: list[str]
    binary: np.ndarray  # which columns are 0/1 indicators


@dataclass(frozen=True)
class RiskModelFit:
    """A fitted case-mix model.

    ``predicted`` holds each input row's predicted risk (NaN for rows left out of
    the model); ``included`` marks the rows used; ``terms`` and ``params`` are the
    design-matrix column names and log-odds estimates; ``card`` is the
    JSON-serialisable model card (see :func:`fit_risk_model`).
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
        if column in seen:
            raise ValueError(f"covariate {column!r} is listed twice")
        seen.add(column)
        missing = spec.get("missing", "category" if kind == "categorical" else "exclude")
        if missing not in MISSING_HANDLING:
            raise ValueError(f"covariate {column!r}: missing must be 'category' or 'exclude'")
        transform = spec.get("transform")
        if transform is not None and (transform not in TRANSFORMS or kind != "numeric"):
            raise ValueError(f"covariate {column!r}: only numeric covariates take transform 'square'")
        if "reference" in spec and kind != "categorical":
            raise ValueError(f"covariate {column!r}: only categorical covariates take a reference")
        parsed.append(_Covariate(column, kind, missing, transform, reference=spec.get("reference")))
    return parsed


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


# --- design matrix ------------------------------------------------------------------


def _build(
    frame: pd.DataFrame,
    covariates: Sequence[Mapping[str, Any]],
    interactions: Sequence[Sequence[str]],
    base_mask: np.ndarray,
) -> _Design:
    specs = _parse_spec(frame, covariates)
    by_column = {c.column: c for c in specs}
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

    raw: dict[str, np.ndarray] = {}
    missing: dict[str, np.ndarray] = {}
    for c in specs:
        series = frame[c.column]
        if c.type == "numeric":
            raw[c.column] = _as_numeric(series, c.column)
            missing[c.column] = np.isnan(raw[c.column])
        elif c.type == "boolean":
            raw[c.column] = _as_boolean(series, c.column)
            missing[c.column] = np.isnan(raw[c.column])
        else:
            missing[c.column] = series.isna().to_numpy()
        c.n_missing = int((missing[c.column] & base_mask).sum())

    keep = base_mask.copy()
    for c in specs:
        if c.missing == "exclude":
            keep &= ~missing[c.column]
    for c in specs:
        c.n_excluded = int((missing[c.column] & base_mask & ~keep).sum()) if c.missing == "exclude" else 0
    n_keep = int(keep.sum())
    if n_keep == 0:
        raise ValueError("no patients left after excluding those with missing values")

    for c in specs:
        miss = missing[c.column][keep]
        if c.type == "categorical":
            _categorical_columns(c, frame[c.column], keep, miss)
            continue
        values = raw[c.column][keep].copy()
        indicator = None
        if c.missing == "category" and miss.any():
            observed = values[~miss]
            if observed.size == 0:
                raise ValueError(f"covariate {c.column!r}: every included value is missing")
            # Missing-indicator method: impute the observed mean (0 for a yes/no
            # flag) and give the missing patients their own term.
            c.fill_value = float(observed.mean()) if c.type == "numeric" else 0.0
            values[miss] = c.fill_value
            indicator = miss.astype(np.float64)
        if c.transform == "square":
            c.centre = float(values.mean())
            values = values - c.centre
            c.main_terms = [c.column, f"{c.column}^2"]
            c.main_columns = [values, values * values]
            c.main_binary = [False, False]
        else:
            c.main_terms = [c.column]
            c.main_columns = [values]
            c.main_binary = [c.type == "boolean"]
        if indicator is not None:
            c.main_terms.append(f"{c.column}[{MISSING_LEVEL}]")
            c.main_columns.append(indicator)
            c.main_binary.append(True)

    names = [INTERCEPT]
    columns: list[np.ndarray] = [np.ones(n_keep)]
    binary = [False]
    for c in specs:
        names.extend(c.main_terms)
        columns.extend(c.main_columns)
        binary.extend(c.main_binary)

    dropped_terms: list[str] = []
    for a, b in pairs:
        for name_a, col_a, bin_a in _interaction_parts(by_column[a]):
            for name_b, col_b, bin_b in _interaction_parts(by_column[b]):
                product = col_a * col_b
                name = f"{name_a}:{name_b}"
                # An interaction of levels nobody has together carries no information
                # and would make the design matrix singular.
                if not product.any():
                    dropped_terms.append(name)
                    continue
                names.append(name)
                columns.append(product)
                binary.append(bin_a and bin_b)

    # Column-major: each column is written contiguously, and statsmodels' Hessian
    # (w·Xᵀ)·X runs about 2.5× faster on a million rows than with a row-major X.
    X = np.empty((n_keep, len(columns)), dtype=np.float64, order="F")
    for j, col in enumerate(columns):
        X[:, j] = col

    excluded = base_mask & ~keep
    missing_report = {
        "n_rows": int(base_mask.sum()),
        "n_included": n_keep,
        "n_excluded": int(excluded.sum()),
        "covariates": {
            c.column: {
                "n_missing": c.n_missing,
                "handling": c.missing,
                "n_excluded": c.n_excluded,
            }
            for c in specs
        },
        "dropped_levels": {c.column: c.dropped_levels for c in specs if c.dropped_levels},
        "dropped_terms": dropped_terms,
    }
    return _Design(X, names, keep, missing_report, specs, dropped_terms, np.array(binary))


def _categorical_columns(c: _Covariate, series: pd.Series, keep: np.ndarray, miss: np.ndarray) -> None:
    kept = series[keep]
    codes, uniques = pd.factorize(kept, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    observed = [u for u, k in zip(uniques, counts, strict=True) if k > 0]
    levels = _level_order(series, observed)
    # Levels the data declares (a categorical dtype's categories, or values seen only
    # among excluded rows) but no included patient has: no column, just reported.
    declared = (
        list(series.cat.categories)
        if isinstance(series.dtype, pd.CategoricalDtype)
        else list(pd.unique(series.dropna()))
    )
    present = set(levels)
    c.dropped_levels = [_label(v) for v in declared if v not in present]
    level_counts = dict(zip(uniques, counts, strict=True))
    if miss.any():
        levels.append(MISSING_LEVEL)
        level_counts[MISSING_LEVEL] = int(miss.sum())
    if not levels:
        raise ValueError(f"covariate {c.column!r}: no values among included patients")

    if c.reference is None:
        # Most common level as the default reference: the odds ratios of the other
        # levels are then estimated against the best-determined group.
        # "(missing)" is only the reference when it is the only level.
        candidates = [lv for lv in levels if lv != MISSING_LEVEL] or levels
        reference = max(candidates, key=lambda lv: (level_counts[lv], -levels.index(lv)))
    else:
        matches = [lv for lv in levels if lv == c.reference or _label(lv) == str(c.reference)]
        if not matches:
            raise ValueError(
                f"covariate {c.column!r}: reference level {c.reference!r} has no included "
                f"patients (levels: {[_label(v) for v in levels]})"
            )
        reference = matches[0]
    c.reference = reference
    c.levels = levels

    # One pass: map every kept row to its level position, then set dummies.
    position = np.full(codes.size, levels.index(MISSING_LEVEL) if miss.any() else -1)
    lookup = np.array([levels.index(u) if u in levels else -1 for u in uniques], dtype=np.int64)
    has_code = codes >= 0
    position[has_code] = lookup[codes[has_code]]
    ref_pos = levels.index(reference)
    c.main_terms, c.main_columns, c.main_binary = [], [], []
    for pos, level in enumerate(levels):
        if pos == ref_pos:
            continue
        c.main_terms.append(f"{c.column}[{_label(level)}]")
        c.main_columns.append((position == pos).astype(np.float64))
        c.main_binary.append(True)


def _interaction_parts(c: _Covariate) -> list[tuple[str, np.ndarray, bool]]:
    if c.type == "categorical":
        return list(zip(c.main_terms, c.main_columns, c.main_binary, strict=True))
    # the linear term only: squares and missing indicators are not interacted
    return [(c.main_terms[0], c.main_columns[0], c.main_binary[0])]


def build_design_matrix(
    frame: pd.DataFrame,
    covariates: Sequence[Mapping[str, Any]],
    interactions: Sequence[Sequence[str]] = (),
) -> tuple[np.ndarray, list[str], np.ndarray, dict[str, Any]]:
    """Build the logistic-regression design matrix from a plain-data covariate spec.

    Returns ``(X, names, keep, missing_report)``: ``X`` is a float64 array with one
    row per kept input row (``keep.sum()`` rows) and an intercept first column;
    ``names`` are the column names (``age``, ``age^2``, ``stage[3]``,
    ``age:stage[3]``, ``asa[(missing)]``...); ``keep`` is a boolean mask over the
    input rows; ``missing_report`` gives ``n_rows``, ``n_included``, ``n_excluded``,
    per covariate ``{n_missing, handling, n_excluded}``, ``dropped_levels`` (levels
    with no included patients) and ``dropped_terms`` (all-zero interaction columns).

    Coding follows standard treatment (reference-level) contrasts as in R's
    ``glm``, with the age + age² and age × metastasis terms of the NBOCA model
    (docs/domain.md §1.1, §1.6).
    """
    design = _build(frame, covariates, interactions, np.ones(len(frame), dtype=bool))
    return design.X, design.names, design.keep, design.missing_report


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
            f"{names[cols[k]]} (n={int(n_one[k])}, events={int(ev_one[k])})" for k in np.flatnonzero(bad)
        )
        raise ValueError(
            f"perfect separation: the outcome is fully determined by {detail}; merge sparse levels or drop the term"
        )


def _check_rank(X: np.ndarray, names: list[str]) -> None:
    xtx = X.T @ X
    scale = np.sqrt(np.diag(xtx))
    if np.any(scale == 0):
        raise ValueError(f"terms with no non-zero values: {[names[j] for j in np.flatnonzero(scale == 0)]}")
    corr = xtx / np.outer(scale, scale)
    _, r, piv = scipy.linalg.qr(corr, pivoting=True)
    diag = np.abs(np.diag(r))
    tol = diag.max() * corr.shape[0] * np.finfo(float).eps * 1e3
    rank = int((diag > tol).sum())
    if rank < X.shape[1]:
        raise ValueError(
            f"collinear terms (design rank {rank} < {X.shape[1]} columns): {[names[j] for j in piv[rank:]]}"
        )


def _missing_sentence(c: _Covariate) -> str:
    n = c.n_missing
    who = "1 patient" if n == 1 else f"{n} patients"
    if c.missing == "exclude":
        if n == 0:
            return f"{c.column}: no missing values (patients with a missing value would be excluded)."
        return f"{c.column}: {who} with a missing value were excluded from the model."
    if n == 0:
        return f"{c.column}: no missing values (a missing value would be modelled as its own group)."
    if c.type == "categorical":
        return f"{c.column}: {who} with a missing value were kept as a separate '{MISSING_LEVEL}' category."
    fill = "the mean of the recorded values" if c.type == "numeric" else "'no'"
    return (
        f"{c.column}: {who} with a missing value were kept; the value was set to {fill} "
        f"and a missing-value indicator term was added."
    )


def _json_number(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def fit_risk_model(
    frame: pd.DataFrame,
    outcome: str,
    covariates: Sequence[Mapping[str, Any]],
    interactions: Sequence[Sequence[str]] = (),
) -> RiskModelFit:
    """Fit a case-mix logistic regression over the whole release and describe it.

    Method: maximum-likelihood logistic regression (statsmodels ``Logit``,
    Newton–Raphson), as NBOCA and NLCA fit their risk models (docs/domain.md §1.1,
    §1.2); discrimination by the c-statistic (Mann–Whitney, Hanley & McNeil 1982);
    calibration by tenths of predicted risk and the Hosmer–Lemeshow test
    (Hosmer & Lemeshow 1980, 10 groups, 8 df). Rows with a missing outcome are
    left out; missing covariates are handled as the specification says.

    The ``card`` holds: ``outcome``, ``n_rows``, ``n_patients``, ``n_events``,
    ``observed_rate``, ``n_excluded_missing`` (covariates),
    ``n_excluded_missing_outcome``, ``missing_counts`` (per covariate),
    ``missing_handling`` (one sentence per covariate), ``reference_levels``,
    ``centring``, ``dropped_levels``, ``dropped_terms``, ``interactions``,
    ``coefficients`` (``term, estimate, std_error, odds_ratio, ci_lower, ci_upper,
    p_value``; the 95% interval is on the odds-ratio scale), ``c_statistic``,
    ``calibration`` (``decile, n, mean_predicted, observed_rate, expected_events,
    observed_events``), ``hosmer_lemeshow`` (``chi2, df, p``), ``converged``,
    ``iterations``, ``log_likelihood``, ``null_log_likelihood`` and ``method``.
    Raises ValueError when nobody or everybody had the event, when a term separates
    the outcome, or when terms are collinear.
    """
    if outcome not in frame.columns:
        raise ValueError(f"outcome column {outcome!r} is not in the data")
    raw_outcome = frame[outcome]
    outcome_missing = raw_outcome.isna().to_numpy()
    y_all = np.full(len(frame), np.nan)
    if (~outcome_missing).any():
        y_all[~outcome_missing] = _binary_outcome(raw_outcome[~outcome_missing].to_numpy(), f"outcome {outcome!r}")

    design = _build(frame, covariates, interactions, ~outcome_missing)
    X, names, keep = design.X, design.names, design.keep
    y = y_all[keep]
    n, n_events = y.size, int(y.sum())
    if n_events == 0:
        raise ValueError(f"no events: no included patient has {outcome!r}; the model cannot be fitted")
    if n_events == n:
        raise ValueError(f"every included patient has {outcome!r}; the model cannot be fitted")
    _check_rank(X, names)
    _check_separation(X, names, y, design.binary)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # Our own rank check above replaces statsmodels' QR of the whole matrix,
            # which is the slowest step on a million rows.
            result = sm.Logit(y, X, check_rank=False).fit(method="newton", maxiter=100, disp=False)
        except PerfectSeparationError as exc:  # older statsmodels raise instead of warn
            raise ValueError(f"perfect separation: {exc}") from exc
    categories = {type(w.message) for w in caught}
    params = np.asarray(result.params, dtype=np.float64)
    bse = np.asarray(result.bse, dtype=np.float64)
    if PerfectSeparationWarning in categories:
        raise ValueError("perfect separation: the covariates predict the outcome exactly")
    vague = ~np.isfinite(bse) | (bse > _SEPARATION_SE)
    if vague.any():
        raise ValueError(
            "quasi-complete separation: no finite estimate for "
            f"{[names[j] for j in np.flatnonzero(vague)]}; merge sparse levels or drop the term"
        )
    converged = bool(result.mle_retvals.get("converged", False)) and not (
        {ConvergenceWarning, HessianInversionWarning} & categories
    )

    p_fit = expit(X @ params)
    predicted = np.full(len(frame), np.nan)
    predicted[keep] = p_fit

    z = params / bse
    coefficients = [
        {
            "term": name,
            "estimate": _json_number(b),
            "std_error": _json_number(se),
            "odds_ratio": _json_number(np.exp(b)),
            "ci_lower": _json_number(np.exp(b - _Z95 * se)),
            "ci_upper": _json_number(np.exp(b + _Z95 * se)),
            "p_value": _json_number(2 * stats.norm.sf(abs(zj))),
        }
        for name, b, se, zj in zip(names, params, bse, z, strict=True)
    ]
    calibration, hosmer_lemeshow = _calibration(y, p_fit)
    report = design.missing_report
    specs = design.covariates
    card: dict[str, Any] = {
        "outcome": outcome,
        "n_rows": len(frame),
        "n_patients": n,
        "n_events": n_events,
        "observed_rate": n_events / n,
        "n_excluded_missing": report["n_excluded"],
        "n_excluded_missing_outcome": int(outcome_missing.sum()),
        "missing_counts": {c.column: c.n_missing for c in specs},
        "missing_handling": {c.column: _missing_sentence(c) for c in specs},
        "reference_levels": {c.column: _label(c.reference) for c in specs if c.type == "categorical"},
        "centring": {c.column: c.centre for c in specs if c.centre is not None},
        "dropped_levels": report["dropped_levels"],
        "dropped_terms": report["dropped_terms"],
        "interactions": [list(map(str, pair)) for pair in interactions],
        "coefficients": coefficients,
        "c_statistic": c_statistic(y, p_fit),
        "calibration": calibration,
        "hosmer_lemeshow": {
            "chi2": _json_number(hosmer_lemeshow["chi2"]),
            "df": hosmer_lemeshow["df"],
            "p": _json_number(hosmer_lemeshow["p"]),
        },
        "converged": converged,
        "iterations": int(result.mle_retvals.get("iterations", -1)),
        "log_likelihood": _json_number(result.llf),
        "null_log_likelihood": _json_number(n_events * np.log(n_events / n) + (n - n_events) * np.log1p(-n_events / n)),
        "method": (
            "Logistic regression fitted by maximum likelihood (Newton-Raphson, statsmodels "
            "Logit) on all included patients in the release. Categorical covariates use "
            "reference-level (treatment) coding; squared terms are centred at the mean. "
            "Odds ratios with 95% Wald confidence intervals. Discrimination: c-statistic "
            "(area under the ROC curve, Mann-Whitney rank formula). Calibration: ten "
            "equal-sized groups by predicted risk and the Hosmer-Lemeshow test on 8 "
            "degrees of freedom. Expected events for a provider are the sum of its "
            "patients' predicted risks."
        ),
    }
    return RiskModelFit(
        predicted=predicted,
        included=keep,
        terms=list(names),
        params=params,
        card=card,
    )


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
