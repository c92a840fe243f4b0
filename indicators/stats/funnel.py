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
  ``R/Funnels.R``): inverted-Wilson proportion limits. Its other funnels are reproduced, for the
  tests only, in :mod:`.peers.phe`.

All functions are pure and vectorised; inputs may be scalars or arrays and
outputs are numpy arrays. Undefined limits (denominator or expected count
<= 0, missing input) are NaN.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from .arrays import FloatArray, as_float
from .intervals import normalise_confidence, z_for
from .tails import isp_probability, isp_variance, midp_count_limits
from .vocabulary import OVERDISPERSION_MODES, PROPORTION_METHODS, RATIO_METHODS

__all__ = [
    "proportion_limits",
    "ratio_limits",
]


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
