"""Empirical-Bayes shrinkage of proportions (indicators.stats.shrinkage).

The truths are either a beta prior the test draws units from (fixed seeds) or the published baseball example of
Efron & Morris (1975), never the code's own earlier output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import special, stats

from indicators.stats.shrinkage import BetaPrior, PriorMethod, estimate_beta_prior, shrink_proportions

METHODS: tuple[PriorMethod, ...] = ("moments", "ml")

pytestmark = pytest.mark.filterwarnings("error")


def _simulate(
    seed: int, units: int, mean: float, concentration: float, low: int, high: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Units whose true rates are Beta(μM, (1 − μ)M) and whose denominators are uniform on [low, high]."""
    rng = np.random.default_rng(seed)
    theta = rng.beta(mean * concentration, (1.0 - mean) * concentration, size=units)
    n = rng.integers(low, high + 1, size=units)
    x = rng.binomial(n, theta)
    return x, n, theta


@pytest.mark.parametrize("method", METHODS)
def test_prior_recovers_a_known_beta_prior(method: PriorMethod) -> None:
    # 2,000 units from Beta(μ = 0.2, M = 50): ρ = 1/51, between-unit SD = √(0.16/51) = 0.056.
    x, n, _ = _simulate(seed=14, units=2000, mean=0.2, concentration=50.0, low=20, high=400)
    prior = estimate_beta_prior(x, n, method=method)
    assert prior.units == 2000 and prior.method == method
    assert prior.mean == pytest.approx(0.2, abs=0.005)
    assert prior.between_unit_sd == pytest.approx(math.sqrt(0.16 / 51), rel=0.1)
    assert prior.concentration == pytest.approx(50.0, rel=0.2)


@pytest.mark.parametrize("method", METHODS)
def test_shrunken_rates_are_closer_to_the_truth_than_crude_rates(method: PriorMethod) -> None:
    # Small units (10-60 patients) around a prior with real spread: the posterior mean has lower mean squared error
    # against the true rates than x/n (Efron & Morris 1975).
    x, n, theta = _simulate(seed=3, units=500, mean=0.3, concentration=20.0, low=10, high=60)
    result = shrink_proportions(x, n, method=method)
    crude_mse = float(np.mean((result.crude - theta) ** 2))
    shrunk_mse = float(np.mean((result.estimate - theta) ** 2))
    assert shrunk_mse < 0.75 * crude_mse
    np.testing.assert_allclose(result.crude, x / n)


@pytest.mark.parametrize("method", METHODS)
def test_intervals_cover_the_true_rates_about_95_percent_of_the_time(method: PriorMethod) -> None:
    x, n, theta = _simulate(seed=7, units=4000, mean=0.15, concentration=30.0, low=10, high=200)
    result = shrink_proportions(x, n, method=method)
    covered = (result.lower <= theta) & (theta <= result.upper)
    # Binomial SE of the coverage with 4,000 units is 0.0034; allow about 3 SE.
    assert float(covered.mean()) == pytest.approx(0.95, abs=0.01)
    assert np.all(result.lower <= result.estimate) and np.all(result.estimate <= result.upper)


def test_maximum_likelihood_is_the_maximum_of_the_beta_binomial_likelihood() -> None:
    # Checked with scipy's own beta-binomial distribution: moving μ or M either way lowers the likelihood.
    x, n, _ = _simulate(seed=21, units=300, mean=0.4, concentration=15.0, low=5, high=80)
    prior = estimate_beta_prior(x, n, method="ml")

    def log_likelihood(mu: float, m: float) -> float:
        return float(stats.betabinom.logpmf(x, n, mu * m, (1 - mu) * m).sum())

    best = log_likelihood(prior.mean, prior.concentration)
    for mu, m in [(prior.mean * 1.01, prior.concentration), (prior.mean * 0.99, prior.concentration)] + [
        (prior.mean, prior.concentration * f) for f in (0.95, 1.05)
    ]:
        assert log_likelihood(mu, m) < best


def test_maximum_likelihood_without_extra_binomial_variation_is_the_binomial() -> None:
    # Rates spread less than binomial chance (Tarone's score negative): any finite M has a lower likelihood than
    # the binomial at the pooled rate, so the estimate is M = ∞.
    x = np.array([10, 11, 9, 10, 10, 11, 9])
    n = np.full(7, 100)
    prior = estimate_beta_prior(x, n, method="ml")
    assert math.isinf(prior.concentration)
    binomial = float(np.sum(stats.binom.logpmf(x, n, prior.mean)))
    for m in (10.0, 1e3, 1e5):
        assert float(np.sum(stats.betabinom.logpmf(x, n, prior.mean * m, (1 - prior.mean) * m))) < binomial
    with pytest.raises(ValueError):
        estimate_beta_prior([1.5, 2], [10, 10], method="ml")


def test_posterior_of_a_given_prior_by_hand() -> None:
    # Beta(2, 8) prior (μ = 0.2, M = 10), 3 events in 10: posterior Beta(5, 15), mean 0.25, reliability 10/20.
    # Beta(5, 15)'s 2.5% and 97.5% quantiles: regularised incomplete beta I_x(5, 15) = 0.025 / 0.975.
    result = shrink_proportions([3], [10], prior=BetaPrior(0.2, 10.0))
    assert result.estimate[0] == pytest.approx(0.25, rel=1e-12)
    assert result.reliability[0] == pytest.approx(0.5, rel=1e-12)
    assert special.betainc(5, 15, result.lower[0]) == pytest.approx(0.025, rel=1e-9)
    assert special.betainc(5, 15, result.upper[0]) == pytest.approx(0.975, rel=1e-9)
    # The posterior mean is the reliability-weighted average of the crude rate and the prior mean.
    assert result.estimate[0] == pytest.approx(0.5 * 0.3 + 0.5 * 0.2, rel=1e-12)


def test_reliability_is_the_signal_share_of_the_crude_variance() -> None:
    # Var(x/n) = μ(1 − μ)/n·(1 + (n − 1)ρ), of which μ(1 − μ)ρ is between units; ρ = 1/(M + 1).
    mu, m = 0.1, 40.0
    rho = 1.0 / (m + 1.0)
    n = np.array([1.0, 10.0, 100.0, 1000.0])
    result = shrink_proportions(np.zeros_like(n), n, prior=BetaPrior(mu, m))
    signal = mu * (1 - mu) * rho
    total = mu * (1 - mu) / n * (1 + (n - 1) * rho)
    np.testing.assert_allclose(result.reliability, signal / total, rtol=1e-12)


def test_no_between_unit_variation_shrinks_everything_to_the_overall_rate() -> None:
    # Every unit at exactly 10%: the spread is less than binomial chance allows, so M = ∞.
    x = np.array([5, 10, 20, 40])
    n = np.array([50, 100, 200, 400])
    for method in METHODS:
        result = shrink_proportions(x, n, method=method)
        assert math.isinf(result.prior.concentration)
        assert result.prior.intraclass_correlation == 0.0
        np.testing.assert_allclose(result.estimate, 0.1)
        np.testing.assert_allclose(result.lower, 0.1)
        np.testing.assert_allclose(result.upper, 0.1)
        np.testing.assert_array_equal(result.reliability, 0.0)


def test_units_varying_by_chance_alone_mostly_get_no_between_unit_variance() -> None:
    # 200 units all with true rate 0.25: ρ̂ is truncated at 0 about half the time; the weight on the units' own
    # rates stays small either way.
    rng = np.random.default_rng(11)
    n = rng.integers(30, 300, size=200)
    x = rng.binomial(n, 0.25)
    result = shrink_proportions(x, n)
    assert result.prior.mean == pytest.approx(x.sum() / n.sum())
    assert float(np.nanmax(result.reliability)) < 0.3


def test_all_units_at_zero_events() -> None:
    result = shrink_proportions([0, 0, 0], [10, 20, 30])
    assert result.prior.mean == 0.0 and math.isinf(result.prior.concentration)
    np.testing.assert_array_equal(result.estimate, 0.0)
    np.testing.assert_array_equal(result.reliability, 0.0)
    assert math.isinf(estimate_beta_prior([0, 0, 0], [10, 20, 30], method="ml").concentration)


def test_zero_and_missing_denominators_give_nan_and_are_left_out() -> None:
    x = np.array([5, 0, 20, np.nan, 40, 3])
    n = np.array([50, 0, 100, 60, 400, np.nan])
    result = shrink_proportions(x, n, prior=BetaPrior(0.1, 30.0))
    for field in (result.crude, result.estimate, result.lower, result.upper, result.reliability):
        assert np.isnan(field[[1, 3, 5]]).all()
        assert np.isfinite(field[[0, 2, 4]]).all()
    # Left out of the estimated prior: the same as the prior of the three usable units.
    with_gaps = estimate_beta_prior(x, n)
    without = estimate_beta_prior([5, 20, 40], [50, 100, 400])
    assert with_gaps.mean == without.mean and with_gaps.units == 3


def test_too_few_units_and_no_units() -> None:
    one = shrink_proportions([3], [10])
    assert math.isinf(one.prior.concentration) and one.estimate[0] == pytest.approx(0.3)
    none = estimate_beta_prior([np.nan], [0])
    assert none.units == 0 and math.isnan(none.mean)
    assert np.isnan(shrink_proportions([1], [0]).estimate[0])


def test_invalid_input_is_refused() -> None:
    with pytest.raises(ValueError):
        shrink_proportions([11], [10])
    with pytest.raises(ValueError):
        shrink_proportions([-1], [10])
    with pytest.raises(ValueError):
        shrink_proportions([1], [10], level=1.0)
    with pytest.raises(ValueError):
        estimate_beta_prior([1, 2], [10, 10], method="bayes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BetaPrior(0.0, 10.0)
    with pytest.raises(ValueError):
        BetaPrior(0.2, 0.0)


# Efron & Morris (1975), Table 1 (also Efron & Morris 1977, "Stein's paradox in statistics", Sci Am 236:119-127):
# hits in each of 18 players' first 45 at bats of 1970, and their batting averages over the rest of the season.
BASEBALL_HITS = [18, 17, 16, 15, 14, 14, 13, 12, 11, 11, 10, 10, 10, 10, 10, 9, 8, 7]
BASEBALL_REST_OF_SEASON = [
    0.346, 0.298, 0.276, 0.222, 0.273, 0.270, 0.263, 0.210, 0.269,
    0.230, 0.264, 0.256, 0.303, 0.264, 0.226, 0.285, 0.316, 0.200,
]  # fmt: skip
#: Efron & Morris's grand mean and James-Stein shrinkage factor c = 1 − (k − 3)σ²/Σ(y − ȳ)² for these data.
BASEBALL_GRAND_MEAN = 0.265
BASEBALL_JAMES_STEIN_C = 0.212


def test_baseball_grand_mean_and_shrinkage_factor() -> None:
    k, n = 18, 45
    result = shrink_proportions(BASEBALL_HITS, [n] * k)
    assert result.prior.mean == pytest.approx(BASEBALL_GRAND_MEAN, abs=0.0005)
    # With equal n, the method-of-moments weight is (n/(n − 1))·(1 − (k − 1)σ²/Σ(y − ȳ)²), which follows from the
    # published James-Stein factor by replacing (k − 3) with (k − 1).
    weight = n / (n - 1) * (1 - (k - 1) / (k - 3) * (1 - BASEBALL_JAMES_STEIN_C))
    np.testing.assert_allclose(result.reliability, weight, atol=0.002)


def test_baseball_shrinkage_predicts_the_rest_of_the_season_better() -> None:
    # Efron & Morris: shrinking toward the grand mean cut the total squared error against the rest-of-season
    # averages about 3.5-fold (0.077 -> 0.022).
    truth = np.array(BASEBALL_REST_OF_SEASON)
    for method in METHODS:
        result = shrink_proportions(BASEBALL_HITS, [45] * 18, method=method)
        crude_error = float(np.sum((result.crude - truth) ** 2))
        shrunk_error = float(np.sum((result.estimate - truth) ** 2))
        assert crude_error == pytest.approx(0.077, abs=0.003)
        assert shrunk_error < crude_error / 3
        assert shrunk_error == pytest.approx(0.022, abs=0.003)
