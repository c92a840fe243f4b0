"""Funnel control limits (indicators.stats.funnel) and the analysis entry
point (indicators.stats.analysis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from indicators.stats.analysis import UNIT_COLUMNS, funnel_analysis, funnel_curve
from indicators.stats.funnel import proportion_limits, ratio_limits
from indicators.stats.intervals import Z95, Z998, wilson_interval
from indicators.stats.peers.phe import (
    phe_funnel_grid,
    phe_funnel_significance,
    phe_rate_denominators,
    phe_ratio_funnel_limits,
)

pytestmark = pytest.mark.filterwarnings("error")


# ---------------------------------------------------------------------------
# proportion_limits
# ---------------------------------------------------------------------------


def test_exact_binomial_hand_worked() -> None:
    # n = 10, θ = 0.5, 95%; binomial cdf in 1024ths: F(1) = 11, F(2) = 56,
    # F(7) = 968, F(8) = 1013; pmf f(2) = f(8) = 45.
    # Lower (p = 0.025): r = 2 (first F >= 25.6/1024); α = (56 − 25.6)/45
    #   = 0.67556; limit = (2 − α)/10 = 59.6/450 = 0.132444.
    # Upper (p = 0.975): r = 8 (first F >= 998.4/1024); α = (1013 − 998.4)/45
    #   = 0.32444; limit = (8 − α)/10 = 345.4/450 = 0.767556.
    lo, hi = proportion_limits(0.5, 10, 0.95, method="exact")
    assert float(lo) == pytest.approx(59.6 / 450, rel=1e-12)
    assert float(hi) == pytest.approx(345.4 / 450, rel=1e-12)


def test_exact_binomial_hand_worked_clipped_at_zero() -> None:
    # n = 20, θ = 0.1, 99.8% lower: F(0) = 0.9^20 = 0.12158 >= 0.001 so r = 0,
    # α = (0.12158 − 0.001)/0.12158 = 0.99177 and (0 − α)/20 < 0 -> 0.
    # Upper (p = 0.999): F(6) = 0.99761, F(7) = 0.99958 -> r = 7,
    # α = (F(7) − 0.999)/f(7) with f(7) = 0.0019969 -> limit (7 − α)/20.
    lo, hi = proportion_limits(0.1, 20, 0.998, method="exact")
    assert float(lo) == 0.0
    f7 = math.comb(20, 7) * 0.1**7 * 0.9**13
    cdf7 = sum(math.comb(20, k) * 0.1**k * 0.9 ** (20 - k) for k in range(8))
    assert float(hi) == pytest.approx((7 - (cdf7 - 0.999) / f7) / 20, rel=1e-10)


def test_exact_binomial_close_to_normal_for_large_n() -> None:
    n = 200_000
    lo, hi = proportion_limits(0.3, n, 0.998, method="exact")
    half = Z998 * math.sqrt(0.3 * 0.7 / n)
    assert float(hi) - 0.3 == pytest.approx(half, rel=2e-3)
    assert 0.3 - float(lo) == pytest.approx(half, rel=2e-3)


def test_normal_limits_formula() -> None:
    lo, hi = proportion_limits(0.2, [100, 400], 0.95, method="normal")
    np.testing.assert_allclose(lo, [0.2 - Z95 * 0.04, 0.2 - Z95 * 0.02], rtol=1e-12)
    np.testing.assert_allclose(hi, [0.2 + Z95 * 0.04, 0.2 + Z95 * 0.02], rtol=1e-12)


def test_normal_limits_clip_to_unit_interval() -> None:
    lo, hi = proportion_limits(0.02, 5, 0.998, method="normal")
    assert float(lo) == 0.0 and 0 < float(hi) < 1
    lo, hi = proportion_limits(0.98, 5, 0.998, method="normal")
    assert float(hi) == 1.0


def test_wilson_limits_invert_the_wilson_interval() -> None:
    # PHE's limit is the proportion whose own Wilson interval just reaches θ.
    theta, n = 0.35, np.array([50.0, 100.0, 1000.0])
    for conf in (0.95, 0.998):
        lo, hi = proportion_limits(theta, n, conf, method="wilson")
        np.testing.assert_allclose(wilson_interval(lo * n, n, conf)[1], theta, rtol=1e-10)
        np.testing.assert_allclose(wilson_interval(hi * n, n, conf)[0], theta, rtol=1e-10)


def test_arcsine_limits_formula_and_clamping() -> None:
    theta = 0.3
    n = np.array([1.0, 100.0])
    lo, hi = proportion_limits(theta, n, 0.95, method="arcsine")
    a = math.asin(math.sqrt(theta))
    expected_lo = np.sin(np.maximum(a - Z95 / (2 * np.sqrt(n)), 0)) ** 2
    expected_hi = np.sin(np.minimum(a + Z95 / (2 * np.sqrt(n)), math.pi / 2)) ** 2
    np.testing.assert_allclose(lo, expected_lo, rtol=1e-12)
    np.testing.assert_allclose(hi, expected_hi, rtol=1e-12)
    # n = 1: asin√0.3 − 1.96/2 = 0.580 − 0.980 < 0, so the lower limit is 0 rather than the
    # folded-back sin² of a negative angle (FunnelPlotR truncates likewise).
    assert lo[0] == 0.0


def test_arcsine_limits_are_monotonic_on_a_dense_grid() -> None:
    n = np.arange(1, 400, dtype=float)
    lo, hi = proportion_limits(0.05, n, 0.998, method="arcsine")
    assert np.all(np.diff(lo) >= 0) and np.all(np.diff(hi) <= 0)
    assert lo[0] == 0.0 and np.all((0 <= lo) & (hi <= 1))


@pytest.mark.parametrize("method", ["exact", "wilson", "normal"])
def test_additive_overdispersion_on_normal_scale(method) -> None:
    n = np.array([50.0, 500.0])
    tau2 = 0.002
    lo, hi = proportion_limits(0.4, n, 0.95, method=method, tau2=tau2, overdispersion="additive")
    half = Z95 * np.sqrt(0.4 * 0.6 / n + tau2)
    np.testing.assert_allclose(lo, 0.4 - half, rtol=1e-12)
    np.testing.assert_allclose(hi, 0.4 + half, rtol=1e-12)


def test_additive_overdispersion_on_arcsine_scale() -> None:
    lo, hi = proportion_limits(0.4, 100, 0.998, method="arcsine", tau2=0.01, overdispersion="additive")
    a = math.asin(math.sqrt(0.4))
    half = Z998 * math.sqrt(1 / 400 + 0.01)
    assert float(lo) == pytest.approx(math.sin(a - half) ** 2, rel=1e-12)
    assert float(hi) == pytest.approx(math.sin(a + half) ** 2, rel=1e-12)


@pytest.mark.parametrize("method", ["exact", "wilson"])
def test_multiplicative_overdispersion_stretches_distance(method) -> None:
    base_lo, base_hi = proportion_limits(0.4, 300, 0.95, method=method)
    lo, hi = proportion_limits(0.4, 300, 0.95, method=method, phi=4.0, overdispersion="multiplicative")
    assert float(lo) == pytest.approx(0.4 - 2 * (0.4 - float(base_lo)), rel=1e-12)
    assert float(hi) == pytest.approx(0.4 + 2 * (float(base_hi) - 0.4), rel=1e-12)


@pytest.mark.parametrize("method", ["normal", "arcsine"])
def test_multiplicative_overdispersion_scales_z(method) -> None:
    lo, hi = proportion_limits(0.4, 300, 0.95, method=method, phi=2.25, overdispersion="multiplicative")
    if method == "normal":
        half = 1.5 * Z95 * math.sqrt(0.24 / 300)
        assert float(hi) == pytest.approx(0.4 + half, rel=1e-12)
    else:
        a = math.asin(math.sqrt(0.4))
        assert float(hi) == pytest.approx(math.sin(a + 1.5 * Z95 / (2 * math.sqrt(300))) ** 2, rel=1e-12)


@pytest.mark.parametrize("method", ["exact", "wilson", "normal", "arcsine"])
def test_overdispersion_none_ignores_parameters(method) -> None:
    plain = proportion_limits(0.3, [20, 200], 0.95, method=method)
    ignored = proportion_limits(0.3, [20, 200], 0.95, method=method, tau2=0.5, phi=9.0)
    np.testing.assert_array_equal(plain[0], ignored[0])
    np.testing.assert_array_equal(plain[1], ignored[1])


@pytest.mark.parametrize("method", ["exact", "wilson", "normal", "arcsine"])
def test_proportion_limits_invalid_denominators_are_nan(method) -> None:
    lo, hi = proportion_limits(0.3, [0, -5, np.nan], 0.95, method=method)
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_proportion_limits_argument_checks() -> None:
    with pytest.raises(ValueError):
        proportion_limits(0.3, 10, 0.95, method="poisson")
    with pytest.raises(ValueError):
        proportion_limits(1.3, 10, 0.95)
    with pytest.raises(ValueError):
        proportion_limits(0.3, 10, 0.95, overdispersion="both")
    with pytest.raises(ValueError):
        proportion_limits(0.3, 10, 0.95, tau2=-1.0, overdispersion="additive")


# ---------------------------------------------------------------------------
# ratio_limits
# ---------------------------------------------------------------------------


def test_exact_ratio_limits_by_hand() -> None:
    # E = 1: LL = χ²_{0.025}(2)/2 = −ln(0.975); UL = χ²_{0.975}(4)/2.
    lo, hi = ratio_limits(1.0, 0.95)
    assert float(lo) == pytest.approx(-math.log(0.975), rel=1e-12)
    assert float(hi) == pytest.approx(stats.chi2.ppf(0.975, 4) / 2, rel=1e-12)
    # A target other than 1 scales the limits.
    lo2, hi2 = ratio_limits(1.0, 0.95, target=1.2)
    assert float(lo2) == pytest.approx(1.2 * float(lo), rel=1e-12)


def test_shmi_limits_formula() -> None:
    lo, hi = ratio_limits(100.0, 0.95, method="shmi")
    assert float(lo) == pytest.approx(math.exp(-Z95 / 10), rel=1e-12)
    assert float(hi) == pytest.approx(math.exp(Z95 / 10), rel=1e-12)
    lo, hi = ratio_limits(100.0, 0.998, method="shmi", tau2=0.02, overdispersion="additive")
    assert float(hi) == pytest.approx(math.exp(Z998 * math.sqrt(0.01 + 0.02)), rel=1e-12)
    lo, hi = ratio_limits(100.0, 0.95, method="shmi", phi=4.0, overdispersion="multiplicative")
    assert float(hi) == pytest.approx(math.exp(2 * Z95 / 10), rel=1e-12)


@pytest.mark.parametrize("method", ["exact", "cqc"])
def test_root_scale_additive_limits(method) -> None:
    e, tau2 = np.array([25.0, 400.0]), 0.01
    lo, hi = ratio_limits(e, 0.95, method=method, tau2=tau2, overdispersion="additive")
    half = Z95 * np.sqrt(1 / (4 * e) + tau2)
    np.testing.assert_allclose(lo, (1 - half) ** 2, rtol=1e-12)
    np.testing.assert_allclose(hi, (1 + half) ** 2, rtol=1e-12)


def test_root_scale_lower_limit_floored_before_squaring() -> None:
    # E = 0.5: 1 − 3.09·√0.5 < 0 would square to a positive ratio; must be 0.
    lo, hi = ratio_limits(0.5, 0.998, method="cqc")
    assert float(lo) == 0.0
    assert float(hi) == pytest.approx((1 + Z998 * math.sqrt(0.5)) ** 2, rel=1e-12)


def test_exact_ratio_multiplicative() -> None:
    base_lo, base_hi = ratio_limits(50.0, 0.95)
    lo, hi = ratio_limits(50.0, 0.95, phi=2.0, overdispersion="multiplicative")
    assert float(hi) == pytest.approx(1 + math.sqrt(2) * (float(base_hi) - 1), rel=1e-12)
    assert float(lo) == pytest.approx(1 + math.sqrt(2) * (float(base_lo) - 1), rel=1e-12)


def test_ratio_limits_invalid_expected_and_arguments() -> None:
    lo, hi = ratio_limits([0.0, -2.0, np.nan], 0.95)
    assert np.isnan(lo).all() and np.isnan(hi).all()
    with pytest.raises(ValueError):
        ratio_limits(10.0, 0.95, method="byars")
    with pytest.raises(ValueError):
        ratio_limits(10.0, 0.95, target=0.0)


# ---------------------------------------------------------------------------
# PHE helpers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("conf", [0.95, 0.998])
def test_phe_bisection_converges_to_chi_square_limits(conf) -> None:
    o = np.array([1.0, 5.0, 30.0, 500.0])
    lim = phe_ratio_funnel_limits(o, conf)
    a = (1 - conf) / 2
    np.testing.assert_allclose(lim.upper_expected, stats.chi2.ppf(a, 2 * o) / 2, rtol=1e-4)
    np.testing.assert_allclose(lim.lower_expected, stats.chi2.ppf(1 - a, 2 * o + 2) / 2, rtol=1e-5)
    np.testing.assert_allclose(lim.lower, o / lim.lower_expected)


def test_phe_bisection_zero_observed() -> None:
    lim = phe_ratio_funnel_limits([0.0], 0.95)
    assert lim.lower[0] == 0.0
    assert lim.lower_expected[0] == pytest.approx(-math.log(0.025), rel=1e-5)
    assert np.isnan(lim.upper[0])


def test_phe_grid_wide_and_narrow_ranges() -> None:
    wide = phe_funnel_grid([100, 5000], "proportion")
    assert wide.shape == (100,) and wide[0] == 1 and np.all(np.diff(wide) >= 1)
    assert wide[-1] == 5300  # 5000 × 1.05 rounded up to two significant digits
    narrow = phe_funnel_grid([16386, 30929], "proportion")
    assert narrow[0] == 10000 and narrow[-1] == 33000
    with pytest.raises(ValueError):
        phe_funnel_grid([10, 20], "rate")  # needs the average rate


def test_phe_rate_denominators() -> None:
    pop = phe_rate_denominators([10, 0, 0], [50.0, 0.0, 0.0], 1e5, "crude", [20000, 30000, 40000])
    np.testing.assert_allclose(pop, [20000, 30000, 40000])
    dsr = phe_rate_denominators([10, 0], [50.0, 0.0], 1e5, "dsr")
    assert dsr[0] == 20000 and np.isnan(dsr[1])


def test_phe_significance_hand_example() -> None:
    # Ratio: 30 observed vs 10 expected is far above 1; 10 vs 30 far below;
    # 10 vs 10 not significant.
    labels = phe_funnel_significance([30, 10, 10], [10.0, 30.0, 10.0], "ratio")
    assert list(labels) == ["High (0.001)", "Low (0.001)", "Not significant"]
    with pytest.raises(ValueError):
        phe_funnel_significance([1], [2], "rate")


# ---------------------------------------------------------------------------
# funnel_analysis / funnel_curve
# ---------------------------------------------------------------------------


def _overdispersed_proportions() -> tuple[list[str], np.ndarray, np.ndarray]:
    # Large units with true rates spread well beyond binomial noise.
    n = np.array([800, 900, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700] * 2, dtype=float)
    p = np.linspace(0.15, 0.45, n.size)
    x = np.round(p * n)
    return [f"U{i:02d}" for i in range(n.size)], x, n


def test_funnel_analysis_structure_and_defaults() -> None:
    units, x, n = _overdispersed_proportions()
    result = funnel_analysis(units, x, n)
    assert result.method == "midp" and result.kind == "proportion"
    assert result.target == pytest.approx(x.sum() / n.sum())
    assert tuple(result.units.columns) == UNIT_COLUMNS
    assert list(result.units["unit"]) == units
    assert result.phi > 1 and result.overdispersion_applied and result.overdispersion == "additive"
    frame = result.units
    # Adjusted limits are wider than the unadjusted ones.
    assert np.all(frame["limit_upper_998"] > frame["limit_upper_998_unadjusted"])
    # Unit CIs are Wilson intervals.
    lo, hi = wilson_interval(x, n)
    np.testing.assert_allclose(frame["ci_lower"], lo)
    np.testing.assert_allclose(frame["ci_upper"], hi)


def test_funnel_analysis_flags_follow_the_limits_in_use() -> None:
    units, x, n = _overdispersed_proportions()
    for mode in ("none", "additive", "multiplicative"):
        frame = funnel_analysis(units, x, n, overdispersion=mode, exact_guard=False).units
        v = frame["value"]
        alarm = (v < frame["limit_lower_998"]) | (v > frame["limit_upper_998"])
        alert = ~alarm & ((v < frame["limit_lower_95"]) | (v > frame["limit_upper_95"]))
        assert (frame["flag"].str.startswith("alarm") == alarm).all()
        assert (frame["flag"].str.startswith("alert") == alert).all()
    unadjusted = funnel_analysis(units, x, n, overdispersion="none")
    adjusted = funnel_analysis(units, x, n, overdispersion="auto")
    assert (unadjusted.units["flag"] != "none").sum() > (adjusted.units["flag"] != "none").sum()
    assert not unadjusted.overdispersion_applied and unadjusted.phi == adjusted.phi


def test_funnel_analysis_additive_z_matches_normal_limits() -> None:
    units, x, n = _overdispersed_proportions()
    frame = funnel_analysis(units, x, n, method="normal", overdispersion="additive").units
    outside = (frame["value"] < frame["limit_lower_95"]) | (frame["value"] > frame["limit_upper_95"])
    assert ((frame["z_adjusted"].abs() > Z95) == outside).all()


def test_funnel_analysis_no_overdispersion_when_phi_small() -> None:
    # Every unit exactly on target: φ = 0, so nothing is adjusted even on request.
    result = funnel_analysis(["a", "b", "c"], [10, 20, 40], [100, 200, 400], overdispersion="additive")
    assert result.phi == 0 and not result.overdispersion_applied and result.overdispersion == "none"
    pd.testing.assert_series_equal(
        result.units["limit_upper_95"], result.units["limit_upper_95_unadjusted"], check_names=False
    )
    assert (result.units["flag"] == "none").all()


def test_funnel_analysis_handles_zero_denominator() -> None:
    result = funnel_analysis(["a", "b", "c", "d"], [5, 0, 30, 12], [50, 0, 100, 60])
    row = result.units.iloc[1]
    assert math.isnan(row["value"]) and math.isnan(row["limit_lower_95"]) and row["flag"] == "none"
    assert result.target == pytest.approx(47 / 210)


def test_funnel_analysis_ratio_defaults() -> None:
    result = funnel_analysis(["a", "b", "c"], [12, 30, 3], [10.0, 20.0, 6.0], kind="ratio")
    assert result.target == 1.0 and result.method == "midp"
    assert result.units["value"].tolist() == [1.2, 1.5, 0.5]
    lo, hi = ratio_limits([10.0, 20.0, 6.0], 0.95, method="midp")
    np.testing.assert_allclose(result.units["limit_lower_95_unadjusted"], lo)


def test_funnel_analysis_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        funnel_analysis(["a"], [5], [4])  # proportion above 1
    with pytest.raises(ValueError):
        funnel_analysis(["a", "b"], [1], [4, 5])
    with pytest.raises(ValueError):
        funnel_analysis(["a"], [1], [4], kind="rate")
    with pytest.raises(ValueError):
        funnel_analysis(["a"], [1], [4], method="shmi")


def test_funnel_curve() -> None:
    curve = funnel_curve("proportion", "exact", 0.2, 5000)
    assert list(curve.columns) == ["denominator", "lower95", "upper95", "lower998", "upper998"]
    assert np.all(curve["denominator"] == np.round(curve["denominator"]))
    assert curve["denominator"].iloc[0] == 1 and curve["denominator"].iloc[-1] == 5000
    assert np.all(curve["lower998"] <= curve["lower95"]) and np.all(curve["upper95"] <= curve["upper998"])
    ratio = funnel_curve("ratio", "shmi", 1.0, 300, points=50, tau2=0.01, overdispersion="additive")
    assert len(ratio) == 50
    plain = funnel_curve("ratio", "shmi", 1.0, 300, points=50)
    assert np.all(ratio["upper998"] > plain["upper998"])


# ---------------------------------------------------------------------------
# midp and isp (issue 11)
# ---------------------------------------------------------------------------


def test_midp_binomial_limits_hand_worked() -> None:
    # n = 10, θ = 0.5, 95%; binomial(10, ½) in 1024ths: f(8) = f(2) = 45, f(9) = f(1) = 10, f(10) = f(0) = 1.
    # Upper mid-p: p(8) = (10 + 1 + 22.5)/1024 = 33.5/1024 >= 0.025 = 25.6/1024; p(9) = (1 + 5)/1024 < it.
    # The limit is where the mid-p, linear between 8 and 9, crosses 25.6/1024: 8 + 7.9/27.5, over n.
    # The lower limit is its mirror image: 1 + 19.6/27.5, over n.
    lo, hi = proportion_limits(0.5, 10, 0.95, method="midp")
    assert float(hi) == pytest.approx((8 + 7.9 / 27.5) / 10, rel=1e-12)
    assert float(lo) == pytest.approx((1 + 19.6 / 27.5) / 10, rel=1e-12)


def test_midp_poisson_limits_hand_worked() -> None:
    # E = 1, target 1, 95%: Poisson(1) pmf e^-1/k!. Upper mid-p p(3) = P(X > 3) + ½P(3) >= 0.025 > p(4).
    pmf = [math.exp(-1) / math.factorial(k) for k in range(6)]
    tail = [1 - sum(pmf[: k + 1]) for k in range(6)]
    p3, p4 = tail[3] + pmf[3] / 2, tail[4] + pmf[4] / 2
    assert p3 >= 0.025 > p4
    lo, hi = ratio_limits(1.0, 0.95, method="midp")
    assert float(hi) == pytest.approx(3 + (p3 - 0.025) / (p3 - p4), rel=1e-10)
    # Low side: zero deaths has mid-p ½e^-1 = 0.18, so no count is low: the limit is 0.
    assert float(lo) == 0.0


def test_isp_limits_with_known_variance_and_binomial() -> None:
    e, n, v = np.array([20.0, 110.0]), np.array([40.0, 200.0]), np.array([8.0, 40.0])
    lo, hi = ratio_limits(e, 0.95, method="isp", patients=n, variance=v)
    np.testing.assert_allclose(hi, 1 + Z95 * np.sqrt(v) / e, rtol=1e-12)
    np.testing.assert_allclose(lo, 1 - Z95 * np.sqrt(v) / e, rtol=1e-12)
    # Without Σp(1 − p): the binomial(n, E/n) mid-p limits over E, which are the proportion limits × n/E.
    lo, hi = ratio_limits(e, 0.95, method="isp", patients=n)
    p_lo, p_hi = proportion_limits(0.5, 40, 0.95, method="midp")
    assert float(lo[0]) == pytest.approx(float(p_lo) * 40 / 20, rel=1e-12)
    assert float(hi[0]) == pytest.approx(float(p_hi) * 40 / 20, rel=1e-12)
    with pytest.raises(ValueError):
        ratio_limits(e, 0.95, method="isp")


def test_funnel_analysis_sums_patients_and_chooses_isp_for_common_outcomes() -> None:
    # Two rows per trust: patients and observed summed; national rate 50% > 10% -> isp.
    result = funnel_analysis(
        ["a", "a", "b", "c", "d"],
        [10, 10, 50, 45, 60],
        [9.0, 11.0, 50.0, 50.0, 50.0],
        kind="ratio",
        patients=[20, 20, 100, 100, 100],
    )
    assert result.method == "isp" and list(result.units["unit"]) == ["a", "b", "c", "d"]
    assert result.units["value"].iloc[0] == 1.0
    rare = funnel_analysis(["a", "b"], [3, 5], [4.0, 4.0], kind="ratio", patients=[100, 100])
    assert rare.method == "midp"
    explicit = funnel_analysis(["a", "b"], [30, 50], [40.0, 40.0], kind="ratio", method="exact", patients=[80, 80])
    assert explicit.method == "exact"
