"""High-level funnel analysis: one call from unit data to flagged results.

Used by the ``funnel`` management command and the computation jobs. It
combines :mod:`.intervals` (each unit's own confidence interval),
:mod:`.overdispersion` (φ, τ²), :mod:`.funnel` (control limits) and
:mod:`.flags` (HQIP alert/alarm), following Spiegelhalter (2005, Stat Med
24:1185; QSHC 14:347) and FunnelPlotR's ``funnel_plot`` workflow: estimate
overdispersion, use adjusted limits only when φ > 1 (and never narrower than the
unadjusted ones). The default method decides flags by one-sided mid-p tail probabilities
(:mod:`.tails`; Lancaster 1961, Agresti & Gottard 2007), the peers' methods flag units
strictly outside the limits in use. Each unit's figures against the funnel so estimated, and
the funnel's curves, are in :mod:`.figures` (their names are importable from here too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .arrays import as_float
from .figures import Kind, decision_z, default_method, funnel_curve, unit_figures
from .overdispersion import estimate_overdispersion
from .vocabulary import LIMITS, OVERDISPERSION_CHOICES, TAIL_METHODS, Overdispersion

__all__ = [
    "COMMON_OUTCOME_RATE",
    "FunnelResult",
    "Kind",
    "UNIT_COLUMNS",
    "decision_z",
    "funnel_analysis",
    "funnel_curve",
    "unit_figures",
]

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
    m = default_method(kind, method)
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
