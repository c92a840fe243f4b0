"""High-level funnel analysis: one call from unit data to flagged results.

Used by the ``funnel`` management command and the computation jobs. It
combines :mod:`.intervals` (each unit's own confidence interval),
:mod:`.overdispersion` (φ, τ²), :mod:`.funnel` (control limits) and
:mod:`.flags` (HQIP alert/alarm), following Spiegelhalter (2005, Stat Med
24:1185; QSHC 14:347) and FunnelPlotR's ``funnel_plot`` workflow: estimate
overdispersion, use adjusted limits only when φ > 1 (and never narrower than the
unadjusted ones). The default method decides flags by one-sided mid-p tail probabilities
(:mod:`.tails`; Lancaster 1961, Agresti & Gottard 2007), the peers' methods flag units
strictly outside the limits in use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .arrays import as_float
from .flags import exact_test_guard, outlier_flags
from .funnel import proportion_limits, ratio_limits
from .intervals import ratio_interval, wilson_interval
from .overdispersion import estimate_overdispersion, standard_errors, z_scores
from .tails import flags_from_z, isp_probability, isp_variance, midp_tails, midp_z
from .vocabulary import (
    DEFAULT_METHOD,
    LIMITS,
    OVERDISPERSION_CHOICES,
    PROPORTION_METHODS,
    RATIO_METHODS,
    TAIL_METHODS,
    Overdispersion,
)

__all__ = [
    "COMMON_OUTCOME_RATE",
    "FunnelResult",
    "UNIT_COLUMNS",
    "decision_z",
    "funnel_analysis",
    "funnel_curve",
    "unit_figures",
]

Kind = Literal["proportion", "ratio"]

UNIT_COLUMNS = (
    "unit",
    "numerator",
    "denominator",
    "value",
    "ci_lower",
    "ci_upper",
    "ci_lower_998",
    "ci_upper_998",
    "z",
    "z_adjusted",
    *LIMITS,
    "flag",
)


@dataclass(frozen=True, eq=False)
class FunnelResult:
    """Output of :func:`funnel_analysis`.

    ``overdispersion`` is the mode actually applied ("none", "additive" or
    "multiplicative"); ``overdispersion_applied`` is False when φ <= 1 or
    overdispersion was switched off. ``phi``/``tau2`` are always the
    estimates from the data (reported even when not applied); ``n_units``
    is the number of units that contributed to them. ``units`` has the
    columns in :data:`UNIT_COLUMNS`, one row per distinct unit in order of
    first appearance.
    """

    kind: str
    method: str
    target: float
    phi: float
    tau2: float
    n_units: int
    overdispersion: str
    overdispersion_applied: bool
    units: pd.DataFrame = field(repr=False)


#: Above this national event rate (events per patient) an O/E analysed with the default
#: method uses the indirectly standardised proportion ("isp", binomial variance) instead of
#: the Poisson: at 10% the Poisson variance E already overstates the binomial E(1 − p) by 11%,
#: at 55% (lung 1-year mortality) more than twofold (Spiegelhalter 2005, Stat Med 24:1185).
COMMON_OUTCOME_RATE = 0.10


def _default_method(kind: str, method: str | None) -> str:
    allowed = PROPORTION_METHODS if kind == "proportion" else RATIO_METHODS
    m = DEFAULT_METHOD if method is None else method
    if m not in allowed:
        raise ValueError(f"unknown {kind} method {m!r}; expected one of {allowed}")
    return m


def _limits(
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
    z on the method's scale. :func:`funnel_analysis` uses this for its units; the published
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
    raw = {conf: _limits(kind, method, target, n, conf, 0.0, 1.0, "none", pts, var) for conf in (0.95, 0.998)}
    used = (
        raw
        if overdispersion == "none"
        else {
            conf: _limits(kind, method, target, n, conf, tau2, phi, overdispersion, pts, var) for conf in (0.95, 0.998)
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


def funnel_analysis(
    units: ArrayLike,
    numerator: ArrayLike,
    denominator: ArrayLike,
    kind: Kind = "proportion",
    method: str | None = None,
    overdispersion: Overdispersion = "auto",
    target: float | None = None,
    trim: float = 0.10,
    exact_guard: bool = True,
    *,
    patients: ArrayLike | None = None,
    variance: ArrayLike | None = None,
) -> FunnelResult:
    """Funnel-plot analysis of one indicator across units.

    ``kind="proportion"``: numerator events out of denominator patients,
    value p = x/n, unit CI by Wilson (PHE). ``kind="ratio"``: observed over
    expected (risk-adjusted O/E), value O/E, unit CI exact Poisson.

    * ``method`` defaults to "midp" (:data:`DEFAULT_METHOD`): flags from one-sided mid-p
      tails of the exact binomial / Poisson count under the target, limits drawn where the
      mid-p crosses α/2 (:mod:`.tails`), so that under the null each side flags close to
      2.5% (alert) and 0.1% (alarm). For a ratio given ``patients`` (n per unit) whose
      events are common (Σobserved/Σpatients above :data:`COMMON_OUTCOME_RATE`), the default
      (and "midp") is "isp", the indirectly standardised proportion with binomial variance (Spiegelhalter
      2005, Stat Med 24:1185); ``variance`` (Σp(1 − p) per unit) refines it. The peers'
      methods stay available: "exact" (exact binomial with Spiegelhalter interpolation /
      FunnelPlotR exact Poisson), "wilson" (PHE), "normal", "arcsine" (FunnelPlotR),
      "shmi", "cqc"; see :func:`.funnel.proportion_limits` and :func:`.funnel.ratio_limits`.
    * ``target`` defaults to Σnumerator/Σdenominator (proportions, over
      units with a positive denominator) or 1 (ratios).
    * ``overdispersion``: "auto" applies the additive (DerSimonian-Laird
      τ²) adjustment when φ > 1 (FunnelPlotR's default behaviour);
      "additive"/"multiplicative" apply that form, again only when φ > 1;
      "none" never adjusts. φ uses 10% Winsorisation, or 10% truncation for
      SHMI (``trim``); for the tail methods (midp, isp) the Winsorised φ is divided by its
      null expectation so that φ ≈ 1 when units vary by chance alone
      (:func:`.overdispersion.winsorised_null_mean_square`). Adjusted limits are the
      envelope of adjusted and unadjusted ones, so they never narrow.

    Rows sharing a unit identifier are summed first (FunnelPlotR
    ``aggregate_func``), so patient- or period-level rows may be passed;
    the output has one row per distinct unit in order of first appearance.
    ``exact_guard`` (default on; peer methods only, the tail methods need none) keeps a
    flag only where the exact one-sided Poisson/binomial test agrees
    (:func:`.flags.exact_test_guard`); pass False to compare with the limits alone, as
    FunnelPlotR does. Units with a missing or non-positive denominator get NaN values/limits
    and flag "none", and are left out of the target and φ. See :func:`unit_figures` for how
    each method flags and what ``z_adjusted`` is.
    """
    if kind not in ("proportion", "ratio"):
        raise ValueError(f"unknown kind {kind!r}; expected 'proportion' or 'ratio'")
    if overdispersion not in OVERDISPERSION_CHOICES:
        raise ValueError(f"unknown overdispersion {overdispersion!r}")
    m = _default_method(kind, method)
    if kind == "proportion" and (patients is not None or variance is not None):
        raise ValueError("patients and variance apply to ratios (indirectly standardised proportions)")
    if variance is not None and patients is None:
        raise ValueError("variance needs patients")

    unit_arr = np.asarray(units, dtype=object).reshape(-1)
    x = as_float(numerator).reshape(-1)
    n = as_float(denominator).reshape(-1)
    extra = {
        name: np.broadcast_to(as_float(values), x.shape).astype(float)
        for name, values in (("patients", patients), ("variance", variance))
        if values is not None
    }
    if not (unit_arr.size == x.size == n.size):
        raise ValueError("units, numerator and denominator must have the same length")
    if pd.Series(unit_arr).duplicated().any():
        # Several rows per unit (e.g. patient- or year-level records): sum
        # them first, as FunnelPlotR's aggregate_func does.
        grouped = (
            pd.DataFrame({"unit": unit_arr, "x": x, "n": n, **extra})
            .groupby("unit", sort=False, dropna=False)[["x", "n", *extra]]
            .sum(min_count=1)
        )
        unit_arr = grouped.index.to_numpy(dtype=object)
        x = grouped["x"].to_numpy(dtype=float)
        n = grouped["n"].to_numpy(dtype=float)
        extra = {name: grouped[name].to_numpy(dtype=float) for name in extra}
    if np.any(x[~np.isnan(x)] < 0):
        raise ValueError("numerators / observed counts must be non-negative")
    usable = np.isfinite(x) & (n > 0)
    if "patients" in extra:
        usable &= extra["patients"] > 0
    if kind == "proportion" and np.any(x[usable] > n[usable]):
        raise ValueError("a proportion's numerator cannot exceed its denominator")
    if not usable.any():
        raise ValueError("no unit has a usable numerator and positive denominator")
    pts = extra.get("patients")
    if kind == "ratio" and m == "midp" and pts is not None:
        if float(x[usable].sum() / pts[usable].sum()) > COMMON_OUTCOME_RATE:
            m = "isp"
    if m == "isp" and pts is None:
        raise ValueError("the isp method needs the number of patients of each unit (patients=)")
    if m == "isp" and "variance" not in extra and np.any(pts[usable] != np.round(pts[usable])):  # type: ignore[index]
        raise ValueError("the binomial isp method needs whole numbers of patients")

    if target is None:
        t = float(x[usable].sum() / n[usable].sum()) if kind == "proportion" else 1.0
    else:
        t = float(target)

    x_use = np.where(usable, x, np.nan)
    n_use = np.where(usable, n, np.nan)
    p_use = None if pts is None else np.where(usable, pts, np.nan)
    v_use = None if "variance" not in extra else np.where(usable, extra["variance"], np.nan)
    sizes = {"patients": p_use, "variance": v_use} if m == "isp" else {}
    est = estimate_overdispersion(kind, m, x_use, n_use, t, trim=trim, consistent=m in TAIL_METHODS, **sizes)
    phi, tau2 = est.phi, est.tau2
    applied = overdispersion != "none" and est.adjusted
    mode = ("additive" if overdispersion == "auto" else overdispersion) if applied else "none"

    figures = unit_figures(
        kind, m, t, x_use, n_use, tau2=tau2, phi=phi, overdispersion=mode, exact_guard=exact_guard, **sizes
    )
    z = decision_z(kind, m, t, x_use, n_use, **sizes) if m in TAIL_METHODS else est.z

    frame = pd.DataFrame(
        {
            "unit": unit_arr,
            "numerator": x,
            "denominator": n,
            **figures,
            "z": z,
        },
        columns=list(UNIT_COLUMNS),
    )
    return FunnelResult(
        kind=kind,
        method=m,
        target=t,
        phi=phi,
        tau2=tau2,
        n_units=est.n_units,
        overdispersion=mode,
        overdispersion_applied=applied,
        units=frame,
    )


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
    ``tau2``/``phi``/``overdispersion`` of a :class:`FunnelResult` to draw
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
    m = _default_method(kind, method)
    grid = np.geomspace(min_denominator, max_denominator, points)
    if kind == "proportion" and m in ("exact", "midp"):
        grid = np.unique(np.round(grid))
        grid = grid[grid > 0]
    patients = None
    if m == "isp":
        if event_rate is None or not 0 < event_rate <= 1:
            raise ValueError("isp curves need the national event rate (0 < event_rate <= 1)")
        patients = np.maximum(np.round(grid / event_rate), 1.0)  # whole patients, as the binomial needs
    lo95, hi95 = _limits(kind, m, float(target), grid, 0.95, tau2, phi, overdispersion, patients)
    lo998, hi998 = _limits(kind, m, float(target), grid, 0.998, tau2, phi, overdispersion, patients)
    return pd.DataFrame({"denominator": grid, "lower95": lo95, "upper95": hi95, "lower998": lo998, "upper998": hi998})
