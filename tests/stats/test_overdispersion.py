"""Overdispersion estimation (indicators.stats.overdispersion)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from indicators.stats.overdispersion import (
    dersimonian_laird_tau2,
    dispersion_ratio,
    estimate_overdispersion,
    standard_errors,
    truncate,
    winsorise,
    z_scores,
)

pytestmark = pytest.mark.filterwarnings("error")


def test_z_scores_proportion_normal_scale() -> None:
    # p = 30/100, θ = 0.2: (0.3 − 0.2)/√(0.2·0.8/100) = 0.1/0.04 = 2.5
    for method in ("exact", "wilson", "normal"):
        assert float(z_scores("proportion", method, 30, 100, 0.2)) == pytest.approx(2.5, rel=1e-12)


def test_z_scores_proportion_arcsine_scale() -> None:
    z = z_scores("proportion", "arcsine", 30, 100, 0.2)
    expected = (math.asin(math.sqrt(0.3)) - math.asin(math.sqrt(0.2))) * 2 * 10
    assert float(z) == pytest.approx(expected, rel=1e-12)


def test_z_scores_ratio_scales() -> None:
    # O = 121, E = 100: root scale (1.1 − 1)·2·10 = 2; log scale 10·ln(1.21).
    assert float(z_scores("ratio", "exact", 121, 100, 1.0)) == pytest.approx(2.0, rel=1e-12)
    assert float(z_scores("ratio", "cqc", 121, 100, 1.0)) == pytest.approx(2.0, rel=1e-12)
    assert float(z_scores("ratio", "shmi", 121, 100, 1.0)) == pytest.approx(10 * math.log(1.21), rel=1e-12)
    # With a target other than 1 the log-scale z is centred on ln(target).
    assert float(z_scores("ratio", "shmi", 121, 100, 1.21)) == pytest.approx(0.0, abs=1e-12)


def test_z_scores_edge_cases() -> None:
    z = z_scores("ratio", "shmi", [0, 5], [4.0, 0.0], 1.0)
    assert z[0] == -math.inf  # as FunnelPlotR: log(0) -> -Inf
    assert np.isnan(z[1])
    with pytest.raises(ValueError):
        z_scores("rate", "exact", 1, 2, 1.0)
    with pytest.raises(ValueError):
        z_scores("ratio", "arcsine", 1, 2, 1.0)


def test_standard_errors() -> None:
    np.testing.assert_allclose(standard_errors("proportion", "normal", [100, 400], 0.2), [0.04, 0.02])
    np.testing.assert_allclose(standard_errors("proportion", "arcsine", [100], 0.2), [0.05])
    np.testing.assert_allclose(standard_errors("ratio", "exact", [25], 1.0), [0.1])
    np.testing.assert_allclose(standard_errors("ratio", "shmi", [25], 1.0), [0.2])


def test_winsorise_uses_type7_centiles() -> None:
    # 0..10: R's quantile(…, 0.1) = 1 and quantile(…, 0.9) = 9.
    z = np.arange(11, dtype=float)
    w = winsorise(z, 0.1)
    np.testing.assert_array_equal(w, [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9])
    # Interpolated centiles: 0..9 gives 0.9 and 8.1.
    w = winsorise(np.arange(10.0), 0.1)
    assert w[0] == pytest.approx(0.9) and w[-1] == pytest.approx(8.1)


def test_winsorise_keeps_missing() -> None:
    w = winsorise([np.nan, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.1)
    assert np.isnan(w[0]) and w[1] == 1 and w[-1] == 9


def test_truncate_rank_groups_by_hand() -> None:
    # 20 units, 10% -> k = 10 groups, group = floor(rank·10/21):
    # ranks 1-2 -> 0 (dropped), 3-18 -> 1..8 (kept), 19-20 -> 9 (dropped).
    z = np.arange(20, dtype=float)[::-1]  # rank of value v is v + 1
    t = truncate(z, 0.1)
    kept = ~np.isnan(t)
    np.testing.assert_array_equal(np.sort(z[kept]), np.arange(2, 18, dtype=float))


def test_truncate_small_sets_keep_everything() -> None:
    t = truncate([0.3, -1.0, 2.0, 0.1, 5.0, -3.0], 0.1)
    assert not np.isnan(t).any()


def test_truncate_drops_minus_infinity_and_ignores_missing() -> None:
    z = np.concatenate([[-math.inf, np.nan], np.linspace(-2, 2, 20)])
    t = truncate(z, 0.1)
    assert np.isnan(t[0]) and np.isnan(t[1])
    # 21 ranked values: groups floor(r·10/22) -> ranks 1-2 and 20-21 dropped.
    assert (~np.isnan(t)).sum() == 17


def test_dispersion_ratio() -> None:
    assert dispersion_ratio([1.0, -2.0, np.nan, 3.0]) == pytest.approx(14 / 3)
    assert math.isnan(dispersion_ratio([np.nan]))


def test_dersimonian_laird_by_hand() -> None:
    # s = 0.1, 0.2, 0.5 -> w = 100, 25, 4; Σw = 129, Σw² = 10641,
    # Σw − Σw²/Σw = 6000/129; (3·2 − 2)/(6000/129) = 516/6000 = 0.086.
    assert dersimonian_laird_tau2(2.0, [0.1, 0.2, 0.5]) == pytest.approx(0.086, rel=1e-12)
    # I·φ < I − 1 -> 0.
    assert dersimonian_laird_tau2(0.5, [0.1, 0.2, 0.5]) == 0.0
    # n_units can be passed separately (FunnelPlotR passes n explicitly).
    assert dersimonian_laird_tau2(2.0, [0.1, 0.2, 0.5], n_units=3) == pytest.approx(0.086)
    assert dersimonian_laird_tau2(2.0, []) == 0.0


def test_estimate_overdispersion_proportions_winsorised() -> None:
    n = np.full(20, 1000.0)
    x = np.round(np.linspace(0.1, 0.4, 20) * n)
    est = estimate_overdispersion("proportion", "exact", x, n, x.sum() / n.sum())
    assert est.trimming == "winsorise" and est.n_units == 20 and est.adjusted
    z = z_scores("proportion", "exact", x, n, x.sum() / n.sum())
    assert est.phi == pytest.approx(np.mean(winsorise(z) ** 2))
    s = standard_errors("proportion", "exact", n, x.sum() / n.sum())
    assert est.tau2 == pytest.approx(dersimonian_laird_tau2(est.phi, s))


def test_estimate_overdispersion_not_overdispersed() -> None:
    est = estimate_overdispersion("ratio", "exact", [10, 20, 30], [10.0, 20.0, 30.0], 1.0)
    assert est.phi == 0.0 and est.tau2 == 0.0 and not est.adjusted


def test_estimate_overdispersion_skips_unusable_units() -> None:
    est = estimate_overdispersion("ratio", "cqc", [10, 20, 5, 40], [10.0, 0.0, np.nan, 20.0], 1.0)
    assert est.n_units == 2
    assert np.isnan(est.z[1]) and np.isnan(est.z[2])


# ---------------------------------------------------------------------------
# Overdispersion only widens (issue 11, item 2)
# ---------------------------------------------------------------------------

_N_GRID = np.unique(np.round(np.geomspace(1, 20_000, 160)))
_E_GRID = np.geomspace(0.05, 5_000, 160)


def test_additive_limits_at_small_n_near_100_percent_are_not_narrower() -> None:
    # A 97% process indicator at n = 10: the symmetric normal form θ ± z√(θ(1−θ)/n + τ²) puts the
    # 99.8% lower limit near 80%, inside the exact limit (60%), so 8 of 10 became a false "worse"
    # alarm. The adjusted limits must contain the unadjusted ones.
    from indicators.stats.funnel import proportion_limits

    raw_lo, raw_hi = proportion_limits(0.97, 10, 0.998, method="exact")
    lo, hi = proportion_limits(0.97, 10, 0.998, method="exact", tau2=0.0005, overdispersion="additive")
    assert float(lo) <= float(raw_lo) and float(hi) >= float(raw_hi)


@given(
    theta=st.floats(0.001, 0.999),
    tau2=st.floats(0.0, 0.5) | st.sampled_from([0.0, 1e-6, 1e-3]),
    phi=st.floats(1.0, 20.0),
    confidence=st.sampled_from([0.95, 0.998]),
    mode=st.sampled_from(["additive", "multiplicative"]),
)
def test_adjusted_proportion_limits_never_inside_unadjusted(theta, tau2, phi, confidence, mode) -> None:
    from indicators.stats.funnel import PROPORTION_METHODS, proportion_limits

    for method in PROPORTION_METHODS:
        raw_lo, raw_hi = proportion_limits(theta, _N_GRID, confidence, method=method)
        lo, hi = proportion_limits(theta, _N_GRID, confidence, method=method, tau2=tau2, phi=phi, overdispersion=mode)
        assert np.all(lo <= raw_lo), method
        assert np.all(hi >= raw_hi), method


@given(
    target=st.floats(0.5, 2.0),
    rate=st.floats(0.01, 0.95),
    tau2=st.floats(0.0, 0.5) | st.sampled_from([0.0, 1e-6, 1e-3]),
    phi=st.floats(1.0, 20.0),
    confidence=st.sampled_from([0.95, 0.998]),
    mode=st.sampled_from(["additive", "multiplicative"]),
)
def test_adjusted_ratio_limits_never_inside_unadjusted(target, rate, tau2, phi, confidence, mode) -> None:
    from indicators.stats.funnel import RATIO_METHODS, ratio_limits

    patients = np.ceil(_E_GRID / rate)
    for method in RATIO_METHODS:
        sizes = {"patients": patients} if method == "isp" else {}
        raw_lo, raw_hi = ratio_limits(_E_GRID, confidence, method=method, target=target, **sizes)
        lo, hi = ratio_limits(
            _E_GRID, confidence, method=method, target=target, tau2=tau2, phi=phi, overdispersion=mode, **sizes
        )
        assert np.all(lo <= raw_lo), method
        assert np.all(hi >= raw_hi), method


def test_consistent_phi_is_near_one_under_the_null() -> None:
    # 2,000 units varying by chance alone: the 10%-Winsorised φ is about 0.68; the consistent
    # one about 1 (the normal expectation of a Winsorised square is 0.679 at 10%).
    from indicators.stats.overdispersion import winsorised_null_mean_square

    rng = np.random.default_rng(3)
    n = rng.integers(200, 2000, 2000)
    x = rng.binomial(n, 0.2)
    plain = estimate_overdispersion("proportion", "arcsine", x, n, 0.2)
    consistent = estimate_overdispersion("proportion", "midp", x, n, 0.2, consistent=True)
    assert winsorised_null_mean_square(0.10) == pytest.approx(0.6787, abs=1e-4)
    assert 0.6 < plain.phi < 0.76
    assert 0.9 < consistent.phi < 1.1
