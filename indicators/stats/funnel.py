"""Funnel-plot control limits around a target.

A funnel plot compares each unit's indicator with control limits drawn
around a target (national) value at that unit's denominator (proportions)
or expected count (O/E ratios). Units outside the 95% limits are "alerts"
and outside the 99.8% limits "alarms" (HQIP outlier guidance).

Sources of the methods:

* Spiegelhalter DJ (2005) "Funnel plots for comparing institutional
  performance", Stat Med 24:1185-1202 (exact binomial limits with the
  interpolation of Appendix A.1.1; normal approximation).
* Spiegelhalter DJ (2005) "Handling over-dispersion of performance
  indicators", Qual Saf Health Care 14:347-351 (multiplicative and additive
  random-effects inflation).
* FunnelPlotR (nhs-r-community/FunnelPlotR v0.6.0, ``R/calculate_limits.R``):
  exact Poisson ratio limits in chi-square form, arcsine proportion limits,
  SHMI log-scale and CQC square-root-scale overdispersed ratio limits.
* Lancaster HO (1961) "Significance tests in discrete distributions", JASA
  56:223-234, and Agresti A, Gottard A (2007) Comput Stat Data Anal
  51:6447-6458: mid-p tails, the calibrated default (``midp``, :mod:`.tails`).
* PHEindicatormethods (ukhsa-collaboration/PHEindicatormethods v2.1.0,
  ``R/Funnels.R``, ``R/utils.R``): inverted-Wilson proportion limits,
  bisection Poisson funnels and the significance labels used by Fingertips.

All functions are pure and vectorised; inputs may be scalars or arrays and
outputs are numpy arrays. Undefined limits (denominator or expected count
<= 0, missing input) are NaN.
"""

from __future__ import annotations

import functools
import math
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from .arrays import FloatArray, as_float
from .intervals import normalise_confidence, ratio_interval, z_for
from .tails import isp_probability, isp_variance, midp_count_limits
from .vocabulary import OVERDISPERSION_MODES, PROPORTION_METHODS, RATIO_METHODS

__all__ = [
    "PHE_SIGNIFICANCE_LABELS",
    "proportion_limits",
    "ratio_limits",
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

_HALF_PI = math.pi / 2.0


def _check_common(method: str, allowed: tuple[str, ...], overdispersion: str, tau2: float, phi: float) -> None:
    if method not in allowed:
        raise ValueError(f"unknown method {method!r}; expected one of {allowed}")
    if overdispersion not in OVERDISPERSION_MODES:
        raise ValueError(f"unknown overdispersion {overdispersion!r}; expected one of {OVERDISPERSION_MODES}")
    if not tau2 >= 0:
        raise ValueError(f"tau2 must be >= 0; got {tau2!r}")
    if not phi > 0:
        raise ValueError(f"phi must be > 0; got {phi!r}")


def _binomial_interpolated(p: float, n: FloatArray, theta: float) -> FloatArray:
    """Spiegelhalter (2005) Appendix A.1.1 interpolated binomial quantile / n.

    The discrete quantile r_p = qbinom(p, n, θ) makes limits jump in steps;
    interpolating by α = (F(r_p) − p) / f(r_p) gives a smooth funnel with
    limit (r_p − α) / n.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        r = stats.binom.ppf(p, n, theta)
        cdf = stats.binom.cdf(r, n, theta)
        pmf = stats.binom.pmf(r, n, theta)
        alpha = (cdf - p) / pmf
        return (r - alpha) / n


def _wilson_inverted(theta: float, n: FloatArray, z: float) -> tuple[FloatArray, FloatArray]:
    """Proportions whose Wilson interval just reaches θ (PHE funnel limits).

    Solving "Wilson bound of c/n equals θ" for the count c gives a quadratic
    a·c² − 2b·c + k = 0 with a = 1/z² + 1/n, b = θ(n/z² + 1) and
    k = θ(n(θ(n/z² + 2) − 1) + z²(θ − 1)); the smaller root is the lower
    limit, the larger the upper (PHEindicatormethods v2.1.0 ``sigma_adjustment``;
    Spiegelhalter 2005, doi:10.1002/sim.1970; docs/domain.md §3.2).
    """
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        a = 1.0 / z2 + 1.0 / n
        b = theta * (n / z2 + 1.0)
        k = theta * (n * (theta * (n / z2 + 2.0) - 1.0) + z2 * (theta - 1.0))
        root = np.sqrt(b * b - a * k)
        lower = (b - root) / a / n
        upper = (b + root) / a / n
    return lower, upper


def _arcsine_limits(theta: float, half_width_angle: FloatArray) -> tuple[FloatArray, FloatArray]:
    # Limits on the variance-stabilised angle asin(√p), back-transformed by
    # sin². Clamping the angle to [0, π/2] is the continuous equivalent of
    # FunnelPlotR's "truncate to [0,1] and force monotonic" step: without it
    # sin² folds negative angles back to positive proportions at small n.
    centre = math.asin(math.sqrt(theta))
    lo_angle = np.clip(centre - half_width_angle, 0.0, _HALF_PI)
    hi_angle = np.clip(centre + half_width_angle, 0.0, _HALF_PI)
    return np.sin(lo_angle) ** 2, np.sin(hi_angle) ** 2


def _envelope(
    raw: tuple[FloatArray, FloatArray], adjusted: tuple[FloatArray, FloatArray]
) -> tuple[FloatArray, FloatArray]:
    # Overdispersion may only widen: keep the outer of the adjusted and unadjusted limits on
    # each side (the adjusted forms are symmetric on their own scale and can sit inside the
    # skewed exact limits at small n or near 0% and 100%).
    return np.fmin(raw[0], adjusted[0]), np.fmax(raw[1], adjusted[1])


def proportion_limits(
    target: float,
    denominator: ArrayLike,
    confidence: float,
    method: str = "exact",
    tau2: float = 0.0,
    phi: float = 1.0,
    overdispersion: str = "none",
) -> tuple[FloatArray, FloatArray]:
    """Funnel control limits for a proportion around ``target`` at each n.

    Methods (unadjusted):

    * ``"midp"``: the counts at which the one-sided binomial(n, θ) mid-p crosses α/2,
      interpolated between whole counts, over n (:func:`.tails.midp_count_limits`; Lancaster
      1961, Agresti & Gottard 2007): a whole count is drawn outside exactly when its mid-p
      flags it. The analysis default.
    * ``"exact"``: exact binomial with Spiegelhalter (2005, Stat Med 24:1185,
      Appendix A.1.1) interpolation; n must be a whole number.
    * ``"wilson"``: PHEindicatormethods' inverted Wilson (the proportion whose
      own Wilson interval just reaches the target); reproduces Fingertips
      funnel limits.
    * ``"normal"``: θ ± z√(θ(1−θ)/n) (Spiegelhalter 2005).
    * ``"arcsine"``: FunnelPlotR: sin²(asin√θ ± z/(2√n)).

    Overdispersion (Spiegelhalter 2005, QSHC 14:347), on the scale where τ² was estimated
    (:func:`.overdispersion.standard_errors`):

    * ``"none"``: tau2 and phi are ignored.
    * ``"additive"`` (random effects, DerSimonian-Laird τ²): variance s² + τ², i.e.
      θ ± z√(θ(1−θ)/n + τ²) for exact/wilson/normal, and sin²(asin√θ ± z√(1/(4n) + τ²))
      for arcsine and midp (the arcsine scale stabilises the variance and stays finite at
      0 and n events, where the logit is infinite).
    * ``"multiplicative"``: θ + √φ·(limit − θ) for exact/wilson; θ ± z√φ·s on
      the normal or arcsine scale (normal, arcsine, midp).

    Adjusted limits are the envelope of the adjusted and unadjusted forms (lower = min,
    upper = max), so overdispersion only ever widens them.

    Returns ``(lower, upper)`` proportions clipped to [0, 1]; NaN where
    n <= 0 or missing.
    """
    _check_common(method, PROPORTION_METHODS, overdispersion, tau2, phi)
    theta = float(target)
    if not 0.0 <= theta <= 1.0:
        raise ValueError(f"target proportion must be within [0, 1]; got {target!r}")
    z = z_for(confidence)
    conf = normalise_confidence(confidence)
    n = as_float(denominator)
    valid = n > 0
    n_safe = np.where(valid, n, np.nan)

    with np.errstate(divide="ignore", invalid="ignore"):
        limits = _proportion_form(method, theta, n_safe, z, conf, "none", 0.0, 1.0)
        if overdispersion != "none":
            limits = _envelope(limits, _proportion_form(method, theta, n_safe, z, conf, overdispersion, tau2, phi))
        lower, upper = limits

    lower = np.where(valid, np.clip(lower, 0.0, 1.0), np.nan)
    upper = np.where(valid, np.clip(upper, 0.0, 1.0), np.nan)
    return lower, upper


def _proportion_form(
    method: str, theta: float, n: FloatArray, z: float, conf: float, overdispersion: str, tau2: float, phi: float
) -> tuple[FloatArray, FloatArray]:
    if method in ("arcsine", "midp") and (method == "arcsine" or overdispersion != "none"):
        var_angle = 1.0 / (4.0 * n)
        if overdispersion == "additive":
            half = z * np.sqrt(var_angle + tau2)
        elif overdispersion == "multiplicative":
            half = z * math.sqrt(phi) * np.sqrt(var_angle)
        else:
            half = z * np.sqrt(var_angle)
        return _arcsine_limits(theta, half)
    if method == "midp":
        c_low, c_high = midp_count_limits("binomial", n, theta, 1.0 - conf)
        return c_low / n, c_high / n
    if overdispersion == "additive" or method == "normal":
        var = theta * (1.0 - theta) / n
        if overdispersion == "additive":
            var = var + tau2
        scale = math.sqrt(phi) if overdispersion == "multiplicative" else 1.0
        half = z * scale * np.sqrt(var)
        return theta - half, theta + half
    if method == "exact":
        a = (1.0 - conf) / 2.0
        lower = _binomial_interpolated(a, n, theta)
        upper = _binomial_interpolated(1.0 - a, n, theta)
    else:  # wilson
        lower, upper = _wilson_inverted(theta, n, z)
    if overdispersion == "multiplicative":
        # Spiegelhalter (2005): stretch the distance from the target.
        root_phi = math.sqrt(phi)
        lower = theta + root_phi * (lower - theta)
        upper = theta + root_phi * (upper - theta)
    return lower, upper


def ratio_limits(
    expected: ArrayLike,
    confidence: float,
    method: str = "exact",
    target: float = 1.0,
    tau2: float = 0.0,
    phi: float = 1.0,
    overdispersion: str = "none",
    *,
    patients: ArrayLike | None = None,
    variance: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Funnel control limits for an O/E ratio around ``target`` at each E.

    Methods (unadjusted):

    * ``"midp"``: the counts at which the one-sided Poisson(target·E) mid-p crosses α/2,
      interpolated between whole counts, over E (:func:`.tails.midp_count_limits`); the
      analysis default for rare outcomes.
    * ``"isp"``: indirectly standardised proportion (Spiegelhalter 2005, Stat Med 24:1185,
      §2.3.2) for common outcomes, where the Poisson variance E overstates the binomial one:
      needs ``patients`` (n per unit, whole numbers). With ``variance`` (Σp(1 − p)) the limits are
      target ± z√V/E; without it, the binomial(n, target·E/n) mid-p limits over E.
    * ``"exact"``: FunnelPlotR's exact Poisson limits with continuous E,
      LL = target·χ²_{α/2}(2E)/(2E), UL = target·χ²_{1−α/2}(2E+2)/(2E).
    * ``"shmi"``: log scale (NHS Digital SHMI): target·exp(±z/√E).
    * ``"cqc"``: square-root scale (CQC / Spiegelhalter):
      (√target ± z/(2√E))².

    Overdispersion:

    * ``"additive"``: "exact", "midp" and "cqc" use the square-root scale,
      (√target ± z√(1/(4E) + τ²))² (the variance-stabilised form of
      Spiegelhalter 2005 / FunnelPlotR ``sr_method="CQC"``, finite at O = 0 where the log
      is not); "shmi" uses target·exp(±z√(1/E + τ²)) (FunnelPlotR ``sr_method="SHMI"``);
      "isp" uses target ± z√(V/E² + τ²).
    * ``"multiplicative"``: target + √φ·(limit − target) for "exact"; z is
      multiplied by √φ on the scale of the others.

    Adjusted limits are the envelope of the adjusted and unadjusted forms (lower = min,
    upper = max), so overdispersion only ever widens them.

    Returns ``(lower, upper)`` on the ratio scale (multiply by 100 for a
    "x 100" ratio), lower limits floored at 0; NaN where E <= 0 or missing.
    """
    _check_common(method, RATIO_METHODS, overdispersion, tau2, phi)
    t = float(target)
    if not t > 0:
        raise ValueError(f"target ratio must be > 0; got {target!r}")
    if method == "isp" and patients is None:
        raise ValueError("isp limits need the number of patients of each unit")
    z = z_for(confidence)
    conf = normalise_confidence(confidence)
    e = as_float(expected)
    valid = e > 0
    e_safe = np.where(valid, e, np.nan)
    size = None
    if method == "isp":
        e_safe, size = np.broadcast_arrays(e_safe, as_float(patients))
        valid = np.broadcast_to(valid, e_safe.shape) & (size > 0)
        e_safe = np.where(valid, e_safe, np.nan)

    with np.errstate(divide="ignore", invalid="ignore"):
        form = functools.partial(_ratio_form, method, t, e_safe, z, conf, size=size, variance=variance)
        limits = form("none", 0.0, 1.0)
        if overdispersion != "none":
            limits = _envelope(limits, form(overdispersion, tau2, phi))
        lower = np.maximum(limits[0], 0.0)

    lower = np.where(valid, lower, np.nan)
    upper = np.where(valid, limits[1], np.nan)
    return lower, upper


def _ratio_form(
    method: str,
    t: float,
    e: FloatArray,
    z: float,
    conf: float,
    overdispersion: str,
    tau2: float,
    phi: float,
    *,
    size: FloatArray | None,
    variance: ArrayLike | None,
) -> tuple[FloatArray, FloatArray]:
    alpha = 1.0 - conf
    root_phi = math.sqrt(phi) if overdispersion == "multiplicative" else 1.0
    tau2 = tau2 if overdispersion == "additive" else 0.0
    if method == "shmi":
        half = z * root_phi * np.sqrt(1.0 / e + tau2)
        return t * np.exp(-half), t * np.exp(half)
    if method == "isp":
        assert size is not None
        if variance is None and overdispersion == "none":
            c_low, c_high = midp_count_limits("binomial", size, isp_probability(e, size, t), alpha)
            return c_low / e, c_high / e
        half = z * root_phi * np.sqrt(isp_variance(e, size, t, variance) / (e * e) + tau2)
        return t - half, t + half
    if method == "cqc" or (overdispersion != "none" and method == "midp") or overdispersion == "additive":
        half = z * root_phi * np.sqrt(1.0 / (4.0 * e) + tau2)
        centre = math.sqrt(t)
        # Floor the root-scale limit at 0 before squaring, otherwise a
        # negative root would square back to a positive ratio.
        return np.maximum(centre - half, 0.0) ** 2, (centre + half) ** 2
    if method == "midp":
        c_low, c_high = midp_count_limits("poisson", e, t * e, alpha)
        return c_low / e, c_high / e
    # exact, unadjusted or multiplicative
    two_e = 2.0 * e
    lower = t * stats.chi2.ppf(alpha / 2.0, two_e) / two_e
    upper = t * stats.chi2.ppf(1.0 - alpha / 2.0, two_e + 2.0) / two_e
    if overdispersion == "multiplicative":
        lower = t + root_phi * (lower - t)
        upper = t + root_phi * (upper - t)
    return lower, upper


# ---------------------------------------------------------------------------
# PHEindicatormethods (Fingertips) funnels
# ---------------------------------------------------------------------------


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


def _signif_floor(x: float, fraction: float = 0.95) -> float:
    # Round x·0.95 down to its leading digit (PHE's axis minimum).
    if x == 0:
        return 0.0
    scaled = x * fraction
    digits = len(str(math.floor(scaled))) - 1
    step: float = 10**digits  # int, or float when digits < 0
    return math.floor(scaled / step) * step


def _signif_ceiling(x: float, fraction: float = 1.05) -> float:
    # Round x·1.05 up to two significant digits (PHE's axis maximum).
    if x == 0:
        return 0.0
    scaled = x * fraction
    digits = len(str(math.ceil(scaled))) - 2
    step: float = 10**digits  # int, or float when digits < 0
    return math.ceil(scaled / step) * step


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
        axis_min = _signif_floor(lo / per_year) * per_year
    axis_max = _signif_ceiling(hi / per_year) * per_year
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
