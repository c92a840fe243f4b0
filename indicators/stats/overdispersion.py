"""Overdispersion: z-scores, Winsorisation/truncation, φ and τ².

Real providers vary more than binomial/Poisson sampling alone allows
(unmeasured case mix, coding), so with many large units plain funnel limits
flag too many outliers. Following Spiegelhalter DJ (2005) "Handling
over-dispersion of performance indicators", Qual Saf Health Care 14:347-351,
and its implementation in FunnelPlotR (nhs-r-community/FunnelPlotR v0.6.0,
``R/od_adjustment.R``):

1. z-score each unit on a variance-stabilising scale: z = (Y − Y₀)/s.
2. Damp the influence of extreme units: Winsorise z at the 10th/90th
   centiles (CQC / Spiegelhalter), or for SHMI *truncate*, i.e. drop the
   top and bottom 10% by rank (NHS Digital SHMI methodology).
3. Dispersion ratio φ = mean(z²) over the retained units.
4. Between-unit variance by DerSimonian & Laird (1986):
   τ² = max(0, (Iφ − (I − 1)) / (Σw − Σw²/Σw)), w = 1/s².

The limits themselves are in :mod:`indicators.stats.funnel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from .arrays import FloatArray, as_float
from .tails import isp_variance

__all__ = [
    "z_scores",
    "standard_errors",
    "winsorise",
    "truncate",
    "dispersion_ratio",
    "winsorised_null_mean_square",
    "dersimonian_laird_tau2",
    "OverdispersionEstimate",
    "estimate_overdispersion",
]

_PROPORTION_NORMAL_SCALE = ("exact", "wilson", "normal")
_PROPORTION_ARCSINE_SCALE = ("arcsine", "midp")
_RATIO_ROOT_SCALE = ("exact", "cqc", "midp")


def _check_kind_method(kind: str, method: str) -> None:
    if kind == "proportion":
        if method not in _PROPORTION_NORMAL_SCALE + _PROPORTION_ARCSINE_SCALE:
            raise ValueError(f"unknown proportion method {method!r}")
    elif kind == "ratio":
        if method not in _RATIO_ROOT_SCALE + ("shmi", "isp"):
            raise ValueError(f"unknown ratio method {method!r}")
    else:
        raise ValueError(f"unknown kind {kind!r}; expected 'proportion' or 'ratio'")


def standard_errors(
    kind: str,
    method: str,
    denominator_or_expected: ArrayLike,
    target: float,
    *,
    patients: ArrayLike | None = None,
    variance: ArrayLike | None = None,
) -> FloatArray:
    """Within-unit standard error s on the scale used by :func:`z_scores`.

    Proportions: √(θ(1−θ)/n) for exact/wilson/normal, 1/(2√n) for arcsine and midp
    (FunnelPlotR ``PR``; the variance-stabilised scale, finite at 0 and n events). Ratios:
    1/(2√E) on the square-root scale for exact/cqc/midp (FunnelPlotR ``CQC``; finite at
    O = 0), 1/√E on the log scale for shmi (FunnelPlotR ``SHMI``), √V/E on the O/E scale for
    isp (Spiegelhalter 2005 indirectly standardised proportions; V from
    :func:`.tails.isp_variance`, which needs ``patients``). NaN where the denominator is <= 0
    or missing.
    """
    _check_kind_method(kind, method)
    d = as_float(denominator_or_expected)
    d = np.where(d > 0, d, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "ratio" and method == "isp":
            if patients is None:
                raise ValueError("isp standard errors need the number of patients of each unit")
            return np.asarray(np.sqrt(isp_variance(d, patients, float(target), variance)) / d, dtype=float)
        if kind == "proportion":
            if method in _PROPORTION_ARCSINE_SCALE:
                return 1.0 / (2.0 * np.sqrt(d))
            theta = float(target)
            return np.sqrt(theta * (1.0 - theta) / d)
        if method == "shmi":
            return 1.0 / np.sqrt(d)
        return 1.0 / (2.0 * np.sqrt(d))


def z_scores(
    kind: str,
    method: str,
    numerator_or_observed: ArrayLike,
    denominator_or_expected: ArrayLike,
    target: float,
    *,
    patients: ArrayLike | None = None,
    variance: ArrayLike | None = None,
) -> FloatArray:
    """Unadjusted z-scores on the method's own scale (Spiegelhalter 2005), the scale on which
    φ and τ² are estimated.

    * proportion, exact/wilson/normal: (p − θ)/√(θ(1−θ)/n);
    * proportion, arcsine/midp: (asin√p − asin√θ)·2√n (FunnelPlotR ``PR``);
    * ratio, exact/cqc/midp: (√(O/E) − √target)·2√E (FunnelPlotR ``CQC``);
    * ratio, isp: (O/E − target)·E/√V (Spiegelhalter 2005, indirectly standardised
      proportions);
    * ratio, shmi: √E·(ln(O/E) − ln target) (FunnelPlotR ``SHMI``; with the
      usual target 1 this is √E·ln(O/E)). As in FunnelPlotR, O = 0 gives
      −inf, which SHMI truncation then drops as the lowest rank.

    NaN where the denominator is <= 0 or an input is missing.
    """
    _check_kind_method(kind, method)
    y = as_float(numerator_or_observed)
    d = as_float(denominator_or_expected)
    y, d = np.broadcast_arrays(y, d)
    d = np.where(d > 0, d, np.nan)
    t = float(target)
    s = standard_errors(kind, method, d, t, patients=patients, variance=variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = y / d
        if kind == "ratio" and method == "isp":
            diff = ratio - t
        elif kind == "proportion":
            if method in _PROPORTION_ARCSINE_SCALE:
                diff = np.arcsin(np.sqrt(ratio)) - math.asin(math.sqrt(t))
            else:
                diff = ratio - t
        elif method == "shmi":
            diff = np.log(ratio) - math.log(t)
        else:
            diff = np.sqrt(ratio) - math.sqrt(t)
        return diff / s


def winsorise(z: ArrayLike, fraction: float = 0.10) -> FloatArray:
    """Winsorise z-scores: pull values beyond the ``fraction`` and
    ``1 − fraction`` centiles in to those centiles.

    Centiles use R's default (type 7, linear) definition, as FunnelPlotR's
    ``winsorisation()`` (Spiegelhalter 2005: 10% in each tail). Missing
    values are ignored for the centiles and stay missing.
    """
    if not 0.0 <= fraction < 0.5:
        raise ValueError("fraction must be in [0, 0.5)")
    arr = as_float(z)
    present = np.sort(arr[~np.isnan(arr)])
    if present.size == 0:
        return arr.copy()
    lo, hi = _type7_quantile(present, fraction), _type7_quantile(present, 1.0 - fraction)
    return np.clip(arr, lo, hi)


def _type7_quantile(sorted_values: FloatArray, p: float) -> float:
    # R's default quantile: linear interpolation between order statistics at
    # position (N − 1)p. Written out (rather than np.quantile) so that an
    # infinite z-score (a zero count on the log scale) gives an infinite
    # centile instead of inf − inf = NaN.
    h = (sorted_values.size - 1) * p
    lo = math.floor(h)
    frac = h - lo
    if frac == 0.0:
        return float(sorted_values[lo])
    return float((1.0 - frac) * sorted_values[lo] + frac * sorted_values[lo + 1])


def truncate(z: ArrayLike, fraction: float = 0.10) -> FloatArray:
    """Drop (set to NaN) the top and bottom ``fraction`` of z-scores by rank.

    NHS Digital's SHMI rule as in FunnelPlotR ``truncation()``: with
    k = 1/fraction groups, a unit's group is floor(rank·k/(N + 1)) using
    average ranks for ties; units in the lowest group (0) or in groups
    >= k − 1 are dropped. With fewer than about k units nothing is dropped
    (e.g. 6 units, 10% -> groups 1..8 -> none dropped). Missing values are
    excluded from the ranking and stay missing.
    """
    if not 0.0 < fraction < 0.5:
        raise ValueError("fraction must be in (0, 0.5)")
    arr = as_float(z)
    out = np.full(arr.shape, np.nan)
    present = ~np.isnan(arr)
    n = int(present.sum())
    if n == 0:
        return out
    k = 1.0 / fraction
    ranks = stats.rankdata(arr[present], method="average")
    group = np.floor(ranks * k / (n + 1))
    keep = (group > 0) & (group < k - 1)
    values = arr[present]
    out[present] = np.where(keep, values, np.nan)
    return out


def winsorised_null_mean_square(fraction: float) -> float:
    """E[W(Z)²] for a standard normal Z Winsorised at its ``fraction`` and 1 − ``fraction``
    quantiles ±q: (1 − 2f) − 2qφ(q) + 2fq² (0.679 at f = 0.10).

    The Winsorised dispersion ratio of units that vary by chance alone tends to this value,
    not to 1; dividing by it is the usual normal-consistency correction of a Winsorised
    variance (Wilcox RR 2012, Introduction to Robust Estimation and Hypothesis Testing, 3rd
    ed., Academic Press, §3.2-3.3; Huber PJ 1981, Robust Statistics, Wiley).
    """
    if not 0.0 <= fraction < 0.5:
        raise ValueError("fraction must be in [0, 0.5)")
    if fraction == 0.0:
        return 1.0
    q = float(stats.norm.isf(fraction))
    return float((1.0 - 2.0 * fraction) - 2.0 * q * stats.norm.pdf(q) + 2.0 * fraction * q * q)


def dispersion_ratio(z_adjusted: ArrayLike) -> float:
    """Dispersion ratio φ = (1/I)·Σz² over the non-missing (Winsorised or
    truncated) z-scores (Spiegelhalter 2005; FunnelPlotR ``phi_func``).

    φ > 1 indicates overdispersion. NaN when no z-scores are available.
    """
    arr = as_float(z_adjusted)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return math.nan
    return float(np.mean(arr * arr))


def dersimonian_laird_tau2(phi: float, standard_errors: ArrayLike, n_units: int | None = None) -> float:
    """Between-unit variance τ² by DerSimonian & Laird (1986), as
    Spiegelhalter (2005) and FunnelPlotR ``tau_func``.

    τ² = max(0, (Iφ − (I − 1)) / (Σw − Σw²/Σw)) with w = 1/s², and 0 when
    Iφ < I − 1. ``standard_errors`` are the within-unit s of the I units
    that contributed to φ (for SHMI: only the units kept after truncation);
    ``n_units`` defaults to their number.
    """
    s = as_float(standard_errors)
    s = s[np.isfinite(s) & (s > 0)]
    count = int(s.size if n_units is None else n_units)
    if count == 0 or s.size == 0:
        return 0.0
    if not np.isfinite(phi):
        return math.nan
    if count * phi < count - 1:
        return 0.0
    w = 1.0 / (s * s)
    sum_w = float(np.sum(w))
    denominator = sum_w - float(np.sum(w * w)) / sum_w
    if denominator <= 0:
        # A single unit (or identical weights with I = 1): τ² not estimable.
        return 0.0
    return max(0.0, (count * phi - (count - 1)) / denominator)


@dataclass(frozen=True, eq=False)
class OverdispersionEstimate:
    """Result of :func:`estimate_overdispersion`.

    ``phi``: dispersion ratio; ``tau2``: DerSimonian-Laird between-unit
    variance on the method's scale; ``n_units``: units used for φ after
    trimming; ``adjusted``: φ > 1 (FunnelPlotR only draws adjusted limits
    then); ``trimming``: "winsorise" or "truncate"; ``z``/``z_trimmed``/
    ``standard_errors``: per-unit arrays in input order.
    """

    phi: float
    tau2: float
    n_units: int
    adjusted: bool
    kind: str
    method: str
    trimming: str
    trim: float
    z: FloatArray = field(repr=False)
    z_trimmed: FloatArray = field(repr=False)
    standard_errors: FloatArray = field(repr=False)


def estimate_overdispersion(
    kind: str,
    method: str,
    numerator_or_observed: ArrayLike,
    denominator_or_expected: ArrayLike,
    target: float,
    trim: float = 0.10,
    *,
    patients: ArrayLike | None = None,
    variance: ArrayLike | None = None,
    consistent: bool = False,
) -> OverdispersionEstimate:
    """Estimate φ and τ² for a set of units (Spiegelhalter 2005;
    FunnelPlotR ``funnel_plot`` steps 1-4).

    ``consistent`` (used by the calibrated default methods; Winsorising methods only) divides
    the Winsorised φ by :func:`winsorised_null_mean_square`, so that φ is about 1 when units
    vary by chance alone (the uncorrected 10%-Winsorised φ is about 0.68 then); τ² follows
    from the corrected φ. Off by default, which reproduces FunnelPlotR.

    SHMI (``kind="ratio", method="shmi"``) truncates the top and bottom
    ``trim`` by rank; every other method Winsorises at ``trim`` and
    ``1 − trim``. Units with a missing or non-positive denominator are
    ignored. Unlike FunnelPlotR we do not round SHMI expected counts to two
    decimals; round them before calling to mimic its ``SHMI_rounding``.
    """
    z = z_scores(
        kind, method, numerator_or_observed, denominator_or_expected, target, patients=patients, variance=variance
    )
    s = standard_errors(kind, method, denominator_or_expected, target, patients=patients, variance=variance)
    s = np.broadcast_to(s, z.shape)
    if kind == "ratio" and method == "shmi":
        trimming = "truncate"
        z_trimmed = truncate(z, trim)
    else:
        trimming = "winsorise"
        z_trimmed = winsorise(z, trim)
    used = ~np.isnan(z_trimmed)
    n_units = int(used.sum())
    phi = dispersion_ratio(z_trimmed)
    if consistent and trimming == "winsorise":
        phi = phi / winsorised_null_mean_square(trim)
    tau2 = dersimonian_laird_tau2(phi, s[used], n_units) if n_units else 0.0
    return OverdispersionEstimate(
        phi=phi,
        tau2=tau2,
        n_units=n_units,
        adjusted=bool(np.isfinite(phi) and phi > 1.0),
        kind=kind,
        method=method,
        trimming=trimming,
        trim=float(trim),
        z=z,
        z_trimmed=z_trimmed,
        standard_errors=np.asarray(s, dtype=float).copy(),
    )
