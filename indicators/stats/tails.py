"""Mid-p tail probabilities of a count, the flags they decide and the limits that draw them.

A unit's count x is compared with its distribution under the target: binomial(n, θ) for a
proportion, Poisson(target·E) for an observed/expected ratio, binomial(n, target·E/n) for
an indirectly standardised proportion (Spiegelhalter 2005, Stat Med 24:1185, §2.3.2). The
one-sided mid-p values (Lancaster HO 1961, "Significance tests in discrete distributions",
JASA 56:223-234; Agresti A & Gottard A 2007, "Nonconservative exact small-sample inference
for discrete data", Comput Stat Data Anal 51:6447-6458)

    p_high = P(X > x) + ½·P(X = x),    p_low = P(X < x) + ½·P(X = x)

sum to one, so one signed normal score z = Φ⁻¹(p_low) = −Φ⁻¹(p_high) carries both: a unit is
an alert when |z| > 1.96 (its side's mid-p < 0.025) and an alarm when |z| > 3.09 (< 0.001).
Unlike the exact (conservative) tail or the interpolated quantile limits, the mid-p keeps each
side's false-flag rate close to its nominal level for discrete counts (Agresti & Gottard 2007).

:func:`midp_count_limits` draws limits that agree with those flags: the count c at which the
mid-p, interpolated linearly between neighbouring whole counts, crosses α/2. A whole count is
strictly beyond c exactly when its own mid-p is below α/2.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from .arrays import FloatArray, as_float
from .intervals import Z95, Z998

__all__ = [
    "Distribution",
    "midp_tails",
    "midp_z",
    "midp_count_limits",
    "flags_from_z",
    "isp_variance",
    "isp_probability",
]

Distribution = Literal["binomial", "poisson"]


def _pieces(dist: Distribution, size: FloatArray, prob: FloatArray):  # type: ignore[no-untyped-def]
    # (cdf, pmf, ppf) of the count; `size` is n (binomial) and `prob` θ, or `prob` the Poisson mean.
    if dist == "binomial":
        return (
            lambda k: stats.binom.cdf(k, size, prob),
            lambda k: stats.binom.pmf(k, size, prob),
            lambda q: stats.binom.ppf(q, size, prob),
        )
    if dist == "poisson":
        return (
            lambda k: stats.poisson.cdf(k, prob),
            lambda k: stats.poisson.pmf(k, prob),
            lambda q: stats.poisson.ppf(q, prob),
        )
    raise ValueError(f"unknown distribution {dist!r}")


def midp_tails(dist: Distribution, count: ArrayLike, size: ArrayLike, prob: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """One-sided mid-p values ``(p_low, p_high)`` of each count (Lancaster 1961).

    ``dist="binomial"``: X ~ binomial(size, prob); ``dist="poisson"``: X ~ Poisson(prob) (``size``
    is ignored). NaN where an input is missing or the distribution is undefined.
    """
    x, n, p = np.broadcast_arrays(as_float(count), as_float(size), as_float(prob))
    cdf, pmf, _ = _pieces(dist, n, p)
    with np.errstate(invalid="ignore"):
        mass = pmf(x)
        low = cdf(x) - 0.5 * mass
        high = 1.0 - cdf(x) + 0.5 * mass
        # sf avoids the cancellation of 1 − cdf far in the upper tail.
        high = np.where(low > 0.5, _sf(dist, x, n, p) + 0.5 * mass, high)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def _sf(dist: Distribution, x: FloatArray, n: FloatArray, p: FloatArray) -> FloatArray:
    if dist == "binomial":
        return np.asarray(stats.binom.sf(x, n, p), dtype=float)
    return np.asarray(stats.poisson.sf(x, p), dtype=float)


def midp_z(p_low: ArrayLike, p_high: ArrayLike) -> FloatArray:
    """Signed normal score of the smaller mid-p tail: Φ⁻¹(p_low) when the low tail is smaller,
    else Φ⁻¹(1 − p_high) (computed from p_high for accuracy). |z| > 1.96 exactly when that
    tail is below 0.025."""
    lo, hi = np.broadcast_arrays(as_float(p_low), as_float(p_high))
    with np.errstate(invalid="ignore"):
        return np.asarray(np.where(lo <= hi, stats.norm.ppf(lo), stats.norm.isf(hi)), dtype=float)


def flags_from_z(z: ArrayLike, z_alert: float = Z95, z_alarm: float = Z998) -> np.ndarray:
    """HQIP alert/alarm flags from a decision statistic: beyond ±3.09 alarm, beyond ±1.96 alert
    (strictly), else "none"; NaN gives "none"."""
    v = as_float(z)
    with np.errstate(invalid="ignore"):
        conditions = [v < -z_alarm, v > z_alarm, v < -z_alert, v > z_alert]
    return np.select(conditions, ["alarm_low", "alarm_high", "alert_low", "alert_high"], "none").astype(object)


def midp_count_limits(
    dist: Distribution, size: ArrayLike, prob: ArrayLike, alpha: float
) -> tuple[FloatArray, FloatArray]:
    """Counts ``(c_low, c_high)`` at which the mid-p tails cross ``alpha/2``.

    Between whole counts the mid-p is interpolated linearly, with P(X < 0) = 0 below zero and
    P(X > n) = 0 above n (binomial). So a whole count x is strictly below c_low exactly when its
    low mid-p is below α/2, and strictly above c_high exactly when its high mid-p is (the
    drawn limits and the flags of :func:`midp_z` agree). c_low may be negative and c_high above
    n, meaning no count can be flagged on that side; callers clip when drawing.
    """
    a = alpha / 2.0
    n, p = np.broadcast_arrays(as_float(size), as_float(prob))
    _, _, ppf = _pieces(dist, n, p)
    bounded = dist == "binomial"

    def low_tail(k: FloatArray) -> FloatArray:
        lo, _ = midp_tails(dist, np.maximum(k, 0.0), n, p)
        return np.where(k < 0, 0.0, lo)

    def high_tail(k: FloatArray) -> FloatArray:
        _, hi = midp_tails(dist, np.maximum(k, 0.0), n, p)
        return np.where(bounded & (k > n), 0.0, hi)

    with np.errstate(invalid="ignore", divide="ignore"):
        # Lower side: the largest k with p_low(k) < a is q or q − 1, q = the a-quantile
        # (cdf(q − 1) <= p_low(q) <= cdf(q)).
        q = ppf(a)
        k_lo = np.where(low_tail(q) < a, q, q - 1.0)
        p0, p1 = low_tail(k_lo), low_tail(k_lo + 1.0)
        c_low = k_lo + (a - p0) / (p1 - p0)
        # Upper side: the smallest k with p_high(k) < a is r or r + 1, r = the (1 − a)-quantile + 1.
        r = ppf(1.0 - a) + 1.0
        k_hi = np.where(high_tail(r - 1.0) < a, r - 1.0, np.where(high_tail(r) < a, r, r + 1.0))
        h0, h1 = high_tail(k_hi - 1.0), high_tail(k_hi)
        c_high = (k_hi - 1.0) + (h0 - a) / (h0 - h1)
    return np.asarray(c_low, dtype=float), np.asarray(c_high, dtype=float)


def isp_variance(
    expected: ArrayLike, patients: ArrayLike, target: float = 1.0, variance: ArrayLike | None = None
) -> FloatArray:
    """Variance of the observed count of an indirectly standardised proportion (Spiegelhalter
    2005, Stat Med 24:1185, §2.3.2): ``variance`` (Σp(1 − p) over the unit's patients) when
    given, else the binomial n·q(1 − q) with q = target·E/n, which is never smaller than
    Σp(1 − p) at the same mean. NaN where n or E is not positive."""
    e, n = np.broadcast_arrays(as_float(expected), as_float(patients))
    if variance is not None:
        v = np.broadcast_to(as_float(variance), e.shape)
        return np.where((e > 0) & (n > 0) & (v > 0), v, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.clip(target * e / n, 0.0, 1.0)
        return np.where((e > 0) & (n > 0), n * q * (1.0 - q), np.nan)


def isp_probability(expected: ArrayLike, patients: ArrayLike, target: float = 1.0) -> FloatArray:
    """The per-patient event probability q = target·E/n (clipped to [0, 1]) of the binomial that
    stands for an indirectly standardised proportion when Σp(1 − p) is not known."""
    e, n = np.broadcast_arrays(as_float(expected), as_float(patients))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((e > 0) & (n > 0), np.clip(target * e / n, 0.0, 1.0), np.nan)
