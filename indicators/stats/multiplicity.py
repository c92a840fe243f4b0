"""Many units compared at once: false-discovery rates and the flags chance alone gives.

A funnel plot tests every unit against the same target, so with m units some fall outside the 95% limits by
chance alone: about m × 0.05 alerts and m × 0.002 alarms when no unit differs (HQIP, "Detection and management of
outliers", 2011/2025; Spiegelhalter DJ 2005, "Funnel plots for comparing institutional performance", Stat Med
24:1185-1202). The Benjamini-Hochberg q-value says instead what share of the units flagged at a level are
expected to be false discoveries (Benjamini Y & Hochberg Y 1995, "Controlling the false discovery rate: a practical
and powerful approach to multiple testing", JRSS B 57:289-300; for provider comparisons Jones HE, Ohlssen DI &
Spiegelhalter DJ 2008, "Use of the false discovery rate when comparing multiple health care providers", J Clin
Epidemiol 61:232-240).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .arrays import FloatArray, as_float

__all__ = [
    "FalseDiscoveries",
    "benjamini_hochberg",
    "two_sided_p",
    "tails_of_z",
    "ChanceFlags",
    "expected_chance_flags",
]


@dataclass(frozen=True, eq=False)
class FalseDiscoveries:
    """Result of :func:`benjamini_hochberg`, per test in input order: ``q_values`` (NaN where the p-value is
    missing) and ``discoveries`` (q <= ``fdr``; False where missing). ``tests`` is m, the number of p-values
    present; ``count`` the number of discoveries."""

    fdr: float
    tests: int
    q_values: FloatArray = field(repr=False)
    discoveries: NDArray[np.bool_] = field(repr=False)

    @property
    def count(self) -> int:
        return int(self.discoveries.sum())


def benjamini_hochberg(p_values: ArrayLike, fdr: float = 0.05) -> FalseDiscoveries:
    """Benjamini-Hochberg (1995) adjusted p-values (q-values) and the discoveries at false-discovery rate ``fdr``.

    With the m present p-values in increasing order p₍₁₎ <= … <= p₍ₘ₎, q₍ᵢ₎ = min over j >= i of
    min(1, m·p₍ⱼ₎/j). The step-up procedure (reject H₍₁₎ … H₍ₖ₎ for the largest k with p₍ₖ₎ <= k·fdr/m) rejects
    exactly the tests with q <= fdr. Missing p-values (NaN) stay NaN, are never discoveries and do not count in m.
    The same as ``statsmodels.stats.multitest.multipletests(method="fdr_bh")`` and R's ``p.adjust(method="BH")``
    on the present values. Raises ``ValueError`` for a p-value outside [0, 1] or ``fdr`` outside (0, 1).
    """
    if not 0.0 < fdr < 1.0:
        raise ValueError("fdr must be in (0, 1)")
    p = as_float(p_values)
    present = ~np.isnan(p)
    values = p[present]
    if np.any((values < 0.0) | (values > 1.0)):
        raise ValueError("p-values must lie in [0, 1]")
    m = int(values.size)
    q = np.full(p.shape, np.nan)
    if m:
        order = np.argsort(values, kind="stable")
        scaled = values[order] * m / np.arange(1, m + 1)
        # The running minimum from the largest p-value down makes q monotone in p (the step-up).
        adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
        q_present = np.empty(m)
        q_present[order] = adjusted
        q[present] = q_present
    with np.errstate(invalid="ignore"):
        discoveries = np.asarray(q <= fdr, dtype=bool)
    return FalseDiscoveries(float(fdr), m, q, discoveries)


def two_sided_p(p_low: ArrayLike, p_high: ArrayLike) -> FloatArray:
    """Two-sided p-value from a unit's two one-sided tail probabilities (e.g. the mid-p tails of
    :func:`.tails.midp_tails`): min(1, 2·min(p_low, p_high)), the doubling rule for discrete tests (Agresti A
    2013, Categorical Data Analysis, 3rd ed., Wiley). NaN where either tail is missing."""
    lo, hi = np.broadcast_arrays(as_float(p_low), as_float(p_high))
    with np.errstate(invalid="ignore"):
        return np.asarray(np.minimum(1.0, 2.0 * np.minimum(lo, hi)), dtype=float)


def tails_of_z(z: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """The one-sided tail probabilities ``(p_low, p_high)`` behind a signed normal score: Φ(z) and Φ(−z). For a
    funnel's ``z`` (:func:`.tails.midp_z`, the normal score of the smaller mid-p tail) they give that tail back
    exactly, and the other as its normal reflection; :func:`two_sided_p` of them is 2·Φ(−|z|). NaN stays NaN."""
    from scipy import special

    values = as_float(z)
    return np.asarray(special.ndtr(values), dtype=float), np.asarray(special.ndtr(-values), dtype=float)


@dataclass(frozen=True)
class ChanceFlags:
    """Result of :func:`expected_chance_flags` for ``units`` units compared: the expected numbers of units beyond
    the alert and alarm limits by chance alone, and the probabilities that at least one is. Units beyond the
    alarm limits are beyond the alert limits too, so they count in both."""

    units: int
    alert_level: float
    alarm_level: float
    expected_alerts: float
    expected_alarms: float
    any_alert: float
    any_alarm: float


def expected_chance_flags(units: int, alert_level: float = 0.95, alarm_level: float = 0.998) -> ChanceFlags:
    """Flags chance alone gives among ``units`` units that all meet the target, with two-sided alert (95%) and
    alarm (99.8%) limits (HQIP outlier guidance; Spiegelhalter 2005).

    Each unit falls beyond the limits of level L with probability 1 − L, so the expected number is
    m·(1 − L) (m·0.05 alerts, m·0.002 alarms) and, treating units as independent, the probability of at least
    one is 1 − L^m (computed as −expm1(m·log L) for accuracy).
    """
    if isinstance(units, bool) or not isinstance(units, int | np.integer) or units < 0:
        raise ValueError("units must be a whole number >= 0")
    for level in (alert_level, alarm_level):
        if not 0.0 < level < 1.0:
            raise ValueError("levels must be in (0, 1)")
    m = int(units)
    return ChanceFlags(
        units=m,
        alert_level=float(alert_level),
        alarm_level=float(alarm_level),
        expected_alerts=m * (1.0 - alert_level),
        expected_alarms=m * (1.0 - alarm_level),
        any_alert=-math.expm1(m * math.log(alert_level)),
        any_alarm=-math.expm1(m * math.log(alarm_level)),
    )
