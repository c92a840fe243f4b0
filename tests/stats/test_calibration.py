"""Calibration of the default funnel flags against a known truth (issue 11, items 5, 6 and 9).

Every unit is simulated under the null (its true rate is the target), so each side of the
funnel should flag about 2.5% of units at alert level (outside the 95% limits) and 0.1% at
alarm level (outside the 99.8% limits). Tolerances: alert 1.8%-3.2% per side, alarm
0.04%-0.2% per side, over 20,000 units with at least 5 expected events (binomial standard
errors 0.11% and 0.02%, so the bands are wide enough for chance and narrow enough to catch the
old default: the interpolated exact binomial flagged 3.4% high / 1.7% low at 3%, the
chi-square Poisson 1.4% high / 3.2% low with 0.24% low alarms).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from indicators.stats.analysis import FunnelResult, funnel_analysis, unit_figures
from indicators.stats.intervals import Z95, Z998

pytestmark = pytest.mark.filterwarnings("error")

UNITS = 20_000
ALERT_BAND = (0.018, 0.032)
ALARM_BAND = (0.0004, 0.002)


def _side_rates(flags: np.ndarray) -> dict[str, float]:
    f = np.asarray(flags)
    return {
        "alert_high": float(np.isin(f, ["alert_high", "alarm_high"]).mean()),
        "alert_low": float(np.isin(f, ["alert_low", "alarm_low"]).mean()),
        "alarm_high": float((f == "alarm_high").mean()),
        "alarm_low": float((f == "alarm_low").mean()),
    }


def _assert_calibrated(flags: np.ndarray) -> None:
    rates = _side_rates(flags)
    for side in ("high", "low"):
        assert ALERT_BAND[0] <= rates[f"alert_{side}"] <= ALERT_BAND[1], rates
        assert ALARM_BAND[0] <= rates[f"alarm_{side}"] <= ALARM_BAND[1], rates


@pytest.mark.parametrize("theta", [0.03, 0.55])
def test_default_proportion_flags_are_calibrated_under_the_null(theta: float) -> None:
    rng = np.random.default_rng(int(theta * 1000) + 11)
    # Sizes log-uniform from 5 expected events (or non-events) to 2,000 patients.
    smallest = 5.0 / min(theta, 1.0 - theta)
    n = np.round(np.exp(rng.uniform(np.log(smallest), np.log(2000.0), UNITS)))
    x = rng.binomial(n.astype(np.int64), theta)
    result = funnel_analysis(np.arange(UNITS), x, n, target=theta, overdispersion="none")
    _assert_calibrated(result.units["flag"].to_numpy())
    assert result.method == "midp"


def test_default_ratio_flags_are_calibrated_under_the_null() -> None:
    rng = np.random.default_rng(7)
    expected = np.exp(rng.uniform(np.log(5.0), np.log(300.0), UNITS))
    observed = rng.poisson(expected)
    result = funnel_analysis(np.arange(UNITS), observed, expected, kind="ratio", overdispersion="none")
    _assert_calibrated(result.units["flag"].to_numpy())
    assert result.method == "midp"


# ---------------------------------------------------------------------------
# Flags, z and the drawn limits say the same thing (item 9)
# ---------------------------------------------------------------------------


def _proportion_grid(theta: float) -> tuple[np.ndarray, np.ndarray]:
    n = np.arange(1, 151, dtype=float)
    sizes = np.repeat(n, n.astype(int) + 1)
    counts = np.concatenate([np.arange(k + 1, dtype=float) for k in n.astype(int)])
    return counts, sizes


def _drawn_position(figures: dict[str, np.ndarray]) -> np.ndarray:
    v = figures["value"]
    return np.select(
        [
            v < figures["limit_lower_998"],
            v > figures["limit_upper_998"],
            v < figures["limit_lower_95"],
            v > figures["limit_upper_95"],
        ],
        ["alarm_low", "alarm_high", "alert_low", "alert_high"],
        "none",
    ).astype(object)


def _assert_z_matches_flag(z: np.ndarray, flags: np.ndarray) -> None:
    f = np.asarray(flags)
    np.testing.assert_array_equal(f == "alarm_high", z > Z998)
    np.testing.assert_array_equal(f == "alarm_low", z < -Z998)
    np.testing.assert_array_equal(np.isin(f, ["alert_high", "alarm_high"]), z > Z95)
    np.testing.assert_array_equal(np.isin(f, ["alert_low", "alarm_low"]), z < -Z95)


OVERDISPERSION_CASES = [("none", 0.0, 1.0), ("additive", 0.004, 1.0), ("multiplicative", 0.0, 2.5)]


@pytest.mark.parametrize("theta", [0.03, 0.3, 0.55, 0.97])
@pytest.mark.parametrize("mode,tau2,phi", OVERDISPERSION_CASES)
def test_every_proportion_is_labelled_where_it_is_drawn(theta: float, mode: str, tau2: float, phi: float) -> None:
    # Every possible count at every n from 1 to 150: the label, the published z and the point's
    # place against the drawn limits agree (a zero count drawn on or above the lower limit is
    # "none"; one drawn below it is flagged low).
    x, n = _proportion_grid(theta)
    figures = unit_figures("proportion", "midp", theta, x, n, tau2=tau2, phi=phi, overdispersion=mode)
    np.testing.assert_array_equal(figures["flag"], _drawn_position(figures))
    _assert_z_matches_flag(figures["z_adjusted"], figures["flag"])
    zero = x == 0
    below = figures["value"] < figures["limit_lower_95"]
    assert not np.any(zero & below & (figures["flag"] == "none"))
    assert not np.any(zero & ~below & (figures["flag"] != "none"))


@pytest.mark.parametrize("mode,tau2,phi", OVERDISPERSION_CASES)
def test_every_ratio_is_labelled_where_it_is_drawn(mode: str, tau2: float, phi: float) -> None:
    # 120 expected counts from 0.2 to 200; at each, 81 whole counts from 0 to 3E + 12.
    e = np.geomspace(0.2, 200.0, 120)
    expected = np.repeat(e, 81)
    observed = np.round(np.linspace(0.0, 1.0, 81)[None, :] * (3.0 * e[:, None] + 12.0)).ravel()
    figures = unit_figures("ratio", "midp", 1.0, observed, expected, tau2=tau2, phi=phi, overdispersion=mode)
    np.testing.assert_array_equal(figures["flag"], _drawn_position(figures))
    _assert_z_matches_flag(figures["z_adjusted"], figures["flag"])


def test_zero_events_flagged_low_only_when_the_tail_says_so() -> None:
    # O = 0: the low mid-p is ½·exp(−E). Alert when ½·exp(−E) < 0.025, i.e. E > ln 20 = 3.00;
    # alarm when < 0.001, i.e. E > ln 500 = 6.21.
    expected = np.array([0.5, 2.9, 3.1, 6.1, 6.3])
    figures = unit_figures("ratio", "midp", 1.0, np.zeros(5), expected)
    assert figures["flag"].tolist() == ["none", "none", "alert_low", "alert_low", "alarm_low"]
    np.testing.assert_allclose(figures["z_adjusted"], stats.norm.ppf(0.5 * np.exp(-expected)), rtol=1e-10)


# ---------------------------------------------------------------------------
# Common outcomes: indirectly standardised proportions (item 6)
# ---------------------------------------------------------------------------


def _trusts(rng: np.random.Generator, sizes: np.ndarray, odds_ratio: np.ndarray | None = None):
    """Patients with known risks (logit ~ N(logit 0.55, 1)); outcomes Bernoulli at risk × the
    trust's odds ratio. Returns observed, expected (Σ risk), variance (Σ p(1 − p)) per trust."""
    trust = np.repeat(np.arange(sizes.size), sizes)
    logit = rng.normal(np.log(0.55 / 0.45) + 0.1, 1.0, trust.size)
    risk = 1.0 / (1.0 + np.exp(-logit))
    shift = 0.0 if odds_ratio is None else np.log(odds_ratio)[trust]
    outcome = rng.random(trust.size) < 1.0 / (1.0 + np.exp(-(logit + shift)))
    observed = np.bincount(trust, weights=outcome, minlength=sizes.size)
    expected = np.bincount(trust, weights=risk, minlength=sizes.size)
    variance = np.bincount(trust, weights=risk * (1.0 - risk), minlength=sizes.size)
    return observed, expected, variance


def _ratio_funnel(observed: np.ndarray, expected: np.ndarray, **options: np.ndarray) -> FunnelResult:
    """O/E funnel of the simulated trusts with the default method, no overdispersion allowance."""
    return funnel_analysis(np.arange(observed.size), observed, expected, kind="ratio", overdispersion="none", **options)


def test_common_outcome_uses_binomial_variance_and_phi_near_one() -> None:
    rng = np.random.default_rng(55)
    sizes = rng.integers(100, 1200, 400)
    observed, expected, variance = _trusts(rng, sizes)
    assert 0.5 < observed.sum() / sizes.sum() < 0.6
    poisson = _ratio_funnel(observed, expected)
    isp = _ratio_funnel(observed, expected, patients=sizes)
    refined = _ratio_funnel(observed, expected, patients=sizes, variance=variance)
    # Poisson variance overstates the binomial about twofold at 55%: phi far below 1.
    assert poisson.method == "midp" and poisson.phi < 0.6
    assert isp.method == "isp" and 0.7 <= isp.phi <= 1.4
    assert refined.method == "isp" and 0.7 <= refined.phi <= 1.4


def test_common_outcome_null_flag_rates_are_near_nominal() -> None:
    rng = np.random.default_rng(2005)
    sizes = rng.integers(60, 600, 8000)
    observed, expected, variance = _trusts(rng, sizes)
    result = _ratio_funnel(observed, expected, patients=sizes, variance=variance)
    assert result.method == "isp"
    rates = _side_rates(result.units["flag"].to_numpy())
    for side in ("high", "low"):
        assert 0.018 <= rates[f"alert_{side}"] <= 0.032, rates
        assert rates[f"alarm_{side}"] <= 0.003, rates


def test_a_trust_at_odds_ratio_1_8_with_400_patients_is_flagged_high() -> None:
    # 40 seeds, each a national funnel of 60 null trusts (100-1,200 patients) and one planted
    # trust with 400 patients at odds ratio 1.8. Flagged high (alert or alarm) in every seed
    # in development; the test asks for at least 95%.
    flagged = 0
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        sizes = np.append(rng.integers(100, 1200, 60), 400)
        odds = np.append(np.ones(60), 1.8)
        observed, expected, _ = _trusts(rng, sizes, odds)
        result = funnel_analysis(np.arange(sizes.size), observed, expected, kind="ratio", patients=sizes)
        assert result.method == "isp"
        flagged += result.units["flag"].iloc[-1] in ("alert_high", "alarm_high")
    assert flagged >= 38
