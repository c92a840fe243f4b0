"""Tests for the Making Data Count XmR chart (indicators.stats.spc).

Peer values come from NHSRplotthedots v0.2.2 and its Python port nhspy-plotthedots,
transcribed under tests/fixtures/reference-values/plotthedots (see its README).
Hand-worked series use a fixed baseline of twelve points alternating +1/−1, so the
mean is 0, every moving range is 2, AMR = 2, the process limits are ±5.32 and the
near limits ±3.5467; the eight points after it are then judged against those limits.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from indicators.stats.spc import COLOURS, xmr_chart

from .conftest import load_reference


def _read_reference(name: str) -> pd.DataFrame:
    return load_reference(f"plotthedots/{name}")


BASELINE = [1.0, -1.0] * 6


def _chart(tail: list[float], **kwargs: object):
    return xmr_chart(BASELINE + tail, fix_after_n_points=12, **kwargs)


def _flagged(result) -> dict[int, tuple[str, str]]:
    p = result.points[result.points["special_cause_flag"]]
    return {int(x): (r, s) for x, r, s in zip(p["x"], p["special_cause_rule"], p["side"], strict=True)}


# --- peer reference values -------------------------------------------------------


@pytest.fixture(scope="module")
def rnorm20() -> np.ndarray:
    return _read_reference("snapshot_rnorm20_seed123_inputs.csv")["y"].to_numpy()


def test_it_reproduces_plotthedots_snapshot_limits(rnorm20: np.ndarray) -> None:
    expected = _read_reference("snapshot_ptd_spc_standard_limits.csv").set_index("case")
    y15 = rnorm20.copy()
    y15[14] = 10.0  # the peer's test sets the 15th value to 10
    cases = {
        "r1_screen_outliers": xmr_chart(rnorm20),
        "r2_y15_eq_10_screen_outliers": xmr_chart(y15),
        "r3_y15_eq_10_no_screening": xmr_chart(y15, screen_outliers=False),
    }
    assert set(cases) == set(expected.index)
    for case, result in cases.items():
        row = expected.loc[case]
        got = [result.mean, result.lpl, result.upl]
        want = [row["mean_col"], row["lpl"], row["upl"]]
        np.testing.assert_allclose(got, want, rtol=1e-8, err_msg=case)
        # and the 7-significant-figure numbers printed in the peer's snapshot
        np.testing.assert_allclose(got, [row["snapshot_mean"], row["snapshot_lpl"], row["snapshot_upl"]], rtol=5e-7)


def test_it_screens_the_moving_ranges_either_side_of_an_outlier(rnorm20: np.ndarray) -> None:
    y15 = rnorm20.copy()
    y15[14] = 10.0
    used = xmr_chart(y15).points["moving_range_used"].to_numpy()
    # |10 − y14| and |y16 − 10| are both ≥ 3.267·AMR; the first point has no range
    assert not used[0] and not used[14] and not used[15]
    assert used[1:14].all() and used[16:].all()
    assert xmr_chart(y15, screen_outliers=False).points["moving_range_used"][1:].all()


def test_it_reproduces_the_nhspy_test_vectors() -> None:
    expected = _read_reference("nhspy_xmr_limits_expected.csv")
    assert len(expected) == 12
    for row in expected.itertuples(index=False):
        values = [float(v) for v in row.values.split()]
        fix = None if pd.isna(row.fix_after_n_points) else int(row.fix_after_n_points)
        # The vectors are the peer defaults: screening on (pandas_special_cause only
        # matches with it) and fix_after_n_points as given.
        result = xmr_chart(values, fix_after_n_points=fix)
        got = [result.mean, result.lpl, result.upl]
        want = [row.expected_mean, row.expected_lpl, row.expected_upl]
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12, err_msg=row.case)
        np.testing.assert_allclose(got, [row.nhsr_mean, row.nhsr_lpl, row.nhsr_upl], rtol=1e-8, atol=1e-12)
        if not pd.isna(row.expected_nlpl):
            np.testing.assert_allclose(
                [result.near_lpl, result.near_upl],
                [row.expected_nlpl, row.expected_nupl],
                rtol=1e-8,
                atol=1e-12,
                err_msg=row.case,
            )


def test_it_matches_nhspy_special_cause_case_only_with_screening() -> None:
    # 1 1 1 1 2: AMR 0.25 unscreened; the range of 1 is ≥ 3.267·0.25, so screened AMR = 0
    screened = xmr_chart([1, 1, 1, 1, 2])
    assert (screened.mean, screened.amr, screened.lpl, screened.upl) == pytest.approx((1.2, 0.0, 1.2, 1.2))
    assert xmr_chart([1, 1, 1, 1, 2], screen_outliers=False).amr == pytest.approx(0.25)


# --- limits ------------------------------------------------------------------------


def test_it_computes_limits_by_hand() -> None:
    result = xmr_chart(BASELINE)
    assert result.mean == 0.0
    assert result.amr == 2.0
    assert (result.lpl, result.upl) == pytest.approx((-5.32, 5.32))
    assert (result.near_lpl, result.near_upl) == pytest.approx((-2 * 5.32 / 3, 2 * 5.32 / 3))
    assert result.points["moving_range"].isna().tolist() == [True] + [False] * 11


def test_it_fixes_limits_after_n_points() -> None:
    a = _chart([1, -1, 1, -1, 1, -1, 1, -1])
    b = _chart([50, 60, 70, 80, 90, 100, 110, 120])
    for r in (a, b):
        assert (r.mean, r.amr, r.n_baseline_points) == (0.0, 2.0, 12)
    assert not b.points["moving_range_used"][12:].any()
    # fix_after_n_points beyond the series length uses every point, as the peer does
    assert xmr_chart(BASELINE, fix_after_n_points=40).n_baseline_points == 12


def test_it_marks_trial_limits_below_thirteen_points() -> None:
    assert xmr_chart(BASELINE).trial_limits is True
    assert xmr_chart(BASELINE + [1.0]).trial_limits is False


def test_it_keeps_a_zero_amr_for_a_constant_series() -> None:
    result = xmr_chart([3.0] * 15)
    assert (result.amr, result.lpl, result.upl) == (0.0, 3.0, 3.0)
    assert not result.points["special_cause_flag"].any()


# --- the four rules, one at a time -------------------------------------------------


def test_it_flags_a_point_outside_the_limits_only() -> None:
    assert _flagged(_chart([1, -1, 1, 6, 1, -1, 1, -1])) == {15: ("outside_limits", "high")}
    assert _flagged(_chart([1, -1, 1, -6, 1, -1, 1, -1])) == {15: ("outside_limits", "low")}
    # strict inequality: a point on the limit is not outside it
    assert _flagged(_chart([1, -1, 1, 5.32, 1, -1, 1, -1])) == {}


def test_it_flags_a_seven_point_trend_crossing_the_mean_by_its_direction() -> None:
    rising = _flagged(_chart([-3, -2, -1, 0, 1, 2, 3, -1]))
    assert rising == {i: ("trend", "high") for i in range(12, 19)}
    # the first three points are above the mean but the trend is falling (peer #171)
    falling = _chart([3, 2, 1, 0, -1, -2, -3, 1], improvement_direction="increase")
    assert _flagged(falling) == {i: ("trend", "low") for i in range(12, 19)}
    assert set(falling.points["point_type"][12:19]) == {"special_cause_concern"}


def test_it_does_not_flag_six_point_trends_unless_asked() -> None:
    tail = [-3, -2, -1, 1, 2, 3, -1, 1]
    assert _flagged(_chart(tail)) == {}
    assert _flagged(_chart(tail, trend_points=6)) == {i: ("trend", "high") for i in range(12, 18)}


def test_it_breaks_a_trend_on_equal_values() -> None:
    assert _flagged(_chart([-3, -2, -1, -1, 1, 2, 3, -1])) == {}


def test_it_gives_a_shared_turning_point_the_direction_of_the_later_trend() -> None:
    result = _chart([-3, -2, -1, 0, 1, 2, 3, 2, 1, 0, -1, -2, -3, 1])
    flagged = _flagged(result)
    assert set(flagged) == set(range(12, 25))
    assert {flagged[i][1] for i in range(12, 18)} == {"high"}
    assert flagged[18] == ("trend", "low")  # the peak starts the falling trend
    assert {flagged[i][1] for i in range(19, 25)} == {"low"}


def test_it_flags_only_the_near_limit_points_of_two_in_three() -> None:
    # 4 is beyond the near limit (3.547) but inside the process limit (5.32)
    assert _flagged(_chart([1, 4, 1, 4, -1, 1, -1, 1])) == {
        13: ("two_in_three", "high"),
        15: ("two_in_three", "high"),
    }
    assert _flagged(_chart([-1, -4, 1, -4, 1, -1, 1, -1])) == {}  # middle point crosses the mean
    assert _flagged(_chart([1, -4, -1, -4, 1, -1, 1, -1])) == {
        13: ("two_in_three", "low"),
        15: ("two_in_three", "low"),
    }
    assert _flagged(_chart([-1, 4, 4, 1, -1, 1, -1, 1])) == {
        13: ("two_in_three", "high"),
        14: ("two_in_three", "high"),
    }


def test_it_needs_all_three_points_on_one_side_for_two_in_three() -> None:
    # peer issue #143: near-limit points either side of a point below the mean
    assert _flagged(_chart([1, 4, -1, 4, -1, 1, -1, 1])) == {}


def test_it_does_not_count_an_outside_point_towards_two_in_three() -> None:
    assert _flagged(_chart([1, 4, 1, 6, -1, 1, -1, 1])) == {15: ("outside_limits", "high")}


def test_it_flags_a_shift_of_seven_on_one_side_of_the_mean() -> None:
    assert _flagged(_chart([1, 2, 1, 2, 1, 2, 1, -1])) == {i: ("shift", "high") for i in range(12, 19)}
    # the last baseline point (−1) is below the mean too, so this run is 11..18
    assert _flagged(_chart([-1, -2, -1, -2, -1, -2, -1, 1])) == {i: ("shift", "low") for i in range(11, 19)}
    six = [1, 2, 1, 2, 1, 2, -1, 1]
    assert _flagged(_chart(six)) == {}
    assert _flagged(_chart(six, shift_points=6)) == {i: ("shift", "high") for i in range(12, 18)}


def test_it_breaks_a_shift_on_a_point_at_the_mean() -> None:
    assert _flagged(_chart([1, 2, 1, 0, 1, 2, 1, -1])) == {}


# --- precedence ----------------------------------------------------------------------


def test_it_names_outside_limits_before_shift() -> None:
    flagged = _flagged(_chart([1, 2, 1, 6, 1, 2, 1, -1]))
    assert flagged[15] == ("outside_limits", "high")
    assert {flagged[i][0] for i in (12, 13, 14, 16, 17, 18)} == {"shift"}
    assert set(flagged) == set(range(12, 19))


def test_it_names_trend_before_shift() -> None:
    tail = [0.5, 1, 1.5, 2, 2.5, 3, 3.4, -1]
    # the trend starts at the last baseline point (−1); 12..18 are also a shift
    assert _flagged(_chart(tail)) == {i: ("trend", "high") for i in range(11, 19)}
    assert _flagged(_chart(tail, trend_points=50)) == {i: ("shift", "high") for i in range(12, 19)}


def test_it_names_outside_limits_before_trend() -> None:
    flagged = _flagged(_chart([0.5, 1, 1.5, 2, 2.5, 3, 6, -1]))
    assert flagged == {**{i: ("trend", "high") for i in range(11, 18)}, 18: ("outside_limits", "high")}


def test_it_names_two_in_three_before_shift() -> None:
    flagged = _flagged(_chart([1, 4, 1, 4, 1, 2, 1, -1]))
    assert flagged[13] == flagged[15] == ("two_in_three", "high")
    assert {flagged[i][0] for i in (12, 14, 16, 17, 18)} == {"shift"}


# --- point types, colours and icons --------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "spike", "point_type", "icon"),
    [
        ("increase", 6.0, "special_cause_improvement", "improvement_high"),
        ("decrease", 6.0, "special_cause_concern", "concern_high"),
        ("neutral", 6.0, "special_cause_neutral", "neutral_high"),
        ("increase", -6.0, "special_cause_concern", "concern_low"),
        ("decrease", -6.0, "special_cause_improvement", "improvement_low"),
        ("neutral", -6.0, "special_cause_neutral", "neutral_low"),
    ],
)
def test_it_classifies_the_latest_point_by_direction(direction: str, spike: float, point_type: str, icon: str) -> None:
    result = _chart([1, -1, 1, -1, 1, -1, 1, spike], improvement_direction=direction)
    last = result.points.iloc[-1]
    assert last["point_type"] == point_type
    assert last["colour"] == COLOURS[point_type]
    assert result.variation_icon == icon
    assert (result.points["point_type"][:-1] == "common_cause").all()
    assert set(result.points["colour"][:-1]) == {COLOURS["common_cause"]}


def test_it_colours_each_point_type_with_making_data_counts_hue() -> None:
    assert COLOURS == {
        "special_cause_improvement": "#005eb8",  # blue
        "special_cause_concern": "#b35900",  # orange
        "special_cause_neutral": "#6c2c8f",  # purple
        "common_cause": "#768692",  # grey
    }


def _relative_luminance(hex_colour: str) -> float:
    """WCAG 2.2 relative luminance of an sRGB colour (https://www.w3.org/TR/WCAG22/#dfn-relative-luminance)."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast_with_white(hex_colour: str) -> float:
    """WCAG contrast ratio (L1 + 0.05) / (L2 + 0.05), white being the lighter (https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio)."""
    return 1.05 / (_relative_luminance(hex_colour) + 0.05)


def test_the_contrast_ratio_is_wcags() -> None:
    assert _contrast_with_white("#000000") == pytest.approx(21.0)
    assert _contrast_with_white("#ffffff") == pytest.approx(1.0)
    assert _contrast_with_white("#a6a6a6") == pytest.approx(2.4, abs=0.05)  # the peer's grey fails


@pytest.mark.parametrize("point_type", sorted(COLOURS))
def test_every_point_colour_has_3_to_1_contrast_on_white(point_type: str) -> None:
    # WCAG 2.2 SC 1.4.11 (non-text contrast): graphical objects need at least 3:1 against adjacent colours.
    assert _contrast_with_white(COLOURS[point_type]) >= 3.0


def test_it_shows_common_cause_when_the_latest_point_is_unremarkable() -> None:
    result = _chart([1, -1, 1, 6, 1, -1, 1, -1], improvement_direction="increase")
    assert result.points["point_type"][15] == "special_cause_improvement"
    assert result.variation_icon == "common_cause"


@pytest.mark.parametrize(
    ("direction", "target", "icon"),
    [
        ("increase", 10.0, "consistent_fail"),
        ("decrease", 10.0, "consistent_pass"),
        ("increase", -10.0, "consistent_pass"),
        ("decrease", -10.0, "consistent_fail"),
        ("increase", 0.0, "inconsistent"),
        ("decrease", 5.32, "inconsistent"),  # on the limit is not beyond it
        ("neutral", 10.0, None),
        ("increase", None, None),
    ],
)
def test_it_gives_the_assurance_icon_from_target_and_limits(
    direction: str, target: float | None, icon: str | None
) -> None:
    result = xmr_chart(BASELINE + BASELINE, improvement_direction=direction, target=target)
    assert (result.lpl, result.upl) == pytest.approx((-5.32, 5.32))
    assert result.assurance_icon == icon


def test_it_uses_the_fixed_limits_for_assurance() -> None:
    # later points at 50+ would move unfixed limits past the target of 10
    result = _chart([50, 60, 70, 80, 90, 100, 110, 120], improvement_direction="increase", target=10)
    assert result.assurance_icon == "consistent_fail"


# --- interface -------------------------------------------------------------------------


def test_it_returns_the_documented_points_table() -> None:
    index = pd.period_range("2021Q1", periods=13, freq="Q")
    result = xmr_chart(
        pd.Series(BASELINE + [6.0], index=index),
        improvement_direction="increase",
        fix_after_n_points=12,
    )
    assert list(result.points.columns) == [
        "x",
        "label",
        "value",
        "moving_range",
        "moving_range_used",
        "special_cause_rule",
        "special_cause_flag",
        "side",
        "point_type",
        "colour",
    ]
    assert result.points["x"].tolist() == list(range(13))
    assert result.points["label"].iloc[-1] == pd.Period("2024Q1", freq="Q")
    payload = json.loads(json.dumps(result.as_dict(), allow_nan=False))
    assert payload["points"][0]["moving_range"] is None
    assert payload["points"][-1]["label"] == "2024Q1"
    assert payload["variation_icon"] == "improvement_high"


@pytest.mark.parametrize(
    ("values", "kwargs"),
    [
        ([], {}),
        ([1.0, np.nan, 2.0], {}),
        ([1.0, 2.0], {"improvement_direction": "up"}),
        ([1.0, 2.0], {"fix_after_n_points": 1}),
        ([1.0, 2.0], {"trend_points": 1}),
    ],
)
def test_it_rejects_bad_input(values: list[float], kwargs: dict) -> None:
    with pytest.raises(ValueError):
        xmr_chart(values, **kwargs)


# --- gaps and bounds (issue 11) ------------------------------------------------------------------


def test_a_gap_is_kept_and_no_moving_range_spans_it() -> None:
    # 1, 3, gap, 10, 12: moving ranges |3 - 1| = 2 and |12 - 10| = 2 only (not |10 - 3| = 7),
    # so AMR = 2 and the mean is that of the four values, 6.5.
    result = xmr_chart([1.0, 3.0, np.nan, 10.0, 12.0], gaps=True)
    assert result.mean == pytest.approx(6.5) and result.amr == pytest.approx(2.0)
    assert (result.lpl, result.upl) == (pytest.approx(6.5 - 5.32), pytest.approx(6.5 + 5.32))
    assert result.n_points == 4
    mr = result.points["moving_range"].to_numpy()
    assert np.isnan(mr[[0, 2, 3]]).all() and mr[1] == 2.0 and mr[4] == 2.0
    assert result.points["moving_range_used"].tolist() == [False, True, False, False, True]


def test_a_gap_breaks_a_run() -> None:
    # Six rising values, a gap, one more: a trend needs seven consecutive points, so none is flagged.
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan, 7.0]
    assert not xmr_chart(values, gaps=True).points["special_cause_rule"].eq("trend").any()
    # The same seven values without the gap are a trend.
    assert xmr_chart([v for v in values if np.isfinite(v)]).points["special_cause_rule"].eq("trend").any()


def test_the_icons_describe_the_last_value_when_the_series_ends_in_a_gap() -> None:
    result = _chart([20.0, np.nan], gaps=True)
    assert result.points["special_cause_rule"].iloc[-2] == "outside_limits"
    assert result.variation_icon == "neutral_high"


def test_limits_are_clamped_to_the_range_of_the_measure() -> None:
    # Mean 0.03, AMR 0.024444: limits 0.03 -/+ 0.065 would run from -3.5% to 9.5%.
    values = [0.03 + (0.0122222 if i % 2 else -0.0122222) for i in range(12)]
    free = xmr_chart(values)
    assert free.lpl == pytest.approx(-0.035, abs=1e-4)
    bounded = xmr_chart(values, limits_within=(0.0, 1.0))
    assert bounded.lpl == 0.0 and bounded.upl == pytest.approx(0.095, abs=1e-4)
    assert bounded.near_lpl == 0.0 and bounded.near_upl == pytest.approx(free.near_upl)


def test_gaps_must_be_asked_for_and_infinity_is_never_a_gap() -> None:
    with pytest.raises(ValueError):
        xmr_chart([1.0, np.inf, 2.0], gaps=True)
    with pytest.raises(ValueError):
        xmr_chart([np.nan, np.nan], gaps=True)
