"""Inequality statistics for a proportion broken down by group: each group's proportion with its Wilson
interval, and the slope index of inequality (SII) across ordered groups such as deprivation quintiles.

The SII follows PHEindicatormethods ``phe_sii`` for proportions (``value_type = 2``; UKHSA, the method
behind Fingertips; Low & Low, "Measuring the gap: quantifying and comparing local health
inequalities", J Public Health 2004;26:388-395):

- the groups are ordered from the most to the least deprived; each gets ``a``, its share of the
  population (the groups' denominators), and ``b``, the midpoint of its range in the cumulative
  population share (a first group of 12% of the patients has ``b = 0.06``);
- the group values are regressed on ``b`` weighted by ``a``: ``lm(y·√a ~ √a + b·√a - 1)``, which
  is weighted least squares with weights ``a``; the SII is the slope, the fitted value at ``b = 1``
  (least deprived) minus that at ``b = 0`` (most deprived): positive when the value rises as
  deprivation falls;
- its interval is found by simulation: each group's value is drawn from a normal distribution on the
  logit scale, around logit(p) with the standard error that its 95% Wilson limits give
  (``(logit(upper) - logit(lower)) / (2 × 1.96)``), transformed back, and the slope of every draw
  taken; the limits are the draws at the positions ``round(R × (1 - c'))`` and ``round(R × c')``
  (1-based) of the sorted slopes, ``c' = c + (1 - c) / 2``.

PHE draws 100,000 repetitions (R's ``rnorm``); the default here is 10,000 from numpy's PCG64 with a fixed
seed, so a run is reproducible and the limits differ from PHE's only by simulation noise (a few
thousandths of the SII's interval width). As PHE refuses them, no SII is given (NaN) when fewer than 2
groups are given, a group has no patients, or a group's proportion is 0 or 1 (its logit is infinite).

Pure numpy: no Django, no other app.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from .arrays import FloatArray, as_float
from .intervals import Z95, normalise_confidence, wilson_interval

__all__ = ["DEFAULT_REPETITIONS", "DEFAULT_SEED", "GroupProportions", "Slope", "group_proportions", "slope_index"]

#: Simulation draws for the SII's interval (PHE: 100,000; see the module's docstring).
DEFAULT_REPETITIONS = 10_000
#: The simulation's seed: the same counts always give the same interval.
DEFAULT_SEED = 20_040_388  # Low & Low 2004, 26:388


@dataclass(frozen=True)
class GroupProportions:
    """Each group's proportion and its Wilson interval (NaN for a group with no patients)."""

    value: FloatArray
    lower: FloatArray
    upper: FloatArray


@dataclass(frozen=True)
class Slope:
    """The SII and its interval; NaN, with ``reason``, when it cannot be computed."""

    sii: float
    lower: float
    upper: float
    reason: str = ""

    @property
    def computed(self) -> bool:
        return bool(np.isfinite(self.sii))


def group_proportions(numerator: ArrayLike, denominator: ArrayLike, confidence: float = 0.95) -> GroupProportions:
    """Proportion x/n of each group with its Wilson score interval (``indicators.stats.intervals``)."""
    x, n = np.broadcast_arrays(as_float(numerator), as_float(denominator))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n > 0, x / n, np.nan)
    lower, upper = wilson_interval(x, n, confidence)
    return GroupProportions(value=value.astype(float), lower=lower, upper=upper)


def _ranks(population: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``a`` (population share) and ``b`` (midpoint of the cumulative share) of groups in order."""
    a = population / population.sum()
    b = np.cumsum(a) - a / 2.0
    return a, b


def _slope_matrix(a: FloatArray, b: FloatArray) -> FloatArray:
    """The row of (XᵀX)⁻¹Xᵀ that gives the slope of ``y·√a ~ √a + b·√a - 1`` from ``y·√a``."""
    design = np.column_stack([np.sqrt(a), b * np.sqrt(a)])
    solved: FloatArray = np.linalg.solve(design.T @ design, design.T)[1]
    return solved


def _logit(p: FloatArray) -> FloatArray:
    logit: FloatArray = np.log(p / (1.0 - p))
    return logit


def slope_index(
    numerator: ArrayLike,
    denominator: ArrayLike,
    *,
    confidence: float = 0.95,
    repetitions: int = DEFAULT_REPETITIONS,
    seed: int = DEFAULT_SEED,
) -> Slope:
    """The SII of proportions ``numerator / denominator`` across groups given in order, most deprived first,
    with its ``confidence`` interval by simulation (PHEindicatormethods ``phe_sii``, ``value_type = 2``)."""
    x, n = (as_float(v).reshape(-1) for v in np.broadcast_arrays(as_float(numerator), as_float(denominator)))
    c = normalise_confidence(confidence)
    if repetitions < 1000:
        raise ValueError("repetitions must be at least 1000 (PHE's minimum)")
    if x.size < 2:
        return Slope(np.nan, np.nan, np.nan, "fewer than two groups")
    if not (np.all(np.isfinite(n)) and np.all(n > 0)):
        return Slope(np.nan, np.nan, np.nan, "a group has no patients")
    if not (np.all(np.isfinite(x)) and np.all(x > 0) and np.all(x < n)):
        return Slope(np.nan, np.nan, np.nan, "a group's proportion is 0% or 100%")
    a, b = _ranks(n)
    weights = _slope_matrix(a, b)
    p = x / n
    sii = float(weights @ (p * np.sqrt(a)))
    low95, high95 = wilson_interval(x, n, 0.95)  # PHE takes the standard error from the 95% limits
    se = (_logit(high95) - _logit(low95)) / (2.0 * Z95)
    draws = _logit(p) + se * _standard_normal(seed, repetitions, p.size)  # = rng.normal(_logit(p), se, size)
    upper_level = c + (1.0 - c) / 2.0
    low_at = max(int(np.round(repetitions * (1.0 - upper_level))), 1) - 1
    high_at = min(int(np.round(repetitions * upper_level)), repetitions) - 1
    # The two order statistics of the simulated slopes (a partial sort gives the same values as a full one).
    slopes = np.partition((1.0 / (1.0 + np.exp(-draws))) * np.sqrt(a) @ weights, [low_at, high_at])
    return Slope(sii, float(slopes[low_at]), float(slopes[high_at]))


@lru_cache(maxsize=16)
def _standard_normal(seed: int, repetitions: int, groups: int) -> FloatArray:
    """The simulation's standard normal draws, made once per seed and shape: every unit's SII uses the same seed,
    and ``Generator.normal(loc, scale)`` is ``loc + scale x`` these (read-only: shared)."""
    z: FloatArray = np.random.default_rng(seed).standard_normal(size=(repetitions, groups))
    z.flags.writeable = False
    return z
