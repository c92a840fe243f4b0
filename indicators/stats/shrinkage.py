"""Empirical-Bayes shrinkage of unit proportions (the beta-binomial model) and of ratios (the gamma-Poisson model).

Each unit i has x_i events in n_i patients. Its true rate θ_i is drawn from a beta prior with mean μ and
concentration M = a + b (a = μM, b = (1 − μ)M), and x_i ~ binomial(n_i, θ_i). The prior is estimated from all
units together; each unit's posterior is then Beta(a + x_i, b + n_i − x_i), whose mean

    θ̂_i = (a + x_i)/(M + n_i) = w_i·(x_i/n_i) + (1 − w_i)·μ,    w_i = n_i/(n_i + M),

pulls a small unit's crude rate towards the overall rate and leaves a large unit's nearly alone (Efron B & Morris C
1975, "Data analysis using Stein's estimator and its generalizations", JASA 70:311-319; Spiegelhalter DJ et al.
2012, "Statistical methods for healthcare regulation: rating, screening and surveillance", JRSS A 175:1-47).
The weight w_i is the unit's *reliability*: the share of the variance of its crude rate that is signal (between-
unit) rather than sampling noise, ρ = 1/(M + 1) being the intra-class correlation, since
Var(x_i/n_i) = μ(1 − μ)/n_i·(1 + (n_i − 1)ρ) of which μ(1 − μ)ρ is between units.

The prior is estimated by the method of moments (Kleinman JC 1973, "Proportions with extraneous variance: single
and independent samples", JASA 68:46-54, here with weights n_i) or by
maximum likelihood on the beta-binomial likelihood (Griffiths DA 1973, "Maximum likelihood estimation for the
beta-binomial distribution", Biometrics 29:637-648). The 95% intervals are the posterior beta quantiles with the
prior treated as known: they leave out the uncertainty in μ and M, so with few units they are too narrow (Kass RE &
Steffey D 1989, "Approximate Bayesian inference in conditionally independent hierarchical models", JASA
84:717-726, give a correction).

Risk-adjusted ratios (observed over expected events, O/E) shrink by the gamma-Poisson model in the same way. Unit i
has O_i observed events where its patients' risks predict E_i; its true ratio θ_i is drawn from a gamma prior with
shape α and rate β (mean μ = α/β, about 1 for O/E), and O_i ~ Poisson(E_i·θ_i). Its posterior is
Gamma(α + O_i, β + E_i), whose mean

    θ̂_i = (α + O_i)/(β + E_i) = w_i·(O_i/E_i) + (1 − w_i)·μ,    w_i = E_i/(E_i + β),

pulls a unit with few expected events towards μ. Here β, in expected events, plays the part of M: w_i is the share
of Var(O_i/E_i) = μ/E_i + μ/β that is between units (μ/β). The prior is estimated by Clayton D & Kaldor J 1987,
"Empirical Bayes estimates of age-standardized relative risks for use in disease mapping", Biometrics 43:671-681
(their method of moments) or by maximum likelihood on the negative binomial marginal of O_i (their other estimator,
with Lawless JF 1987, "Negative binomial and mixed Poisson regression", Can J Stat 15:209-225); the 95% intervals
are the posterior gamma quantiles, the prior again treated as known.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from .arrays import FloatArray, as_float

__all__ = [
    "PriorMethod",
    "BetaPrior",
    "GammaPrior",
    "Shrunk",
    "ShrunkProportions",
    "ShrunkRatios",
    "estimate_beta_prior",
    "estimate_gamma_prior",
    "shrink_proportions",
    "shrink_ratios",
]

PriorMethod = Literal["moments", "ml"]

#: Concentrations below this are raised to it, so that a prior estimated from units each at 0% or at 100% (ρ̂ >= 1)
#: still gives proper posteriors (a unit's own rate then carries all the weight).
_MIN_CONCENTRATION = 1e-6


@dataclass(frozen=True)
class _Prior:
    # What the beta and gamma priors share: a mean, a concentration (math.inf for a point mass at the mean), the
    # number of units it was estimated from and how.
    mean: float
    concentration: float
    units: int = 0
    method: str = "given"

    def __post_init__(self) -> None:
        if not self.concentration > 0.0:
            raise ValueError("the concentration must be positive (math.inf for no between-unit variation)")

    @property
    def alpha(self) -> float:
        """The first shape, mean x concentration: a = μM of a beta, α = μβ of a gamma (``math.inf`` for a
        point-mass prior)."""
        return self.mean * self.concentration if math.isfinite(self.concentration) else math.inf


class BetaPrior(_Prior):
    """A beta prior for unit rates: ``mean`` μ and ``concentration`` M = a + b (``math.inf`` when the units vary
    by chance alone, the prior a point mass at μ). ``units`` is the number of units it was estimated from,
    ``method`` how ("moments", "ml" or "given")."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if math.isfinite(self.concentration) and not 0.0 < self.mean < 1.0:
            raise ValueError("a prior with a finite concentration needs a mean strictly between 0 and 1")
        if not math.isnan(self.mean) and not 0.0 <= self.mean <= 1.0:
            raise ValueError("the prior mean must lie between 0 and 1")

    @property
    def beta(self) -> float:
        """b = (1 − μ)M (``math.inf`` for a point-mass prior)."""
        return (1.0 - self.mean) * self.concentration if math.isfinite(self.concentration) else math.inf

    @property
    def intraclass_correlation(self) -> float:
        """ρ = 1/(M + 1): 0 with no between-unit variation."""
        return 1.0 / (self.concentration + 1.0)

    @property
    def between_unit_sd(self) -> float:
        """Standard deviation of the true rates, √(μ(1 − μ)/(M + 1))."""
        return math.sqrt(self.mean * (1.0 - self.mean) / (self.concentration + 1.0))


Prior = TypeVar("Prior")
S = TypeVar("S", bound="Shrunk[Any]")


@dataclass(frozen=True, eq=False)
class Shrunk(Generic[Prior]):
    """Units' shrunken estimates, per unit in input order: ``crude`` the unit's own figure, ``estimate`` the
    posterior mean, ``lower``/``upper`` the equal-tailed posterior interval at ``level``, ``reliability`` the weight
    on the unit's own figure. NaN where the unit has no figure."""

    prior: Prior
    level: float
    crude: FloatArray = field(repr=False)
    estimate: FloatArray = field(repr=False)
    lower: FloatArray = field(repr=False)
    upper: FloatArray = field(repr=False)
    reliability: FloatArray = field(repr=False)


class ShrunkProportions(Shrunk[BetaPrior]):
    """Result of :func:`shrink_proportions`: ``crude`` x/n, ``reliability`` n/(n + M); NaN where the denominator is
    missing or zero."""


def _paired(
    counts: ArrayLike, over: ArrayLike, invalid: Callable[[FloatArray, FloatArray], NDArray[np.bool_]], problem: str
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    # (x, n, used): used marks units with a count and a positive, finite figure to set it against; ValueError
    # (``problem``) where a used unit's count is ``invalid``.
    x, n = np.broadcast_arrays(as_float(counts), as_float(over))
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore"):
        used = np.isfinite(x) & np.isfinite(n) & (n > 0)
        if np.any(used & invalid(x, n)):
            raise ValueError(problem)
    return x, n, np.asarray(used, dtype=bool)


def _units(numerators: ArrayLike, denominators: ArrayLike) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    # (x, n, used): used marks units with a numerator and a positive denominator.
    return _paired(
        numerators,
        denominators,
        lambda x, n: (x < 0) | (x > n),
        "each numerator must lie between 0 and its denominator",
    )


def _shrunk(
    result: Callable[..., S],
    prior: Any,
    level: float,
    crude: FloatArray,
    used: NDArray[np.bool_],
    posterior: Any = None,
    reliability: Any = None,
) -> S:
    # The result of units whose posteriors are the frozen scipy distribution ``posterior`` (any parameters where a
    # unit is not ``used``), with their ``reliability``; or, with a point-mass prior (no ``posterior``), the prior
    # mean, an interval of that single value and reliability 0. NaN where a unit is not used.
    nan = np.full(used.shape, np.nan)
    if posterior is None:
        centre = np.where(used, prior.mean, nan)
        return result(prior, float(level), crude, centre, centre.copy(), centre.copy(), np.where(used, 0.0, nan))
    tail = (1.0 - level) / 2.0
    figures = (posterior.mean(), posterior.ppf(tail), posterior.isf(tail), reliability)
    return result(prior, float(level), crude, *(np.asarray(np.where(used, f, nan), dtype=float) for f in figures))


def _moments(x: FloatArray, n: FloatArray) -> tuple[float, float]:
    # Kleinman (1973) with weights n_i. With μ̂ = Σx/Σn and S = Σ n_i (x_i/n_i − μ̂)²,
    # E[S] = μ(1 − μ)·((k − 1) + ρ·(N − Σn²/N − (k − 1))), solved for ρ (truncated at 0).
    k = x.size
    total = float(n.sum())
    mu = float(x.sum()) / total
    spread = mu * (1.0 - mu)
    denominator = total - float(np.sum(n * n)) / total - (k - 1)
    if k < 2 or spread <= 0.0 or denominator <= 0.0:
        return mu, math.inf
    s = float(np.sum(n * (x / n - mu) ** 2))
    rho = (s / spread - (k - 1)) / denominator
    if rho <= 0.0:
        return mu, math.inf
    if rho >= 1.0:
        return mu, _MIN_CONCENTRATION
    return mu, max((1.0 - rho) / rho, _MIN_CONCENTRATION)


def _exceeding(values: FloatArray) -> FloatArray:
    # c_j = number of units whose value exceeds j, for j = 0 .. max − 1.
    counts = np.bincount(values.astype(np.int64))
    return np.asarray(values.size - np.cumsum(counts)[:-1], dtype=float)


def _maximum_likelihood(x: FloatArray, n: FloatArray) -> tuple[float, float]:
    # Griffiths (1973)'s form of the beta-binomial log likelihood in μ and γ = 1/M, smooth down to γ = 0 (the
    # binomial), without the binomial coefficients:
    #   Σ_i [Σ_{j<x_i} log(μ + jγ) + Σ_{j<n_i−x_i} log(1 − μ + jγ) − Σ_{j<n_i} log(1 + jγ)],
    # each inner sum gathered over units as Σ_j c_j log(·) with c_j the number of units whose count exceeds j.
    if np.any(x != np.round(x)) or np.any(n != np.round(n)):
        raise ValueError("maximum likelihood needs whole numbers of events and patients")
    pooled = float(x.sum()) / float(n.sum())
    if x.size < 2 or pooled <= 0.0 or pooled >= 1.0:
        return pooled, math.inf
    # The score in γ at γ = 0, μ at the pooled rate, is ½(Σ(x − nμ)²/(μ(1 − μ)) − Σn) (Tarone RE 1979, "Testing
    # the goodness of fit of the binomial distribution", Biometrika 66:585-590). When it is not positive the
    # likelihood falls as soon as γ leaves 0: the maximum is the binomial, with no between-unit variation.
    if float(np.sum((x - n * pooled) ** 2)) / (pooled * (1.0 - pooled)) <= float(n.sum()):
        return pooled, math.inf
    c_events, c_others, c_all = _exceeding(x), _exceeding(n - x), _exceeding(n)
    j_events, j_others, j_all = (np.arange(c.size, dtype=float) for c in (c_events, c_others, c_all))
    scale = float(n.sum())

    def negative(params: FloatArray) -> tuple[float, FloatArray]:
        mu, gamma = float(params[0]), float(params[1])
        e = mu + j_events * gamma
        o = 1.0 - mu + j_others * gamma
        a = 1.0 + j_all * gamma
        value = float(c_events @ np.log(e) + c_others @ np.log(o) - c_all @ np.log(a))
        d_mu = float(c_events @ (1.0 / e) - c_others @ (1.0 / o))
        d_gamma = float(c_events @ (j_events / e) + c_others @ (j_others / o) - c_all @ (j_all / a))
        return -value / scale, -np.array([d_mu, d_gamma]) / scale

    _, m0 = _moments(x, n)
    start = np.array([pooled, 1.0 / m0 if math.isfinite(m0) else 0.0])
    fit = optimize.minimize(
        negative,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(1e-12, 1.0 - 1e-12), (0.0, 1.0 / _MIN_CONCENTRATION)],
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 1000},
    )
    mu, gamma = float(fit.x[0]), float(fit.x[1])
    if gamma <= 0.0:
        return pooled, math.inf
    return mu, 1.0 / gamma


def estimate_beta_prior(numerators: ArrayLike, denominators: ArrayLike, method: PriorMethod = "moments") -> BetaPrior:
    """The beta prior of the units' true rates, estimated from their events and denominators.

    ``method="moments"``: Kleinman (1973)'s weighted method of moments. The mean is the pooled rate Σx/Σn; the
    intra-class correlation ρ = 1/(M + 1) solves E[S] = S for S = Σn_i(x_i/n_i − μ)², whose expectation under the
    model is μ(1 − μ)·((k − 1) + ρ·(N − Σn_i²/N − (k − 1))) for k units and N = Σn_i. With equal n the weight on
    a unit's own rate is n/(n − 1)·(1 − (k − 1)σ²/Σ(y − ȳ)²), σ² = μ(1 − μ)/n: Efron & Morris (1975)'s
    positive-part James-Stein factor with (k − 1) in place of (k − 3).

    ``method="ml"``: maximum likelihood on the beta-binomial likelihood (Griffiths 1973), by L-BFGS-B over μ and
    1/M in Griffiths' form of the likelihood, which stays exact as 1/M reaches 0 (the binomial). The maximum is at
    M = ∞ when Tarone (1979)'s score for extra-binomial variation is not positive. Needs whole numbers.

    Units with a missing numerator or a missing or non-positive denominator are left out. When the rates vary no
    more than chance allows (ρ̂ <= 0, or the binomial fits as well), when every unit is at 0% or every one at 100%,
    or with fewer than two units, the concentration is ``math.inf`` and the prior mean the pooled rate (NaN with no
    units). Raises ``ValueError`` for a numerator below 0 or above its denominator.
    """
    if method not in ("moments", "ml"):
        raise ValueError(f"unknown method {method!r}; expected 'moments' or 'ml'")
    x, n, used = _units(numerators, denominators)
    xs, ns = x[used].ravel(), n[used].ravel()
    if xs.size == 0:
        return BetaPrior(math.nan, math.inf, 0, method)
    mu, concentration = _moments(xs, ns) if method == "moments" else _maximum_likelihood(xs, ns)
    return BetaPrior(mu, concentration, int(xs.size), method)


def shrink_proportions(
    numerators: ArrayLike,
    denominators: ArrayLike,
    *,
    prior: BetaPrior | None = None,
    method: PriorMethod = "moments",
    level: float = 0.95,
) -> ShrunkProportions:
    """Empirical-Bayes (shrunken) rates of units with a beta prior (Efron & Morris 1975; Spiegelhalter et al.
    2012).

    ``prior`` defaults to :func:`estimate_beta_prior` of the same units by ``method``. Per unit: the posterior mean
    (a + x)/(M + n), the equal-tailed ``level`` interval of Beta(a + x, b + n − x) and the reliability n/(n + M).
    With no between-unit variation (M = ∞) every unit gets the prior mean, an interval of that single value and
    reliability 0. The interval treats the prior as known (Kass & Steffey 1989 on the extra width it omits).
    NaN for units whose denominator is missing or zero, or whose numerator is missing.
    """
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    x, n, mask = _units(numerators, denominators)
    if prior is None:
        prior = estimate_beta_prior(x, n, method)
    with np.errstate(invalid="ignore", divide="ignore"):
        crude = np.where(mask, x / n, np.nan)
    if not math.isfinite(prior.concentration):
        return _shrunk(ShrunkProportions, prior, level, crude, mask)
    xs = np.where(mask, x, 0.0)
    ns = np.where(mask, n, 0.0)
    posterior = stats.beta(prior.alpha + xs, prior.beta + ns - xs)
    return _shrunk(ShrunkProportions, prior, level, crude, mask, posterior, ns / (ns + prior.concentration))


# ------------------------------------------------------------------ ratios: the gamma-Poisson model

#: The Clayton & Kaldor iteration stops when the prior's mean and variance change by less than this, relatively.
_TOLERANCE = 1e-10
_MAX_ITERATIONS = 10_000


class GammaPrior(_Prior):
    """A gamma prior for units' true ratios θ (observed over expected events): ``mean`` μ = α/β and
    ``concentration`` β, the prior's weight in expected events (``math.inf`` when the units vary by chance alone,
    the prior a point mass at μ). ``units`` is the number of units it was estimated from, ``method`` how
    ("moments", "ml" or "given")."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if math.isfinite(self.concentration) and not 0.0 < self.mean < math.inf:
            raise ValueError("a prior with a finite concentration needs a positive, finite mean")
        if not math.isnan(self.mean) and not self.mean >= 0.0:
            raise ValueError("the prior mean must not be negative")

    @property
    def beta(self) -> float:
        """The rate β, in expected events (``math.inf`` for a point-mass prior)."""
        return self.concentration

    @property
    def between_unit_sd(self) -> float:
        """Standard deviation of the true ratios, √(μ/β) = √α/β: 0 with no between-unit variation."""
        return math.sqrt(self.mean / self.concentration)


class ShrunkRatios(Shrunk[GammaPrior]):
    """Result of :func:`shrink_ratios`: ``crude`` O/E, ``reliability`` E/(E + β); NaN where the expected events are
    missing or zero, or the observed are missing."""


def _ratio_units(observed: ArrayLike, expected: ArrayLike) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    # (o, e, used): used marks units with an observed count and positive, finite expected events.
    return _paired(observed, expected, lambda o, e: o < 0, "observed events cannot be negative")


def _poisson_enough(o: FloatArray, e: FloatArray, mean: float | None) -> tuple[float, bool]:
    # The prior mean (``mean`` when known, else the pooled ratio ΣO/ΣE), and whether the units vary no more than
    # Poisson chance allows about it: Pearson's Σ(O − μE)²/(μE) at most its expectation (k − 1, or k with μ known)
    # under no between-unit variation. Then the moment equations have no solution with a finite β (the iteration
    # drives β to infinity) and the prior is the point mass at μ.
    mu = float(o.sum()) / float(e.sum()) if mean is None else mean
    if o.size < (2 if mean is None else 1) or mu <= 0.0:
        return mu, True
    pearson = float(np.sum((o - mu * e) ** 2 / (mu * e)))
    return mu, pearson <= o.size - (1 if mean is None else 0)


def _clayton_kaldor(o: FloatArray, e: FloatArray, known: float | None = None) -> tuple[float, float]:
    # Clayton & Kaldor (1987), the method of moments: with θ̂_i = (O_i + α)/(E_i + β), solve
    #   μ = α/β = (1/k) Σ θ̂_i,    σ² = α/β² = 1/(k − 1) Σ (1 + β/E_i)(θ̂_i − μ)²
    # by iterating from the crude ratios' moments (as DCluster's empbaysmooth does). With μ ``known`` only the
    # second equation is solved, its divisor k (no mean estimated).
    pooled, chance = _poisson_enough(o, e, known)
    if chance:
        return pooled, math.inf
    k = o.size
    crude = o / e
    mean = float(crude.mean()) if known is None else known
    variance = float(np.mean((crude - mean) ** 2)) if known is not None else float(crude.var(ddof=1))
    if not variance > 0.0:
        return pooled, math.inf
    for _ in range(_MAX_ITERATIONS):
        alpha, beta = mean * mean / variance, mean / variance
        theta = (o + alpha) / (e + beta)
        new_mean = float(theta.mean()) if known is None else known
        spread = float(np.sum((1.0 + beta / e) * (theta - new_mean) ** 2))
        new_variance = spread / (k - 1) if known is None else spread / k
        if not new_variance > 0.0 or not new_mean > 0.0:
            return pooled, math.inf
        settled = abs(new_mean - mean) <= _TOLERANCE * (new_mean + mean) and abs(
            new_variance - variance
        ) <= _TOLERANCE * (new_variance + variance)
        mean, variance = new_mean, new_variance
        if settled:
            break
    return mean, max(mean / variance, _MIN_CONCENTRATION)


def _log1p_over(e: FloatArray, gamma: float) -> tuple[FloatArray, FloatArray]:
    # g(γ) = log(1 + Eγ)/γ and its derivative g'(γ) = (Eγ/(1 + Eγ) − log(1 + Eγ))/γ², by their series where Eγ is
    # small (both are smooth at γ = 0: g(0) = E, g'(0) = −E²/2).
    x = e * gamma
    small = x < 1e-4
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(small, e * (1.0 - x / 2.0 + x * x / 3.0), np.log1p(x) / gamma)
        dg = np.where(small, e * e * (-0.5 + 2.0 * x / 3.0 - 0.75 * x * x), (x / (1.0 + x) - np.log1p(x)) / gamma**2)
    return np.asarray(g, dtype=float), np.asarray(dg, dtype=float)


def _negative_binomial(o: FloatArray, e: FloatArray, known: float | None = None) -> tuple[float, float]:
    # Maximum likelihood on the negative binomial marginal of O_i (Clayton & Kaldor 1987; Lawless 1987), in μ and
    # γ = 1/β so that it stays exact down to γ = 0 (the Poisson). With α = μ/γ and without the terms free of μ, γ:
    #   Σ_i [Σ_{j<O_i} log(μ + jγ) − (O_i + μ/γ)·log(1 + E_iγ)],
    # the inner sum gathered over units as Σ_j c_j log(μ + jγ), c_j the number of units with more than j events.
    if np.any(o != np.round(o)):
        raise ValueError("maximum likelihood needs whole numbers of observed events")
    pooled = float(o.sum()) / float(e.sum()) if known is None else known
    if o.size < (2 if known is None else 1) or pooled <= 0.0:
        return pooled, math.inf
    # The score in γ at γ = 0, μ at the pooled ratio (or the known one), is (Σ(O − μE)² − ΣO)/(2μ) (Dean C &
    # Lawless JF 1989, "Tests for detecting overdispersion in Poisson regression models", JASA 84:467-472): not
    # positive, the likelihood falls as soon as γ leaves 0, and the maximum is the Poisson.
    if float(np.sum((o - pooled * e) ** 2)) <= float(o.sum()):
        return pooled, math.inf
    c = _exceeding(o)
    j = np.arange(c.size, dtype=float)
    scale = float(o.sum())

    def negative(params: FloatArray) -> tuple[float, FloatArray]:
        mu, gamma = float(params[0]), float(params[1])
        g, dg = _log1p_over(e, gamma)
        inner = mu + j * gamma
        log1p = np.log1p(e * gamma)
        value = float(c @ np.log(inner) - o @ log1p - mu * g.sum())
        d_mu = float(c @ (1.0 / inner) - g.sum())
        d_gamma = float(c @ (j / inner) - o @ (e / (1.0 + e * gamma)) - mu * dg.sum())
        return -value / scale, -np.array([d_mu, d_gamma]) / scale

    _, beta0 = _clayton_kaldor(o, e, known)
    start = np.array([pooled, 1.0 / beta0 if math.isfinite(beta0) else 0.0])
    fit = optimize.minimize(
        negative,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(1e-12, None) if known is None else (known, known), (0.0, 1.0 / _MIN_CONCENTRATION)],
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 1000},
    )
    mu, gamma = float(fit.x[0]), float(fit.x[1])
    if gamma <= 0.0:
        return pooled, math.inf
    return mu, 1.0 / gamma


def estimate_gamma_prior(
    observed: ArrayLike, expected: ArrayLike, method: PriorMethod = "moments", *, mean: float | None = None
) -> GammaPrior:
    """The gamma prior of the units' true ratios, estimated from their observed and expected events.

    ``method="moments"``: Clayton & Kaldor (1987)'s method of moments, iterated to its fixed point: the prior mean
    is the average of the units' posterior means (α + O_i)/(β + E_i), and its variance α/β² their spread about it,
    each weighted by 1 + β/E_i. ``method="ml"``: maximum likelihood on the negative binomial marginal of the
    observed events (Clayton & Kaldor 1987; Lawless 1987), by L-BFGS-B over μ and 1/β, exact as 1/β reaches 0
    (the Poisson); needs whole numbers of observed events.

    ``mean``: the prior mean when it is known rather than estimated (1 for the O/E of a risk model calibrated so
    that England's O/E is 1): only β is then estimated, the moments' divisor k rather than k − 1. A known mean keeps
    a prior estimated from a selection of the units (those a disclosure rule lets through) centred where it must be.

    Units with a missing count or missing or non-positive expected events are left out. When the ratios vary no
    more than Poisson chance allows (Pearson's statistic at most k − 1 for the moments, Dean & Lawless (1989)'s
    score not positive for maximum likelihood), when no unit has an event, or with fewer than two units, the
    concentration is ``math.inf`` and the prior mean the pooled ratio ΣO/ΣE or the known one (NaN with no units
    and no known mean). Raises ``ValueError`` for a negative count or a known mean that is not positive.
    """
    if method not in ("moments", "ml"):
        raise ValueError(f"unknown method {method!r}; expected 'moments' or 'ml'")
    if mean is not None and not 0.0 < mean < math.inf:
        raise ValueError("a known prior mean must be positive and finite")
    o, e, used = _ratio_units(observed, expected)
    os_, es = o[used].ravel(), e[used].ravel()
    if os_.size == 0:
        return GammaPrior(math.nan if mean is None else mean, math.inf, 0, method)
    estimate = _clayton_kaldor if method == "moments" else _negative_binomial
    mu, concentration = estimate(os_, es, mean)
    return GammaPrior(mu, concentration, int(os_.size), method)


def shrink_ratios(
    observed: ArrayLike,
    expected: ArrayLike,
    *,
    prior: GammaPrior | None = None,
    method: PriorMethod = "moments",
    mean: float | None = None,
    level: float = 0.95,
) -> ShrunkRatios:
    """Empirical-Bayes (shrunken) observed/expected ratios of units with a gamma prior (Clayton & Kaldor 1987).

    ``prior`` defaults to :func:`estimate_gamma_prior` of the same units by ``method`` (with its mean ``mean`` when
    that is known). Per unit: the posterior mean (α + O)/(β + E), the equal-tailed ``level`` interval of
    Gamma(α + O, β + E) and the reliability E/(E + β). With no between-unit variation (β = ∞) every unit gets the
    prior mean, an interval of that single value and reliability 0. The interval treats the prior as known. NaN for
    units whose expected events are missing or zero, or whose observed count is missing.
    """
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    o, e, mask = _ratio_units(observed, expected)
    if prior is None:
        prior = estimate_gamma_prior(o, e, method, mean=mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        crude = np.where(mask, o / e, np.nan)
    if not math.isfinite(prior.concentration):
        return _shrunk(ShrunkRatios, prior, level, crude, mask)
    os_ = np.where(mask, o, 0.0)
    es = np.where(mask, e, 1.0)
    posterior = stats.gamma(prior.alpha + os_, scale=1.0 / (prior.beta + es))
    return _shrunk(ShrunkRatios, prior, level, crude, mask, posterior, es / (es + prior.beta))
