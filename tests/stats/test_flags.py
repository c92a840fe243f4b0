"""Alert/alarm flags and their wording (indicators.stats.flags)."""

from __future__ import annotations

import numpy as np
import pytest

from indicators.stats.flags import DIRECTIONS, FLAGS, flag_label, flag_meaning, outlier_flags

pytestmark = pytest.mark.filterwarnings("error")

# limits: 95% (0.4, 0.6), 99.8% (0.3, 0.7)
LIMITS = (0.4, 0.6, 0.3, 0.7)


@pytest.mark.parametrize(
    "value,expected",
    [
        (0.5, "none"),
        (0.4, "none"),  # on the 95% limit: not beyond it
        (0.39, "alert_low"),
        (0.3, "alert_low"),  # on the 99.8% limit: still only an alert
        (0.29, "alarm_low"),
        (0.6, "none"),
        (0.61, "alert_high"),
        (0.7, "alert_high"),
        (0.71, "alarm_high"),
        (float("nan"), "none"),
    ],
)
def test_outlier_flags_hand_cases(value, expected) -> None:
    assert outlier_flags(value, *LIMITS).item() == expected


def test_outlier_flags_vectorised_with_per_unit_limits() -> None:
    values = [0.1, 0.5, 0.9, 0.55]
    lo95 = [0.2, 0.4, 0.3, 0.56]
    hi95 = [0.8, 0.6, 0.7, 0.8]
    lo998 = [0.15, 0.3, 0.2, 0.5]
    hi998 = [0.85, 0.7, 0.95, 0.9]
    flags = outlier_flags(values, lo95, hi95, lo998, hi998)
    assert list(flags) == ["alarm_low", "none", "alert_high", "alert_low"]
    assert flags.dtype == object and set(flags) <= set(FLAGS)


def test_outlier_flags_missing_limit_never_flags_that_side() -> None:
    # Byar's lower limits can be NaN; a value cannot be "below" a missing limit.
    flags = outlier_flags([0.0, 0.0], [np.nan, 0.1], [1.0, 1.0], [np.nan, np.nan], [2.0, 2.0])
    assert list(flags) == ["none", "alert_low"]


MEANINGS = {
    ("alarm_low", "higher_is_better"): "worse",
    ("alert_low", "higher_is_better"): "worse",
    ("alert_high", "higher_is_better"): "better",
    ("alarm_high", "higher_is_better"): "better",
    ("alarm_low", "lower_is_better"): "better",
    ("alert_low", "lower_is_better"): "better",
    ("alert_high", "lower_is_better"): "worse",
    ("alarm_high", "lower_is_better"): "worse",
    ("alarm_low", "no_judgement"): "lower",
    ("alert_low", "no_judgement"): "lower",
    ("alert_high", "no_judgement"): "higher",
    ("alarm_high", "no_judgement"): "higher",
    ("none", "higher_is_better"): "as_expected",
    ("none", "lower_is_better"): "as_expected",
    ("none", "no_judgement"): "as_expected",
}


@pytest.mark.parametrize("flag,direction", list(MEANINGS))
def test_flag_meaning(flag, direction) -> None:
    assert flag_meaning(flag, direction) == MEANINGS[(flag, direction)]


@pytest.mark.parametrize(
    "flag,direction,label",
    [
        ("alert_high", "lower_is_better", "Alert: higher than expected (worse)"),
        ("alarm_high", "higher_is_better", "Alarm: higher than expected (better)"),
        ("alarm_low", "higher_is_better", "Alarm: lower than expected (worse)"),
        ("alert_low", "lower_is_better", "Alert: lower than expected (better)"),
        ("alarm_low", "no_judgement", "Alarm: lower than expected"),
        ("alert_high", "no_judgement", "Alert: higher than expected"),
        ("none", "higher_is_better", "Within expected range"),
        ("none", "no_judgement", "Within expected range"),
    ],
)
def test_flag_label(flag, direction, label) -> None:
    assert flag_label(flag, direction) == label


def test_every_flag_and_direction_has_a_label() -> None:
    for flag in FLAGS:
        for direction in DIRECTIONS:
            assert flag_label(flag, direction)


@pytest.mark.parametrize("flag,direction", [("alarm", "higher_is_better"), ("none", "up")])
def test_unknown_flag_or_direction_raises(flag, direction) -> None:
    with pytest.raises(ValueError):
        flag_meaning(flag, direction)
    with pytest.raises(ValueError):
        flag_label(flag, direction)


def test_exact_guard_drops_a_zero_count_flag_that_chance_explains() -> None:
    from indicators.stats.analysis import funnel_analysis
    from indicators.stats.flags import exact_test_guard

    # O = 0 with E = 0.36: P(X <= 0) = exp(-0.36) = 0.698, nothing unusual; the continuous
    # chi-square lower 99.8% limit (7.9e-9) is still above 0, so the limits alone say "alarm".
    assert exact_test_guard(["alarm_low"], [0], [0.36], 1.0, "ratio").tolist() == ["none"]
    # O = 0 with E = 8: P = exp(-8) = 0.000335 < 0.001, an alarm either way.
    assert exact_test_guard(["alarm_low"], [0], [8.0], 1.0, "ratio").tolist() == ["alarm_low"]
    # O = 0 with E = 5: P = exp(-5) = 0.0067: an alert, not an alarm.
    assert exact_test_guard(["alarm_low"], [0], [5.0], 1.0, "ratio").tolist() == ["alert_low"]
    # High side, binomial: 10 of 10 at target 0.6: P(X = 10) = 0.6^10 = 0.006 -> alert only.
    assert exact_test_guard(["alarm_high"], [10], [10], 0.6, "proportion").tolist() == ["alert_high"]
    # Away from the boundary the limits decide: 3 of 10 keeps its flag.
    assert exact_test_guard(["alarm_high"], [3], [10], 0.05, "proportion").tolist() == ["alarm_high"]
    units, observed, expected = ["a", "b", "c", "d"], [0, 30, 40, 50], [0.36, 30.0, 40.0, 50.0]
    plain = funnel_analysis(
        units, observed, expected, kind="ratio", method="exact", exact_guard=False, overdispersion="none"
    )
    guarded = funnel_analysis(units, observed, expected, kind="ratio", method="exact", overdispersion="none")
    assert plain.units["flag"].tolist()[0] == "alarm_low" and guarded.units["flag"].tolist()[0] == "none"
