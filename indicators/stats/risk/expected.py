"""Expected events: recalibration in the large per audit year, and the sum per group.

Each year's intercept is shifted on the logit scale so that the year's expected events equal its
observed events (recalibration in the large: Steyerberg 2019, *Clinical Prediction Models*, 2nd
ed., §20.3; Spiegelhalter et al. 2012, Statistics in Medicine 31:2529-2546 on comparing providers
against a recalibrated target); a provider's expected events are the sum of its patients' risks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

__all__ = ["expected_by_group", "recalibrate"]


def recalibrate(
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
