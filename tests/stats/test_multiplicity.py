"""False-discovery rates and chance flags (indicators.stats.multiplicity).

Checked against Benjamini & Hochberg (1995)'s published example, statsmodels' independent implementation, and
arithmetic, never the code's own earlier output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from indicators.stats.multiplicity import benjamini_hochberg, expected_chance_flags, two_sided_p

pytestmark = pytest.mark.filterwarnings("error")

#: Benjamini & Hochberg (1995), JRSS B 57:289-300, section 4: the 15 p-values of Neuhaus et al.'s (1992)
#: thrombolysis trial. At q = 0.05 the step-up procedure rejects the four smallest (p <= 0.0095).
BH_1995 = [
    0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
    0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000,
]  # fmt: skip


def test_published_example_gives_four_discoveries() -> None:
    result = benjamini_hochberg(BH_1995, fdr=0.05)
    assert result.tests == 15 and result.count == 4
    np.testing.assert_array_equal(result.discoveries, [True] * 4 + [False] * 11)


def test_published_example_by_the_step_up_rule() -> None:
    # The largest k with p_(k) <= k·0.05/15 is k = 4 (0.0095 <= 0.0133; 0.0201 > 0.0167, ..., 0.0459 > 0.03).
    q = benjamini_hochberg(BH_1995).q_values
    assert q[3] == pytest.approx(0.0095 * 15 / 4)
    assert q[0] == pytest.approx(0.0001 * 15)
    # q_(i) = min over j >= i of 15·p_(j)/j: rank 6's minimum is at j = 7 (0.0298·15/7 = 0.0639 < 0.0278·15/6).
    np.testing.assert_allclose(q[4:9], [0.0201 * 3, 0.0298 * 15 / 7, 0.0298 * 15 / 7, 0.0344 * 15 / 8, 0.0459 * 15 / 9])
    assert q[-1] == 1.0


@pytest.mark.parametrize("fdr", [0.01, 0.05, 0.1, 0.25])
def test_agrees_with_statsmodels(fdr: float) -> None:
    rng = np.random.default_rng(5)
    # A mixture of nulls (uniform) and real effects (small p), in random order, with ties.
    p = np.concatenate([rng.uniform(size=80), rng.beta(0.2, 5.0, size=40), [0.01, 0.01, 0.5]])
    rng.shuffle(p)
    reject, q, _, _ = multipletests(p, alpha=fdr, method="fdr_bh")
    result = benjamini_hochberg(p, fdr=fdr)
    np.testing.assert_allclose(result.q_values, q, rtol=1e-12)
    np.testing.assert_array_equal(result.discoveries, reject)
    reject15, q15, _, _ = multipletests(BH_1995, alpha=fdr, method="fdr_bh")
    np.testing.assert_allclose(benjamini_hochberg(BH_1995, fdr=fdr).q_values, q15, rtol=1e-12)


def test_missing_p_values_stay_missing_and_do_not_count() -> None:
    with_gaps = np.array([np.nan, *BH_1995[:7], np.nan, *BH_1995[7:]])
    result = benjamini_hochberg(with_gaps)
    assert result.tests == 15 and result.count == 4
    assert np.isnan(result.q_values[[0, 8]]).all()
    assert not result.discoveries[[0, 8]].any()
    present = ~np.isnan(with_gaps)
    np.testing.assert_allclose(result.q_values[present], benjamini_hochberg(BH_1995).q_values)
    empty = benjamini_hochberg([np.nan, np.nan])
    assert empty.tests == 0 and empty.count == 0 and np.isnan(empty.q_values).all()


def test_order_does_not_matter() -> None:
    rng = np.random.default_rng(2)
    order = rng.permutation(15)
    shuffled = np.array(BH_1995)[order]
    np.testing.assert_allclose(benjamini_hochberg(shuffled).q_values, benjamini_hochberg(BH_1995).q_values[order])


def test_invalid_input_is_refused() -> None:
    with pytest.raises(ValueError):
        benjamini_hochberg([0.5, 1.2])
    with pytest.raises(ValueError):
        benjamini_hochberg([-0.1])
    with pytest.raises(ValueError):
        benjamini_hochberg([0.5], fdr=0.0)


def test_two_sided_p_doubles_the_smaller_tail() -> None:
    np.testing.assert_allclose(two_sided_p([0.01, 0.7, 0.5], [0.99, 0.3, 0.5]), [0.02, 0.6, 1.0])
    assert np.isnan(two_sided_p([np.nan], [0.2])).all()


def test_expected_chance_flags_by_arithmetic() -> None:
    flags = expected_chance_flags(150)
    assert flags.expected_alerts == pytest.approx(150 * 0.05)  # 7.5
    assert flags.expected_alarms == pytest.approx(150 * 0.002)  # 0.3
    assert flags.any_alert == pytest.approx(1 - 0.95**150)
    assert flags.any_alarm == pytest.approx(1 - 0.998**150)
    # 150·ln(0.998) = −0.30030 and e^−0.30030 = 0.74059: a one-in-four chance of an alarm by chance alone.
    assert flags.any_alarm == pytest.approx(0.2594, abs=5e-5)
    one = expected_chance_flags(1)
    assert one.any_alert == pytest.approx(0.05) and one.any_alarm == pytest.approx(0.002)
    none = expected_chance_flags(0)
    assert none.expected_alerts == 0.0 and none.any_alert == 0.0
    custom = expected_chance_flags(20, alert_level=0.9, alarm_level=0.99)
    assert custom.expected_alerts == pytest.approx(2.0) and custom.any_alarm == pytest.approx(1 - 0.99**20)
    assert math.isclose(expected_chance_flags(10**6).any_alarm, 1.0)


def test_expected_chance_flags_refuses_nonsense() -> None:
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError):
            expected_chance_flags(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        expected_chance_flags(10, alert_level=1.0)


def test_the_tails_behind_a_funnel_z_are_its_normal_tails():
    # A unit 1.96 above the target: 2.5% in its upper tail, so 5% two-sided (the 95% alert limit).
    from indicators.stats.multiplicity import tails_of_z

    low, high = tails_of_z([1.959963984540054, -3.090232306167813, float("nan")])
    assert high[0] == pytest.approx(0.025, rel=1e-9) and low[0] == pytest.approx(0.975, rel=1e-9)
    assert low[1] == pytest.approx(0.001, rel=1e-9)  # the 99.8% alarm limit, one side
    assert np.isnan(low[2]) and np.isnan(high[2])
    assert two_sided_p(low, high)[:2] == pytest.approx([0.05, 0.002], rel=1e-9)
