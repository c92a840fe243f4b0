"""The slope index of inequality and group proportions (indicators.stats.inequality)."""

from __future__ import annotations

import numpy as np
import pytest

from indicators.stats.inequality import group_proportions, slope_index
from indicators.stats.intervals import Z95, wilson_interval

pytestmark = pytest.mark.filterwarnings("error")


def _weighted_slope(x: np.ndarray, n: np.ndarray) -> float:
    """The weighted least-squares slope written out (Low & Low 2004): weights are the population shares,
    x is the midpoint of each group's cumulative share, most deprived first."""
    a = n / n.sum()
    b = np.cumsum(a) - a / 2
    p = x / n
    b_mean = (a * b).sum()
    p_mean = (a * p).sum()
    return float((a * (b - b_mean) * (p - p_mean)).sum() / (a * (b - b_mean) ** 2).sum())


def test_relative_ranks_are_cumulative_midpoints() -> None:
    # phe_sii's own wording: a first quantile of 12% has rank 0.06, a second of 10% has 0.12 + 0.05 = 0.17.
    n = np.array([12.0, 10.0, 30.0, 28.0, 20.0]) * 100
    a = n / n.sum()
    b = np.cumsum(a) - a / 2
    assert b[:2] == pytest.approx([0.06, 0.17])


def test_sii_is_the_weighted_least_squares_slope() -> None:
    x = np.array([412.0, 380.0, 301.0, 322.0, 240.0])
    n = np.array([2100.0, 2250.0, 1980.0, 2400.0, 2050.0])
    assert slope_index(x, n).sii == pytest.approx(_weighted_slope(x, n), rel=1e-12)


@pytest.mark.parametrize("slope", [-0.15, 0.08])
def test_sii_recovers_a_planted_linear_gradient(slope: float) -> None:
    """Group values exactly on a line in the cumulative rank: the SII is the line's slope, whatever the
    groups' sizes; the interval holds it."""
    n = np.array([30_000.0, 18_000.0, 22_000.0, 25_000.0, 15_000.0])
    a = n / n.sum()
    b = np.cumsum(a) - a / 2
    p = 0.3 + slope * b
    result = slope_index(p * n, n)
    assert result.sii == pytest.approx(slope, abs=1e-12)
    assert result.lower < slope < result.upper
    assert (result.upper < 0) if slope < 0 else (result.lower > 0)


def test_interval_matches_the_normal_approximation_with_many_patients() -> None:
    """With large groups the simulated interval is the delta-method one: var(SII) = sum w_i^2 var(p_i)."""
    x = np.array([9_000.0, 8_600.0, 8_000.0, 7_700.0, 7_000.0])
    n = np.full(5, 40_000.0)
    result = slope_index(x, n, repetitions=20_000)
    a = n / n.sum()
    b = np.cumsum(a) - a / 2
    w = a * (b - (a * b).sum()) / (a * (b - (a * b).sum()) ** 2).sum()
    p = x / n
    half = Z95 * np.sqrt((w**2 * p * (1 - p) / n).sum())
    assert result.lower == pytest.approx(result.sii - half, abs=0.05 * half)
    assert result.upper == pytest.approx(result.sii + half, abs=0.05 * half)


def test_interval_is_reproducible_and_wider_at_higher_confidence() -> None:
    x, n = [40, 35, 30, 28, 20], [200, 210, 190, 205, 195]
    assert slope_index(x, n) == slope_index(x, n)
    wide = slope_index(x, n, confidence=0.998)
    narrow = slope_index(x, n)
    assert wide.lower < narrow.lower < narrow.sii < narrow.upper < wide.upper


@pytest.mark.parametrize(
    ("x", "n", "reason"),
    [
        ([5], [10], "fewer than two groups"),
        ([5, 3, 0, 2, 4], [10, 10, 0, 10, 10], "no patients"),
        ([5, 0, 4, 2, 4], [10, 10, 10, 10, 10], "0% or 100%"),
        ([5, 10, 4, 2, 4], [10, 10, 10, 10, 10], "0% or 100%"),
    ],
)
def test_no_sii_where_phe_refuses_one(x: list[int], n: list[int], reason: str) -> None:
    result = slope_index(x, n)
    assert not result.computed and np.isnan(result.lower) and reason in result.reason


def test_group_proportions_reuse_wilson() -> None:
    shown = group_proportions([3, 0, 10], [10, 0, 10])
    low, high = wilson_interval([3, 0, 10], [10, 0, 10])
    assert shown.value[0] == pytest.approx(0.3) and np.isnan(shown.value[1]) and shown.value[2] == 1.0
    np.testing.assert_array_equal(shown.lower, low)
    np.testing.assert_array_equal(shown.upper, high)
