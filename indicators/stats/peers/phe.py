"""PHEindicatormethods (Fingertips) funnels, reproduced to validate the engine against its peer.

Used by the tests only (tests/stats/test_funnel.py, test_reference_values.py compare them with the peer's
published outputs): the engine's funnels are :mod:`indicators.stats.funnel` and :mod:`..analysis`, and no
application module imports this package (an import-linter contract in pyproject.toml). Kept in
``indicators.stats`` so that it stays pure and strictly typed like the code it checks.

Source: PHEindicatormethods (ukhsa-collaboration/PHEindicatormethods v2.1.0, ``R/Funnels.R``,
``R/utils.R``): bisection Poisson funnels, the funnel x grid, rate denominators and the significance
labels used by Fingertips.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from ..arrays import FloatArray, as_float
from ..funnel import proportion_limits
from ..intervals import normalise_confidence, ratio_interval

__all__ = [
    "PHE_SIGNIFICANCE_LABELS",
    "PheRatioFunnelLimits",
    "phe_ratio_funnel_limits",
    "phe_funnel_grid",
    "phe_rate_denominators",
    "phe_funnel_significance",
]

#: Labels of PHEindicatormethods ``assign_funnel_significance``.
PHE_SIGNIFICANCE_LABELS = (
    "High (0.001)",
    "High (0.025)",
    "Not significant",
    "Low (0.025)",
    "Low (0.001)",
)
PHE_DSR_NOT_APPLICABLE = "Not applicable for events less than 10 for dsrs"


class PheRatioFunnelLimits(NamedTuple):
    """PHE Poisson funnel limits at given observed counts.

    ``lower_expected``: expected count E at which O sits exactly on the lower
    limit (``*_exp_events`` in PHE's output); ``lower`` = O / that E (the
    ratio limit; ×100 gives PHE's ``*_isr``, −1 its ``*_count``). Likewise
    for the upper limit.
    """

    lower_expected: FloatArray
    lower: FloatArray
    upper_expected: FloatArray
    upper: FloatArray


def _phe_poisson_bisection(observed: FloatArray, p: float, side: Literal["low", "high"]) -> FloatArray:
    """Vectorised port of the bisection in PHEindicatormethods ``poisson_funnel``.

    The search variable v in (0, 1) maps to E = (1 + O)·v/(1 − v); halving
    the step from 0.5 until it is <= 1e-7 (23 steps) follows the peer (and
    the Fingertips Excel macro it came from) so that results agree to the
    bisection's own precision. ``side="low"`` solves P(X >= O | E) = p (the
    small E of the upper limit), ``side="high"`` solves P(X <= O | E) = p.
    """
    v: FloatArray = np.full(observed.shape, 0.5)
    dv = 0.5
    while dv > 1e-7:
        dv /= 2.0
        mean = (1.0 + observed) * v / (1.0 - v)
        if side == "low":
            step_down = stats.poisson.sf(observed - 1.0, mean) > p
        else:
            step_down = stats.poisson.cdf(observed, mean) < p
        v = np.where(step_down, v - dv, v + dv)
    return (1.0 + observed) * v / (1.0 - v)


def phe_ratio_funnel_limits(observed: ArrayLike, confidence: float) -> PheRatioFunnelLimits:
    """PHE Poisson funnel limits for a grid of observed counts (bisection).

    For each whole observed count O, finds by bisection the expected count E
    at which O lies on the lower / upper exact Poisson limit, and returns
    those E with the ratio limits O/E (PHEindicatormethods
    ``calculate_funnel_limits(statistic = "ratio")`` via ``poisson_funnel``).
    The bisection converges to the exact chi-square limits
    χ²_{1−α/2}(2O+2)/2 and χ²_{α/2}(2O)/2 to about 1e-7 on the v scale.

    For rate funnels PHE divides the returned E by the average rate to get
    a population. O = 0 gives an upper limit of NaN (0/0).
    """
    conf = normalise_confidence(confidence)
    p = (1.0 - conf) / 2.0
    o = as_float(observed)
    valid = o >= 0
    o_safe = np.where(valid, o, 0.0)
    lower_e = _phe_poisson_bisection(o_safe, p, "high")
    upper_e = _phe_poisson_bisection(o_safe, p, "low")
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(valid, o_safe / lower_e, np.nan)
        upper = np.where(valid & (o_safe > 0), o_safe / upper_e, np.nan)
    return PheRatioFunnelLimits(
        lower_expected=np.where(valid, lower_e, np.nan),
        lower=lower,
        upper_expected=np.where(valid, upper_e, np.nan),
        upper=upper,
    )


def _axis_end(x: float, fraction: float, figures: int, rounding: Callable[[float], int]) -> float:
    """x·fraction rounded by ``rounding`` (down or up) to ``figures`` significant digits, counted as PHE counts
    them (the digits of the rounded whole number): the axis minimum is x·0.95 down to its leading digit, the
    maximum x·1.05 up to two digits."""
    if x == 0:
        return 0.0
    scaled = x * fraction
    step: float = 10 ** (len(str(rounding(scaled))) - figures)  # int, or float when the exponent is negative
    return rounding(scaled / step) * step


def phe_funnel_grid(
    denominators: ArrayLike,
    kind: Literal["proportion", "ratio", "rate"] = "proportion",
    *,
    average: float | None = None,
    years_of_data: float = 1.0,
    points: int = 100,
) -> FloatArray:
    """The 100-point x grid of PHEindicatormethods ``calculate_funnel_limits``.

    The axis runs from 0 (when the largest denominator is more than twice
    the smallest) or from 95% of the smallest rounded down to its leading
    digit, to 105% of the largest rounded up to two significant figures;
    points are spaced geometrically, rounded to whole numbers and forced to
    increase by at least 1. For ``kind="ratio"`` the denominators are the
    expected counts and the grid is read as observed counts (PHE's
    ``Observed_events``; its step exponent is offset by one). For
    ``kind="rate"`` the denominators are populations (derived as PHE does),
    ``average`` is the events-per-population average and the grid is of
    events; the axis is rounded per year of data.

    Reproducing this grid lets tests compare with PHE's published tables;
    for plotting our own funnels use :func:`indicators.stats.analysis.funnel_curve`.
    """
    d = as_float(denominators)
    d = d[np.isfinite(d)]
    if d.size == 0:
        raise ValueError("no finite denominators")
    lo, hi = float(d.min()), float(d.max())
    per_year = years_of_data if kind == "rate" else 1.0
    if hi > 2 * lo:
        axis_min = 0.0
    else:
        axis_min = _axis_end(lo / per_year, 0.95, 1, math.floor) * per_year
    axis_max = _axis_end(hi / per_year, 1.05, 2, math.ceil) * per_year
    if kind == "rate":
        if average is None:
            raise ValueError("rate grids need the average rate (events per population)")
        axis_min = math.floor(axis_min * average)
        axis_max = math.ceil(axis_max * average)
    offset = 1 if kind == "ratio" else 0
    grid = [max(1.0, axis_min)]
    for j in range(2, points + 1):
        prev = grid[-1]
        # Python's round() is half-to-even, the same as R's round().
        step = round((axis_max / prev) ** (1.0 / (points + 1 - (j - offset))) * prev)
        grid.append(float(max(step, prev + 1)))
    return np.asarray(grid)


def phe_rate_denominators(
    numerator: ArrayLike,
    rate: ArrayLike,
    multiplier: float,
    rate_type: Literal["dsr", "crude"],
    denominator: ArrayLike | None = None,
) -> FloatArray:
    """Population implied by a published rate, as PHEindicatormethods'
    rate funnels derive it: numerator × multiplier / rate.

    For a DSR the implied population of a zero count is undefined (NaN);
    for a crude rate the supplied ``denominator`` is used when the count is
    zero (NaN if none was given). PHE's funnel average for rates is
    Σnumerator / Σ(these populations), skipping missing ones.
    """
    if rate_type not in ("dsr", "crude"):
        raise ValueError(f"rate_type must be 'dsr' or 'crude'; got {rate_type!r}")
    x = as_float(numerator)
    r = as_float(rate)
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = float(multiplier) * x / r
    if rate_type == "dsr" or denominator is None:
        zero_fill: FloatArray | float = np.nan
    else:
        zero_fill = as_float(denominator)
    return np.where(x == 0, zero_fill, derived)


def phe_funnel_significance(
    numerator: ArrayLike,
    denominator: ArrayLike,
    kind: Literal["proportion", "ratio", "rate"] = "proportion",
    *,
    rate: ArrayLike | None = None,
    rate_type: Literal["dsr", "crude"] | None = None,
    multiplier: float | None = None,
) -> np.ndarray:
    """Fingertips funnel significance labels (PHEindicatormethods
    ``assign_funnel_significance``).

    * proportion: x/n against the inverted-Wilson 99.8% and 95% limits around
      Σx/Σn, strict inequalities, checked in the order Low (0.001),
      Low (0.025), High (0.001), High (0.025).
    * ratio: the O/E confidence interval (exact below 10 events, Byar's
      otherwise) tested against 1: High if its lower limit is above 1, Low if
      its upper limit is below 1.
    * rate: ``denominator`` is the population, ``rate`` the published rate
      per ``multiplier``; the population is re-derived as x·multiplier/rate
      (for crude rates with x = 0 the supplied population is used, for DSRs
      it is missing), the average is Σx / Σpopulation, and the rate's
      interval (as for ratios) is tested against that average. DSRs with
      fewer than 10 events are labelled "Not applicable for events less
      than 10 for dsrs".

    Returns an object array of labels (see ``PHE_SIGNIFICANCE_LABELS``).
    Rows with a missing or non-positive denominator are "Not significant".
    """
    x = as_float(numerator)
    n = as_float(denominator)
    x, n = np.broadcast_arrays(x, n)
    if kind == "proportion":
        ok = np.isfinite(x) & (n > 0)
        average = float(np.sum(x[ok]) / np.sum(n[ok]))
        with np.errstate(divide="ignore", invalid="ignore"):
            value = x / n
        lo998, hi998 = proportion_limits(average, n, 0.998, method="wilson")
        lo95, hi95 = proportion_limits(average, n, 0.95, method="wilson")
        # A proportion below its lower limit is low; above upper is high.
        is_low998, is_low95 = value < lo998, value < lo95
        is_high998, is_high95 = value > hi998, value > hi95
    elif kind in ("ratio", "rate"):
        if kind == "ratio":
            base = n
            reference = 1.0
        else:
            if rate is None or rate_type not in ("dsr", "crude") or multiplier is None:
                raise ValueError("rate significance needs rate, rate_type ('dsr'|'crude') and multiplier")
            base = phe_rate_denominators(x, rate, multiplier, rate_type, n)
            reference = float(np.nansum(x) / np.nansum(base))
        lo998, hi998 = ratio_interval(x, base, 0.998, method="phe")
        lo95, hi95 = ratio_interval(x, base, 0.95, method="phe")
        # PHE tests the interval of the unit against the reference value.
        is_high998, is_high95 = reference < lo998, reference < lo95
        is_low998, is_low95 = reference > hi998, reference > hi95
    else:
        raise ValueError(f"unknown kind {kind!r}; expected 'proportion', 'ratio' or 'rate'")

    if kind == "proportion":
        conditions = [is_low998, is_low95, is_high998, is_high95]
        choices = ["Low (0.001)", "Low (0.025)", "High (0.001)", "High (0.025)"]
    else:
        conditions = [is_high998, is_high95, is_low998, is_low95]
        choices = ["High (0.001)", "High (0.025)", "Low (0.001)", "Low (0.025)"]
    labels = np.select(conditions, choices, default="Not significant").astype(object)
    if kind == "rate" and rate_type == "dsr":
        labels = np.where(x < 10, PHE_DSR_NOT_APPLICABLE, labels).astype(object)
    return labels
