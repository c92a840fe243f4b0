"""High-level funnel analysis: one call from unit data to flagged results.

Used by the ``funnel`` management command and the computation jobs. It
combines :mod:`.intervals` (each unit's own confidence interval),
:mod:`.overdispersion` (φ, τ²), :mod:`.funnel` (control limits) and
:mod:`.flags` (HQIP alert/alarm), following Spiegelhalter (2005, Stat Med
24:1185; QSHC 14:347) and FunnelPlotR's ``funnel_plot`` workflow: estimate
overdispersion, use adjusted limits only when φ > 1, flag units strictly
outside the limits in use.
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
from .funnel import PROPORTION_METHODS, RATIO_METHODS, proportion_limits, ratio_limits
from .intervals import ratio_interval, wilson_interval
from .overdispersion import estimate_overdispersion, standard_errors, z_scores

__all__ = ["FunnelResult", "funnel_analysis", "funnel_curve", "unit_figures", "UNIT_COLUMNS"]

Kind = Literal["proportion", "ratio"]
Overdispersion = Literal["auto", "none", "additive", "multiplicative"]

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
    "limit_lower_95",
    "limit_upper_95",
    "limit_lower_998",
    "limit_upper_998",
    "limit_lower_95_unadjusted",
    "limit_upper_95_unadjusted",
    "limit_lower_998_unadjusted",
    "limit_upper_998_unadjusted",
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
    overdispersion_requested: str
    overdispersion: str
    overdispersion_applied: bool
    units: pd.DataFrame = field(repr=False)


def _default_method(kind: str, method: str | None) -> str:
    allowed = PROPORTION_METHODS if kind == "proportion" else RATIO_METHODS
    m = "exact" if method is None else method
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
) -> tuple[np.ndarray, np.ndarray]:
    if kind == "proportion":
        return proportion_limits(
            target, denominator, confidence, method=method, tau2=tau2, phi=phi, overdispersion=overdispersion
        )
    return ratio_limits(
        denominator, confidence, method=method, target=target, tau2=tau2, phi=phi, overdispersion=overdispersion
    )


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
) -> dict[str, np.ndarray]:
    """Each unit's figures against a funnel whose target and overdispersion are already known.

    ``value`` (x/n, or O/E), its 95% and 99.8% intervals (Wilson for proportions, PHEindicatormethods;
    exact Poisson for O/E), the control limits at the unit's denominator or expected count with
    ``overdispersion`` ("none", "additive" or "multiplicative", as applied) and unadjusted
    (``limit_*_unadjusted``), and ``z_adjusted``: the z-score on the method's own scale divided by
    the inflated standard deviation, so that |z_adjusted| > 1.96 matches the limits in use
    (Spiegelhalter 2005, QSHC 14:347). :func:`funnel_analysis` uses it for its units; the
    published figures of a unit (computed from its rounded counts, indicators.disclosure) use it
    with the funnel's stored target, tau2 and phi.
    """
    x, n = np.broadcast_arrays(as_float(numerator), as_float(denominator))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = x / np.where(n > 0, n, np.nan)
    if kind == "proportion":
        ci_lo, ci_hi = wilson_interval(x, n, 0.95)
        ci_lo998, ci_hi998 = wilson_interval(x, n, 0.998)
    else:
        ci_lo, ci_hi = ratio_interval(x, n, 0.95, method="exact")
        ci_lo998, ci_hi998 = ratio_interval(x, n, 0.998, method="exact")
    raw = {conf: _limits(kind, method, target, n, conf, 0.0, 1.0, "none") for conf in (0.95, 0.998)}
    used = (
        raw
        if overdispersion == "none"
        else {conf: _limits(kind, method, target, n, conf, tau2, phi, overdispersion) for conf in (0.95, 0.998)}
    )
    z = z_scores(kind, method, x, n, target)
    if overdispersion == "additive":
        s = standard_errors(kind, method, n, target)
        with np.errstate(invalid="ignore", divide="ignore"):
            z_adj = z * s / np.sqrt(s * s + tau2)
    elif overdispersion == "multiplicative":
        z_adj = z / math.sqrt(phi)
    else:
        z_adj = z.copy()
    return {
        "value": value,
        "ci_lower": ci_lo,
        "ci_upper": ci_hi,
        "ci_lower_998": ci_lo998,
        "ci_upper_998": ci_hi998,
        "z_adjusted": z_adj,
        "limit_lower_95": used[0.95][0],
        "limit_upper_95": used[0.95][1],
        "limit_lower_998": used[0.998][0],
        "limit_upper_998": used[0.998][1],
        "limit_lower_95_unadjusted": raw[0.95][0],
        "limit_upper_95_unadjusted": raw[0.95][1],
        "limit_lower_998_unadjusted": raw[0.998][0],
        "limit_upper_998_unadjusted": raw[0.998][1],
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
) -> FunnelResult:
    """Funnel-plot analysis of one indicator across units.

    ``kind="proportion"``: numerator events out of denominator patients,
    value p = x/n, unit CI by Wilson (PHE). ``kind="ratio"``: observed over
    expected (risk-adjusted O/E), value O/E, unit CI exact Poisson.

    * ``method`` defaults to "exact" (exact binomial with Spiegelhalter
      interpolation / FunnelPlotR exact Poisson); see
      :func:`.funnel.proportion_limits` and :func:`.funnel.ratio_limits`.
    * ``target`` defaults to Σnumerator/Σdenominator (proportions, over
      units with a positive denominator) or 1 (ratios).
    * ``overdispersion``: "auto" applies the additive (DerSimonian-Laird
      τ²) adjustment when φ > 1 (FunnelPlotR's default behaviour);
      "additive"/"multiplicative" apply that form, again only when φ > 1;
      "none" never adjusts. φ uses 10% Winsorisation, or 10% truncation for
      SHMI (``trim``).

    Rows sharing a unit identifier are summed first (FunnelPlotR
    ``aggregate_func``), so patient- or period-level rows may be passed;
    the output has one row per distinct unit in order of first appearance.
    ``exact_guard`` (default on) keeps a flag only where the exact one-sided
    Poisson/binomial test agrees (:func:`.flags.exact_test_guard`), so zero
    events with a small expected count are not flagged; pass False to compare
    with the limits alone, as FunnelPlotR does.
    Units with a missing or non-positive denominator get NaN values/limits
    and flag "none", and are left out of the target and φ. Flags compare
    the value with the limits in use (``limit_*``), strictly.
    """
    if kind not in ("proportion", "ratio"):
        raise ValueError(f"unknown kind {kind!r}; expected 'proportion' or 'ratio'")
    if overdispersion not in ("auto", "none", "additive", "multiplicative"):
        raise ValueError(f"unknown overdispersion {overdispersion!r}")
    m = _default_method(kind, method)

    unit_arr = np.asarray(units, dtype=object).reshape(-1)
    x = as_float(numerator).reshape(-1)
    n = as_float(denominator).reshape(-1)
    if not (unit_arr.size == x.size == n.size):
        raise ValueError("units, numerator and denominator must have the same length")
    if pd.Series(unit_arr).duplicated().any():
        # Several rows per unit (e.g. patient- or year-level records): sum
        # them first, as FunnelPlotR's aggregate_func does.
        grouped = (
            pd.DataFrame({"unit": unit_arr, "x": x, "n": n})
            .groupby("unit", sort=False, dropna=False)[["x", "n"]]
            .sum(min_count=1)
        )
        unit_arr = grouped.index.to_numpy(dtype=object)
        x = grouped["x"].to_numpy(dtype=float)
        n = grouped["n"].to_numpy(dtype=float)
    if np.any(x[~np.isnan(x)] < 0):
        raise ValueError("numerators / observed counts must be non-negative")
    usable = np.isfinite(x) & (n > 0)
    if kind == "proportion" and np.any(x[usable] > n[usable]):
        raise ValueError("a proportion's numerator cannot exceed its denominator")
    if not usable.any():
        raise ValueError("no unit has a usable numerator and positive denominator")

    if target is None:
        t = float(x[usable].sum() / n[usable].sum()) if kind == "proportion" else 1.0
    else:
        t = float(target)

    x_use = np.where(usable, x, np.nan)
    n_use = np.where(usable, n, np.nan)
    est = estimate_overdispersion(kind, m, x_use, n_use, t, trim=trim)
    phi, tau2 = est.phi, est.tau2
    applied = overdispersion != "none" and est.adjusted
    mode = ("additive" if overdispersion == "auto" else overdispersion) if applied else "none"

    figures = unit_figures(kind, m, t, x_use, n_use, tau2=tau2, phi=phi, overdispersion=mode)
    flags = outlier_flags(
        figures["value"],
        figures["limit_lower_95"],
        figures["limit_upper_95"],
        figures["limit_lower_998"],
        figures["limit_upper_998"],
    )
    if exact_guard:
        flags = exact_test_guard(flags, x_use, n_use, t, kind)

    frame = pd.DataFrame(
        {
            "unit": unit_arr,
            "numerator": x,
            "denominator": n,
            **figures,
            "z": est.z,
            "flag": flags,
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
        overdispersion_requested=overdispersion,
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
) -> pd.DataFrame:
    """Smooth control-limit curves for drawing a funnel plot.

    Denominators (or expected counts) are spaced geometrically from
    ``min_denominator`` to ``max_denominator`` so the curved small-n end is
    well resolved (FunnelPlotR and PHE both use dense grids for the same
    reason). For exact binomial proportion limits the grid is rounded to
    whole numbers and de-duplicated, since n must be an integer. Pass the
    ``tau2``/``phi``/``overdispersion`` of a :class:`FunnelResult` to draw
    the limits it used.

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
    if kind == "proportion" and m == "exact":
        grid = np.unique(np.round(grid))
        grid = grid[grid > 0]
    lo95, hi95 = _limits(kind, m, float(target), grid, 0.95, tau2, phi, overdispersion)
    lo998, hi998 = _limits(kind, m, float(target), grid, 0.998, tau2, phi, overdispersion)
    return pd.DataFrame({"denominator": grid, "lower95": lo95, "upper95": hi95, "lower998": lo998, "upper998": hi998})
