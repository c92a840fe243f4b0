"""Empirical-Bayes shrinkage of observed/expected ratios, the gamma-Poisson model (indicators.stats.shrinkage).

The truths are a gamma prior the test draws units' true ratios from and Poisson counts drawn about them (fixed
seeds), the closed-form gamma posterior worked by hand, Clayton & Kaldor (1987)'s moment equations and scipy's own
negative binomial likelihood: never the code's own earlier output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import special, stats

from indicators.stats.shrinkage import GammaPrior, PriorMethod, estimate_gamma_prior, shrink_ratios

METHODS: tuple[PriorMethod, ...] = ("moments", "ml")

pytestmark = pytest.mark.filterwarnings("error")


def _simulate(
    seed: int, units: int, mean: float, beta: float, low: float, high: float
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Units whose true ratios are Gamma(shape μβ, rate β), whose expected events are uniform on [low, high] (not
    whole numbers, as a risk model's are) and whose observed events are Poisson(E·θ)."""
    rng = np.random.default_rng(seed)
    theta = rng.gamma(mean * beta, 1.0 / beta, size=units)
    expected = rng.uniform(low, high, size=units)
    observed = rng.poisson(expected * theta)
    return observed, expected, theta


@pytest.mark.parametrize("method", METHODS)
def test_prior_recovers_a_known_gamma_prior(method: PriorMethod) -> None:
    # 2,000 units from Gamma(μ = 1, β = 25): between-unit SD √(μ/β) = 0.2.
    observed, expected, _ = _simulate(seed=14, units=2000, mean=1.0, beta=25.0, low=5.0, high=200.0)
    prior = estimate_gamma_prior(observed, expected, method=method)
    assert prior.units == 2000 and prior.method == method
    assert prior.mean == pytest.approx(1.0, abs=0.02)
    assert prior.between_unit_sd == pytest.approx(0.2, rel=0.1)
    assert prior.concentration == pytest.approx(25.0, rel=0.25)
    assert prior.alpha == pytest.approx(prior.mean * prior.concentration)


@pytest.mark.parametrize("method", METHODS)
def test_shrunken_ratios_are_closer_to_the_truth_than_crude_ratios(method: PriorMethod) -> None:
    # Units with few expected events (2-30) around a prior with real spread (SD 0.32): the posterior mean has lower
    # mean squared error against the true ratios than O/E.
    observed, expected, theta = _simulate(seed=3, units=500, mean=1.0, beta=10.0, low=2.0, high=30.0)
    result = shrink_ratios(observed, expected, method=method)
    crude_mse = float(np.mean((result.crude - theta) ** 2))
    shrunk_mse = float(np.mean((result.estimate - theta) ** 2))
    assert shrunk_mse < 0.75 * crude_mse
    np.testing.assert_allclose(result.crude, observed / expected)


def test_intervals_with_the_true_prior_given_cover_95_percent() -> None:
    # With the prior that generated the ratios, the posterior interval is exact: it holds θ 95% of the time.
    observed, expected, theta = _simulate(seed=7, units=4000, mean=1.0, beta=8.0, low=1.0, high=60.0)
    result = shrink_ratios(observed, expected, prior=GammaPrior(1.0, 8.0))
    covered = (result.lower <= theta) & (theta <= result.upper)
    # Binomial SE of the coverage with 4,000 units is 0.0034; allow about 3 SE.
    assert float(covered.mean()) == pytest.approx(0.95, abs=0.01)
    assert np.all(result.lower <= result.estimate) and np.all(result.estimate <= result.upper)


@pytest.mark.parametrize("method", METHODS)
def test_intervals_with_an_estimated_prior_cover_near_95_percent(method: PriorMethod) -> None:
    observed, expected, theta = _simulate(seed=8, units=4000, mean=1.05, beta=15.0, low=2.0, high=100.0)
    result = shrink_ratios(observed, expected, method=method)
    covered = (result.lower <= theta) & (theta <= result.upper)
    assert float(covered.mean()) == pytest.approx(0.95, abs=0.012)


def test_posterior_of_a_given_prior_by_hand() -> None:
    # Gamma(α = 4, β = 4) prior (mean 1), 6 observed where 2 were expected: posterior Gamma(10, 6), mean 10/6,
    # reliability 2/(2 + 4) = 1/3. Its 2.5% and 97.5% quantiles q solve the regularised lower incomplete gamma
    # P(10, 6q) = 0.025 / 0.975.
    result = shrink_ratios([6], [2.0], prior=GammaPrior(1.0, 4.0))
    assert result.estimate[0] == pytest.approx(10 / 6, rel=1e-12)
    assert result.reliability[0] == pytest.approx(1 / 3, rel=1e-12)
    assert special.gammainc(10, 6 * result.lower[0]) == pytest.approx(0.025, rel=1e-9)
    assert special.gammainc(10, 6 * result.upper[0]) == pytest.approx(0.975, rel=1e-9)
    # The posterior mean is the reliability-weighted average of the crude O/E (3) and the prior mean (1).
    assert result.estimate[0] == pytest.approx(3 / 3 + 2 / 3 * 1, rel=1e-12)
    assert result.crude[0] == 3.0


def test_reliability_is_the_signal_share_of_the_crude_variance() -> None:
    # Var(O/E) = E[θ]/E + Var(θ) = μ/E + μ/β, of which μ/β is between units.
    mu, beta = 1.2, 15.0
    expected = np.array([0.5, 5.0, 50.0, 500.0])
    result = shrink_ratios(np.zeros_like(expected), expected, prior=GammaPrior(mu, beta))
    signal = mu / beta
    np.testing.assert_allclose(result.reliability, signal / (mu / expected + signal), rtol=1e-12)


def test_the_moment_estimate_solves_clayton_and_kaldors_equations() -> None:
    # Clayton & Kaldor (1987): with θ̂_i = (O_i + α)/(E_i + β), α/β = mean(θ̂) and
    # α/β² = Σ(1 + β/E_i)(θ̂_i − α/β)²/(k − 1).
    observed, expected, _ = _simulate(seed=5, units=60, mean=0.9, beta=6.0, low=1.0, high=40.0)
    result = shrink_ratios(observed, expected, method="moments")
    alpha, beta = result.prior.alpha, result.prior.beta
    theta = (observed + alpha) / (expected + beta)
    np.testing.assert_allclose(result.estimate, theta, rtol=1e-12)
    assert alpha / beta == pytest.approx(float(theta.mean()), rel=1e-8)
    spread = float(np.sum((1 + beta / expected) * (theta - alpha / beta) ** 2)) / (len(theta) - 1)
    assert alpha / beta**2 == pytest.approx(spread, rel=1e-6)


def test_maximum_likelihood_is_the_maximum_of_the_negative_binomial_likelihood() -> None:
    # O_i is negative binomial with size α and probability β/(β + E_i) (scipy's parametrisation): moving μ or β
    # either way lowers the likelihood.
    observed, expected, _ = _simulate(seed=21, units=300, mean=1.0, beta=5.0, low=1.0, high=50.0)
    prior = estimate_gamma_prior(observed, expected, method="ml")

    def log_likelihood(mu: float, beta: float) -> float:
        return float(stats.nbinom.logpmf(observed, mu * beta, beta / (beta + expected)).sum())

    best = log_likelihood(prior.mean, prior.concentration)
    for mu, beta in [(prior.mean * 1.01, prior.concentration), (prior.mean * 0.99, prior.concentration)] + [
        (prior.mean, prior.concentration * f) for f in (0.95, 1.05)
    ]:
        assert log_likelihood(mu, beta) < best


def test_maximum_likelihood_without_extra_poisson_variation_is_the_poisson() -> None:
    # Counts closer to their expected events than Poisson chance allows: any finite β has a lower likelihood than
    # the Poisson at the pooled ratio, so the estimate is β = ∞.
    observed = np.array([10, 11, 9, 10, 10, 11, 9])
    expected = np.full(7, 10.0)
    prior = estimate_gamma_prior(observed, expected, method="ml")
    assert math.isinf(prior.concentration) and prior.mean == pytest.approx(70 / 70)
    poisson = float(np.sum(stats.poisson.logpmf(observed, prior.mean * expected)))
    for beta in (10.0, 1e3, 1e5):
        negative_binomial = stats.nbinom.logpmf(observed, prior.mean * beta, beta / (beta + expected))
        assert float(np.sum(negative_binomial)) < poisson
    with pytest.raises(ValueError):
        estimate_gamma_prior([1.5, 2], [10.0, 10.0], method="ml")


def test_no_between_unit_variation_gives_the_point_mass_prior() -> None:
    # Every unit observes exactly what it expected: the spread is less than Poisson chance allows, so β = ∞, every
    # estimate is the pooled ratio 1 with an interval of that single value and reliability 0.
    observed = np.array([5, 10, 20, 40])
    expected = np.array([5.0, 10.0, 20.0, 40.0])
    for method in METHODS:
        result = shrink_ratios(observed, expected, method=method)
        assert math.isinf(result.prior.concentration) and result.prior.between_unit_sd == 0.0
        np.testing.assert_allclose(result.estimate, 1.0)
        np.testing.assert_allclose(result.lower, 1.0)
        np.testing.assert_allclose(result.upper, 1.0)
        np.testing.assert_array_equal(result.reliability, 0.0)


def test_units_varying_by_chance_alone_get_little_weight_on_their_own_ratios() -> None:
    # 200 units all with true ratio 1: the prior's variance is estimated at or near 0 and the weight on each unit's
    # own O/E stays small.
    rng = np.random.default_rng(11)
    expected = rng.uniform(3.0, 30.0, size=200)
    observed = rng.poisson(expected)
    result = shrink_ratios(observed, expected)
    assert result.prior.mean == pytest.approx(1.0, abs=0.05)
    assert float(np.nanmax(result.reliability)) < 0.3


def test_all_units_without_events() -> None:
    result = shrink_ratios([0, 0, 0], [1.5, 2.0, 3.0])
    assert result.prior.mean == 0.0 and math.isinf(result.prior.concentration)
    np.testing.assert_array_equal(result.estimate, 0.0)
    np.testing.assert_array_equal(result.reliability, 0.0)
    assert math.isinf(estimate_gamma_prior([0, 0, 0], [1.5, 2.0, 3.0], method="ml").concentration)


def test_zero_and_missing_expected_events_give_nan_and_are_left_out() -> None:
    observed = np.array([5, 0, 20, np.nan, 40, 3, 2])
    expected = np.array([4.0, 0.0, 25.0, 6.0, 30.0, np.nan, np.inf])
    result = shrink_ratios(observed, expected, prior=GammaPrior(1.0, 10.0))
    for values in (result.crude, result.estimate, result.lower, result.upper, result.reliability):
        assert np.isnan(values[[1, 3, 5, 6]]).all()
        assert np.isfinite(values[[0, 2, 4]]).all()
    # Left out of the estimated prior: the same as the prior of the three usable units.
    with_gaps = estimate_gamma_prior(observed, expected)
    without = estimate_gamma_prior([5, 20, 40], [4.0, 25.0, 30.0])
    assert (with_gaps.mean, with_gaps.concentration) == (without.mean, without.concentration)
    assert with_gaps.units == 3


def test_too_few_units_and_no_units() -> None:
    one = shrink_ratios([3], [2.0])
    assert math.isinf(one.prior.concentration) and one.estimate[0] == pytest.approx(1.5)
    none = estimate_gamma_prior([np.nan], [0.0])
    assert none.units == 0 and math.isnan(none.mean)
    assert np.isnan(shrink_ratios([1], [0.0]).estimate[0])


def test_invalid_input_is_refused() -> None:
    with pytest.raises(ValueError):
        shrink_ratios([-1], [10.0])
    with pytest.raises(ValueError):
        shrink_ratios([1], [10.0], level=0.0)
    with pytest.raises(ValueError):
        estimate_gamma_prior([1, 2], [10.0, 10.0], method="bayes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        GammaPrior(0.0, 10.0)
    with pytest.raises(ValueError):
        GammaPrior(1.0, 0.0)
    with pytest.raises(ValueError):
        GammaPrior(-1.0, math.inf)


@pytest.mark.parametrize("method", METHODS)
def test_a_known_mean_is_kept_and_only_the_spread_estimated(method: PriorMethod) -> None:
    # The O/E of a calibrated risk model: the true ratios' mean is 1 by construction. Known, it stays 1 even when the
    # units given are a biased selection (here those with no event or more than 7, as disclosure control shows).
    observed, expected, _ = _simulate(seed=17, units=3000, mean=1.0, beta=20.0, low=0.2, high=10.0)
    prior = estimate_gamma_prior(observed, expected, method=method, mean=1.0)
    assert prior.mean == 1.0 and prior.between_unit_sd == pytest.approx(math.sqrt(1 / 20), rel=0.15)
    shown = (observed == 0) | (observed > 7)
    selected = shrink_ratios(observed[shown], expected[shown], method=method, mean=1.0)
    assert selected.prior.mean == 1.0
    # Each estimate is the reliability-weighted average of the unit's own O/E and 1.
    np.testing.assert_allclose(
        selected.estimate, selected.reliability * selected.crude + (1 - selected.reliability) * 1.0, rtol=1e-9
    )
    # Left to estimate the mean, the same selection pulls it well away from 1.
    assert abs(estimate_gamma_prior(observed[shown], expected[shown], method=method).mean - 1.0) > 0.05


def test_a_known_mean_with_no_spread_beyond_chance_is_the_point_mass_at_it() -> None:
    observed = np.array([10, 11, 9, 10, 10, 11, 9])
    expected = np.full(7, 10.0)
    for method in METHODS:
        result = shrink_ratios(observed, expected, method=method, mean=1.0)
        assert result.prior.mean == 1.0 and math.isinf(result.prior.concentration)
        np.testing.assert_array_equal(result.estimate, 1.0)
    assert estimate_gamma_prior([], [], mean=1.0).mean == 1.0
    with pytest.raises(ValueError):
        estimate_gamma_prior([1, 2], [1.0, 2.0], mean=0.0)
