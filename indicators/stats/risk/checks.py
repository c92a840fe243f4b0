"""Checks before a fit: separating terms, collinear terms and too few events per term."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from indicators.stats.risk.words import RiskModelError, who

__all__ = [
    "MIN_EVENTS_PER_PARAMETER",
    "check_events_per_parameter",
    "check_rank",
    "check_separation",
    "drop_separating_interactions",
]


def drop_separating_interactions(
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


def check_separation(X: np.ndarray, names: list[str], y: np.ndarray, binary: np.ndarray) -> None:
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
            f"{names[cols[k]]} ({who(int(n_one[k]))}, {int(ev_one[k])} with the event)" for k in np.flatnonzero(bad)
        )
        raise RiskModelError(
            f"the risk model could not be fitted: perfect separation, the outcome is fully determined by {detail}"
        )


def check_rank(X: np.ndarray, names: list[str]) -> None:
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


def check_events_per_parameter(y: np.ndarray, parameters: int) -> None:
    events = int(y.sum())
    rarer = min(events, int(y.size) - events)
    if parameters and rarer < MIN_EVENTS_PER_PARAMETER * parameters:
        which = "events" if rarer == events else "patients without the event"
        raise RiskModelError(
            f"the risk model could not be fitted: {rarer} {which} among the patients with every case-mix field "
            f"recorded, too few for its {parameters} case-mix terms (at least {MIN_EVENTS_PER_PARAMETER} per term "
            "are needed for a reliable adjustment)"
        )
