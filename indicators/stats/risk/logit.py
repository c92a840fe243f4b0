"""The maximum-likelihood logistic fit, its failures said in plain words."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    HessianInversionWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from indicators.stats.risk.words import RiskModelError

__all__ = ["fit_logit"]

# A standard error this large on the log-odds scale only arises when the likelihood
# has no finite maximum (quasi-complete separation); a real effect is never that vague.
_SEPARATION_SE = 50.0


def fit_logit(X: np.ndarray, y: np.ndarray, names: list[str]) -> tuple[Any, bool]:
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
