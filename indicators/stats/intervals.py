"""Confidence intervals for a single unit's proportion, count or O/E ratio.

Pure numpy/scipy. Every function accepts scalars or array-likes and returns
numpy arrays (0-d for scalar input). Undefined results (zero or missing
denominators, negative counts, numerators above denominators) are NaN rather
than exceptions, so that a whole table of units can be processed in one call.

Methods follow PHEindicatormethods (ukhsa-collaboration/PHEindicatormethods,
``R/utils.R`` and ``R/ISRatio.R``), i.e. the Fingertips technical guidance:

* Wilson score interval without continuity correction (Wilson 1927;
  Newcombe & Altman 2000) for proportions;
* exact Poisson limits through the chi-square distribution (Ulm 1990) and
  Byar's approximation (Breslow & Day 1987) for counts, with PHE's rule of
  using the exact method below 10 events and Byar's from 10 upwards.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from .arrays import FloatArray, as_float

__all__ = [
    "Z95",
    "Z998",
    "normalise_confidence",
    "z_for",
    "wilson_interval",
    "exact_poisson_interval",
    "byars_interval",
    "poisson_count_interval",
    "ratio_interval",
]

#: Two-sided 95% normal quantile, ``scipy.stats.norm.ppf(0.975)``. FunnelPlotR
#: hard-codes the rounded 1.959964; we keep full precision.
Z95: float = 1.959963984540054
#: Two-sided 99.8% normal quantile, ``scipy.stats.norm.ppf(0.999)``
#: (FunnelPlotR: 3.090232).
Z998: float = 3.090232306167813


def normalise_confidence(confidence: float) -> float:
    """Return a two-sided confidence level as a fraction in (0, 1).

    Accepts 0.95 or 95 (PHEindicatormethods accepts both forms, so callers
    porting Fingertips specifications can pass either).
    """
    c = float(confidence)
    if c > 1.0:
        c = c / 100.0
    if not 0.0 < c < 1.0:
        raise ValueError(f"confidence must be in (0, 1) or (0, 100); got {confidence!r}")
    return c


def z_for(confidence: float) -> float:
    """Two-sided standard-normal quantile for a confidence level.

    ``z_for(0.95) == Z95`` and ``z_for(0.998) == Z998``; computed as
    ``scipy.stats.norm.ppf(0.5 + confidence / 2)`` (PHEindicatormethods uses
    ``qnorm(confidence + (1 - confidence) / 2)``, the same quantity).
    """
    c = normalise_confidence(confidence)
    return float(stats.norm.ppf(0.5 + c / 2.0))


def wilson_interval(
    numerator: ArrayLike, denominator: ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval for a proportion, without continuity correction.

    ``(2x + z² ± z·√(z² + 4x(1 − x/n))) / (2(n + z²))`` as in
    PHEindicatormethods ``wilson_lower``/``wilson_upper`` (Wilson 1927;
    Newcombe & Altman, *Statistics with confidence*, 2000). Fractional
    numerators are allowed (PHE's test data uses x = 0.445, n = 1).

    Returns proportions (not percentages). ``0/n`` gives a lower limit of
    exactly 0 and ``n/n`` an upper limit of exactly 1. NaN where n <= 0,
    x < 0, x > n or an input is missing.
    """
    z = z_for(confidence)
    x = as_float(numerator)
    n = as_float(denominator)
    x, n = np.broadcast_arrays(x, n)
    valid = (n > 0) & (x >= 0) & (x <= n)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = z * np.sqrt(z * z + 4.0 * x * (1.0 - x / n))
        centre = 2.0 * x + z * z
        scale = 2.0 * (n + z * z)
        lower = (centre - root) / scale
        upper = (centre + root) / scale
    # Rounding in z*sqrt(z*z) can leave ~1e-17 instead of the exact bound.
    lower = np.where(x == 0, 0.0, lower)
    upper = np.where(x == n, 1.0, upper)
    lower = np.where(valid, lower, np.nan)
    upper = np.where(valid, upper, np.nan)
    return lower, upper


def exact_poisson_interval(count: ArrayLike, confidence: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Exact (Garwood) Poisson limits for an observed count, via chi-square.

    Lower ``χ²_{α/2}(2x)/2`` (0 when x = 0), upper ``χ²_{1−α/2}(2x+2)/2``;
    the form used by PHEindicatormethods (``R/ISRatio.R``, Ulm 1990) and by
    FunnelPlotR. Returns limits on the *count* scale; NaN for negative or
    missing counts. Non-integer counts are accepted (the chi-square form is
    continuous in x).
    """
    alpha = 1.0 - normalise_confidence(confidence)
    x = as_float(count)
    valid = x >= 0
    with np.errstate(invalid="ignore"):
        # df = 0 is outside scipy's chi2 support; the limit is 0 by definition.
        lower = np.where(x > 0, stats.chi2.ppf(alpha / 2.0, 2.0 * np.where(x > 0, x, 1.0)) / 2.0, 0.0)
        upper = stats.chi2.ppf(1.0 - alpha / 2.0, 2.0 * np.where(valid, x, 0.0) + 2.0) / 2.0
    lower = np.where(valid, lower, np.nan)
    upper = np.where(valid, upper, np.nan)
    return lower, upper


def byars_interval(count: ArrayLike, confidence: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Byar's approximation to the Poisson limits of a count.

    Lower ``x(1 − 1/(9x) − z/(3√x))³``, upper
    ``(x+1)(1 − 1/(9(x+1)) + z/(3√(x+1)))³`` (Breslow & Day 1987, as
    PHEindicatormethods ``byars_lower``/``byars_upper``). A negative lower
    limit (very small x or high confidence) is returned as NaN, as PHE does;
    x = 0 also has an undefined lower limit. NaN for negative/missing x.
    """
    z = z_for(confidence)
    x = as_float(count)
    valid = x >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = x * (1.0 - 1.0 / (9.0 * x) - z / (3.0 * np.sqrt(x))) ** 3
        x1 = x + 1.0
        upper = x1 * (1.0 - 1.0 / (9.0 * x1) + z / (3.0 * np.sqrt(x1))) ** 3
    lower = np.where(valid & (lower >= 0), lower, np.nan)
    upper = np.where(valid, upper, np.nan)
    return lower, upper


def poisson_count_interval(count: ArrayLike, confidence: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """PHE rule for count limits: exact Poisson when x < 10, else Byar's.

    As in PHEindicatormethods ``phe_rate``/``calculate_ISRatio`` (Fingertips
    technical guidance); Byar's is accurate enough from 10 events upwards.
    """
    x = as_float(count)
    ex_lo, ex_hi = exact_poisson_interval(x, confidence)
    by_lo, by_hi = byars_interval(x, confidence)
    small = x < 10
    return np.where(small, ex_lo, by_lo), np.where(small, ex_hi, by_hi)


def ratio_interval(
    observed: ArrayLike,
    expected: ArrayLike,
    confidence: float = 0.95,
    method: Literal["exact", "phe"] = "exact",
) -> tuple[FloatArray, FloatArray]:
    """Confidence interval for an indirectly standardised ratio O/E.

    The expected count is treated as fixed, so the limits are the count
    limits of O divided by E (PHEindicatormethods ``calculate_ISRatio``).

    * ``method="exact"``: exact Poisson limits for every O.
    * ``method="phe"``: exact when O < 10, Byar's otherwise (PHE/Fingertips).

    Multiply the result by 100 for a ratio "x 100", or by a reference rate
    for an indirectly standardised rate. NaN where E <= 0 or is missing.
    """
    if method == "exact":
        lo, hi = exact_poisson_interval(observed, confidence)
    elif method == "phe":
        lo, hi = poisson_count_interval(observed, confidence)
    else:
        raise ValueError(f"unknown ratio interval method {method!r}; use 'exact' or 'phe'")
    e = as_float(expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(e > 0, lo / e, np.nan)
        upper = np.where(e > 0, hi / e, np.nan)
    return lower, upper
