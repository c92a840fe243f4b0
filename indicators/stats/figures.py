"""A unit's figures, and the limit curves, of a funnel whose target and overdispersion are known.

Each unit's value, its own confidence intervals (:mod:`.intervals`), the control limits at its
denominator or expected count (:mod:`.funnel`, as adjusted for overdispersion by Spiegelhalter
2005, QSHC 14:347), its z-score and flag (:mod:`.tails`, :mod:`.flags`); and the limits along a
grid of denominators for drawing the funnel. :func:`.analysis.funnel_analysis` estimates the
target and overdispersion from the units and then uses these; the published figures of a unit
use them with the funnel's stored target, τ² and φ.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .arrays import as_float
from .flags import exact_test_guard, outlier_flags
from .funnel import proportion_limits, ratio_limits
from .intervals import ratio_interval, wilson_interval
from .overdispersion import standard_errors, z_scores
from .tails import flags_from_z, isp_probability, isp_variance, midp_tails, midp_z
from .vocabulary import DEFAULT_METHOD, PROPORTION_METHODS, RATIO_METHODS, TAIL_METHODS

__all__ = ["Kind", "decision_z", "default_method", "funnel_curve", "limits_at", "unit_figures"]

#: The two families of funnel: events out of patients ("proportion"), observed over expected ("ratio").
Kind = Literal["proportion", "ratio"]


def default_method(kind: str, method: str | None) -> str:
    """``method``, or the default (:data:`.vocabulary.DEFAULT_METHOD`); ValueError if ``kind`` has no such method."""
    allowed = PROPORTION_METHODS if kind == "proportion" else RATIO_METHODS
    m = DEFAULT_METHOD if method is None else method
    if m not in allowed:
        raise ValueError(f"unknown {kind} method {m!r}; expected one of {allowed}")
    return m


def limits_at(
    kind: str,
    method: str,
    target: float,
    denominator: np.ndarray,
    confidence: float,
    tau2: float,
    phi: float,
    overdispersion: str,
    patients: np.ndarray | None = None,
    variance: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper control limits at each denominator (:func:`.funnel.proportion_limits`) or
    expected count (:func:`.funnel.ratio_limits`)."""
    if kind == "proportion":
        return proportion_limits(
            target, denominator, confidence, method=method, tau2=tau2, phi=phi, overdispersion=overdispersion
        )
    return ratio_limits(
        denominator,
        confidence,
        method=method,
        target=target,
        tau2=tau2,
        phi=phi,
        overdispersion=overdispersion,
        patients=patients,
        variance=variance,
    )


def decision_z(
    kind: str,
    method: str,
    target: float,
    numerator: ArrayLike,
    denominator: ArrayLike,
    *,
    patients: ArrayLike | None = None,
    variance: ArrayLike | None = None,
) -> np.ndarray:
    """The unadjusted statistic a tail method ("midp", "isp") decides its flags on.

    midp: the signed normal score of the smaller one-sided mid-p tail of the count under
    binomial(n, θ) (proportions) or Poisson(target·E) (O/E) (:func:`.tails.midp_z`). isp:
    the same under binomial(n, target·E/n), or (O − target·E)/√V when the variance
    Σp(1 − p) is given (Spiegelhalter 2005, Stat Med 24:1185). |z| > 1.96 is an alert,
    > 3.09 an alarm.
    """
    x, d = np.broadcast_arrays(as_float(numerator), as_float(denominator))
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "proportion":
            low, high = midp_tails("binomial", x, np.where(d > 0, d, np.nan), target)
        elif method == "midp":
            low, high = midp_tails("poisson", x, d, np.where(d > 0, target * d, np.nan))
        elif method == "isp":
            if patients is None:
                raise ValueError("isp needs the number of patients of each unit")
            if variance is not None:
                v = isp_variance(d, patients, target, variance)
                return np.asarray((x - target * d) / np.sqrt(v), dtype=float)
            low, high = midp_tails("binomial", x, as_float(patients), isp_probability(d, patients, target))
        else:
            raise ValueError(f"{method!r} does not decide flags by a tail probability")
    return midp_z(low, high)


def unit_figures(
    kind: str,
    method: str,
    target: float,
    numerator: ArrayLike,
    denominator: ArrayLike,
    *,
    tau2: float = 0.0,
    phi: float = 1.0,
    overdispersion: str = "none",
    patients: ArrayLike | None = None,
    variance: ArrayLike | None = None,
    exact_guard: bool = True,
) -> dict[str, np.ndarray]:
    """Each unit's figures against a funnel whose target and overdispersion are already known.

    ``value`` (x/n, or O/E), its 95% and 99.8% intervals (Wilson for proportions, PHEindicatormethods;
    exact Poisson for O/E), the control limits at the unit's denominator or expected count with
    ``overdispersion`` ("none", "additive" or "multiplicative", as applied; the envelope of the
    adjusted and unadjusted forms, so never narrower) and unadjusted (``limit_*_unadjusted``),
    ``z_adjusted`` (the published z) and ``flag``.

    Tail methods (midp, isp): the flag is decided by the unit's mid-p tail (:func:`decision_z`);
    with overdispersion applied a unit must also be outside the adjusted limits, i.e. its
    z-score on the overdispersion scale divided by the inflated standard deviation
    (Spiegelhalter 2005, QSHC 14:347) must also pass; ``z_adjusted`` is whichever of the two
    statistics binds (the smaller |z|), so |z| > 1.96 is an alert and > 3.09 an alarm, and a
    unit is drawn outside a limit exactly when it is flagged at that level. Other methods keep
    their peers' rule (strictly outside the limits in use, FunnelPlotR ``outliers_func``), with
    :func:`.flags.exact_test_guard` when ``exact_guard``; their ``z_adjusted`` is the binding
    z on the method's scale. :func:`.analysis.funnel_analysis` uses this for its units; the published
    figures of a unit (computed from its rounded counts, indicators.disclosure) use it with the
    funnel's stored target, tau2 and phi.
    """
    x, n = np.broadcast_arrays(as_float(numerator), as_float(denominator))
    pts = None if patients is None else np.broadcast_to(as_float(patients), x.shape)
    var = None if variance is None else np.broadcast_to(as_float(variance), x.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = x / np.where(n > 0, n, np.nan)
    if kind == "proportion":
        ci_lo, ci_hi = wilson_interval(x, n, 0.95)
        ci_lo998, ci_hi998 = wilson_interval(x, n, 0.998)
    else:
        ci_lo, ci_hi = ratio_interval(x, n, 0.95, method="exact")
        ci_lo998, ci_hi998 = ratio_interval(x, n, 0.998, method="exact")
    raw = {conf: limits_at(kind, method, target, n, conf, 0.0, 1.0, "none", pts, var) for conf in (0.95, 0.998)}
    used = (
        raw
        if overdispersion == "none"
        else {
            conf: limits_at(kind, method, target, n, conf, tau2, phi, overdispersion, pts, var)
            for conf in (0.95, 0.998)
        }
    )
    z_scale = z_scores(kind, method, x, n, target, patients=pts, variance=var)
    if overdispersion == "additive":
        s = standard_errors(kind, method, n, target, patients=pts, variance=var)
        with np.errstate(invalid="ignore", divide="ignore"):
            z_adj = z_scale * s / np.sqrt(s * s + tau2)
    elif overdispersion == "multiplicative":
        z_adj = z_scale / math.sqrt(phi)
    else:
        z_adj = z_scale.copy()
    z_rule = decision_z(kind, method, target, x, n, patients=pts, variance=var) if method in TAIL_METHODS else z_scale
    if overdispersion != "none":
        # Both rules must flag: the binding statistic is the one nearer zero.
        with np.errstate(invalid="ignore"):
            z_rule = np.where(np.abs(z_adj) < np.abs(z_rule), z_adj, z_rule)
    if method in TAIL_METHODS:
        flags = flags_from_z(z_rule)
    else:
        flags = outlier_flags(value, used[0.95][0], used[0.95][1], used[0.998][0], used[0.998][1])
        if exact_guard:
            flags = exact_test_guard(flags, x, n, target, kind)
    return {
        "value": value,
        "ci_lower": ci_lo,
        "ci_upper": ci_hi,
        "ci_lower_998": ci_lo998,
        "ci_upper_998": ci_hi998,
        "z_adjusted": z_rule,
        "limit_lower_95": used[0.95][0],
        "limit_upper_95": used[0.95][1],
        "limit_lower_998": used[0.998][0],
        "limit_upper_998": used[0.998][1],
        "limit_lower_95_unadjusted": raw[0.95][0],
        "limit_upper_95_unadjusted": raw[0.95][1],
        "limit_lower_998_unadjusted": raw[0.998][0],
        "limit_upper_998_unadjusted": raw[0.998][1],
        "flag": flags,
    }


def funnel_curve(
    kind: Kind,
    method: str,
    target: float,
    max_denominator: float,
    points: int = 200,
    tau2: float = 0.0,
    phi: float = 1.0,
    overdispersion: str = "none",
    min_denominator: float = 1.0,
    event_rate: float | None = None,
) -> pd.DataFrame:
    """Smooth control-limit curves for drawing a funnel plot.

    Denominators (or expected counts) are spaced geometrically from
    ``min_denominator`` to ``max_denominator`` so the curved small-n end is
    well resolved (FunnelPlotR and PHE both use dense grids for the same
    reason). For exact binomial proportion limits the grid is rounded to
    whole numbers and de-duplicated, since n must be an integer. Pass the
    ``tau2``/``phi``/``overdispersion`` of a :class:`.analysis.FunnelResult` to draw
    the limits it used. The "isp" limits depend on the number of patients as well as E: the
    curve takes n = E / ``event_rate`` (the national events per patient), so it is exact for a
    unit at the national case mix; each unit's own limits are in its row.

    Returns a DataFrame with columns denominator, lower95, upper95,
    lower998, upper998.
    """
    if kind not in ("proportion", "ratio"):
        raise ValueError(f"unknown kind {kind!r}")
    if not (0 < min_denominator < max_denominator):
        raise ValueError("need 0 < min_denominator < max_denominator")
    if points < 2:
        raise ValueError("points must be >= 2")
    m = default_method(kind, method)
    grid = np.geomspace(min_denominator, max_denominator, points)
    if kind == "proportion" and m in ("exact", "midp"):
        grid = np.unique(np.round(grid))
        grid = grid[grid > 0]
    patients = None
    if m == "isp":
        if event_rate is None or not 0 < event_rate <= 1:
            raise ValueError("isp curves need the national event rate (0 < event_rate <= 1)")
        patients = np.maximum(np.round(grid / event_rate), 1.0)  # whole patients, as the binomial needs
    lo95, hi95 = limits_at(kind, m, float(target), grid, 0.95, tau2, phi, overdispersion, patients)
    lo998, hi998 = limits_at(kind, m, float(target), grid, 0.998, tau2, phi, overdispersion, patients)
    return pd.DataFrame({"denominator": grid, "lower95": lo95, "upper95": hi95, "lower998": lo998, "upper998": hi998})
