"""Single-unit confidence intervals (indicators.stats.intervals)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from indicators.stats.intervals import (
    Z95,
    Z998,
    byars_interval,
    exact_poisson_interval,
    normalise_confidence,
    poisson_count_interval,
    ratio_interval,
    wilson_interval,
    z_for,
)

pytestmark = pytest.mark.filterwarnings("error")  # no RuntimeWarning spam


def test_z_constants_are_normal_quantiles() -> None:
    assert Z95 == stats.norm.ppf(0.975)
    assert Z998 == stats.norm.ppf(0.999)
    assert z_for(0.95) == Z95 and z_for(0.998) == Z998
    # PHE also accepts percentages.
    assert z_for(95) == Z95 and z_for(99.8) == pytest.approx(Z998, rel=1e-15)


@pytest.mark.parametrize("bad", [0, 1, -0.5, 100, 150])
def test_confidence_out_of_range_raises(bad) -> None:
    with pytest.raises(ValueError):
        normalise_confidence(bad)


def test_wilson_by_hand() -> None:
    # x = 20, n = 100, z = 1.959964: (40 + z² ± z√(z² + 4·20·0.8)) / (2(100 + z²))
    z2 = Z95 * Z95
    root = Z95 * math.sqrt(z2 + 64.0)
    lo, hi = wilson_interval(20, 100)
    assert float(lo) == pytest.approx((40 + z2 - root) / (200 + 2 * z2), rel=1e-12)
    assert float(hi) == pytest.approx((40 + z2 + root) / (200 + 2 * z2), rel=1e-12)
    assert float(lo) == pytest.approx(0.133366933331033, rel=1e-12)  # PHE Area3


def test_wilson_bounds_are_exact_at_extremes() -> None:
    lo, hi = wilson_interval([0, 5, 7], [7, 5, 7])
    assert lo[0] == 0.0 and hi[1] == 1.0 and hi[2] == 1.0
    assert 0 < hi[0] < 1 and 0 < lo[1] < 1


def test_wilson_undefined_inputs_are_nan() -> None:
    lo, hi = wilson_interval([1, 5, -1, np.nan, 3], [0, 4, 10, 10, np.nan])
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_wilson_accepts_missing_and_pandas() -> None:
    x = pd.Series([1, None, 3], dtype="Float64")
    lo, hi = wilson_interval(x, [10, 10, 10])
    assert np.isnan(lo[1]) and not np.isnan(lo[0]) and lo.shape == (3,)
    lo_none, _ = wilson_interval(None, 10)
    assert np.isnan(lo_none)


def test_wilson_contains_point_estimate_and_narrows() -> None:
    x = np.array([1, 10, 100, 1000])
    n = x * 4
    lo, hi = wilson_interval(x, n)
    assert np.all((lo < 0.25) & (0.25 < hi))
    assert np.all(np.diff(hi - lo) < 0)
    lo998, hi998 = wilson_interval(x, n, 0.998)
    assert np.all(lo998 < lo) and np.all(hi998 > hi)


def test_scalar_input_gives_zero_dim_arrays() -> None:
    lo, hi = wilson_interval(3, 10)
    assert isinstance(lo, np.ndarray) and lo.shape == ()


def test_exact_poisson_by_hand() -> None:
    # χ²(2 df) is exponential with mean 2, so for x = 0 the upper limit is
    # −ln(α/2) and for x = 1 the lower limit is −ln(1 − α/2).
    lo, hi = exact_poisson_interval([0, 1])
    assert lo[0] == 0.0
    assert hi[0] == pytest.approx(-math.log(0.025), rel=1e-12)
    assert lo[1] == pytest.approx(-math.log(0.975), rel=1e-12)


@pytest.mark.parametrize("x", [1, 2, 5, 9, 25, 400])
@pytest.mark.parametrize("conf", [0.95, 0.998])
def test_exact_poisson_limits_have_exact_tail_probabilities(x, conf) -> None:
    # Garwood limits: P(X >= x | lower) = α/2 and P(X <= x | upper) = α/2.
    a = (1 - conf) / 2
    lo, hi = exact_poisson_interval(x, conf)
    assert stats.poisson.sf(x - 1, float(lo)) == pytest.approx(a, rel=1e-9)
    assert stats.poisson.cdf(x, float(hi)) == pytest.approx(a, rel=1e-9)


def test_exact_poisson_negative_or_missing_is_nan() -> None:
    lo, hi = exact_poisson_interval([-1, np.nan])
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_byars_negative_lower_and_zero_are_nan() -> None:
    lo, hi = byars_interval([0, 1, 2], 0.998)
    assert np.isnan(lo[0]) and np.isnan(lo[1])
    assert lo[2] == pytest.approx(2 * (1 - 1 / 18 - Z998 / (3 * math.sqrt(2))) ** 3, rel=1e-12)
    assert np.all(np.isfinite(hi))


def test_byars_close_to_exact_for_large_counts() -> None:
    lo_b, hi_b = byars_interval(2000)
    lo_e, hi_e = exact_poisson_interval(2000)
    assert float(lo_b) == pytest.approx(float(lo_e), rel=1e-4)
    assert float(hi_b) == pytest.approx(float(hi_e), rel=1e-4)


def test_phe_count_interval_switches_at_ten() -> None:
    lo, hi = poisson_count_interval([9, 10])
    ex = exact_poisson_interval(9)
    by = byars_interval(10)
    assert lo[0] == ex[0] and hi[0] == ex[1]
    assert lo[1] == by[0] and hi[1] == by[1]


def test_ratio_interval_methods() -> None:
    # Below 10 events both methods are exact; above, "phe" uses Byar's.
    lo_e, hi_e = ratio_interval([5, 50], [4.0, 40.0], method="exact")
    lo_p, hi_p = ratio_interval([5, 50], [4.0, 40.0], method="phe")
    assert lo_e[0] == lo_p[0] and hi_e[0] == hi_p[0]
    assert lo_e[1] != lo_p[1]
    ex = exact_poisson_interval(50)
    assert lo_e[1] == pytest.approx(float(ex[0]) / 40, rel=1e-12)


def test_ratio_interval_zero_expected_is_nan() -> None:
    lo, hi = ratio_interval([3, 3], [0.0, -1.0])
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_ratio_interval_unknown_method() -> None:
    with pytest.raises(ValueError):
        ratio_interval(3, 2.0, method="wald")
