"""How well a model performs: discrimination (c-statistic) and calibration (Hosmer–Lemeshow)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = ["binary_outcome", "c_statistic", "calibration_deciles"]


def binary_outcome(y: Any, name: str = "outcome") -> np.ndarray:
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
    outcome = binary_outcome(y)
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


def calibration_deciles(y: np.ndarray, p: np.ndarray) -> tuple[list[dict[str, Any]], dict[str, Any]]:
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
