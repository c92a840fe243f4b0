"""Chart specifications and sentences: pure functions, no database."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dashboards import figures, text
from dashboards.services import embed
from indicators.stats.funnel import proportion_limits, ratio_limits
from indicators.stats.spc import COLOURS


def point(code: str, x: float, y: float, meaning: str = "as_expected") -> dict:
    return {"x": x, "y": y, "meaning": meaning, "customdata": [code, f"Trust {code}", "v", "ci", "n", "words"]}


def trace(spec: dict, name_start: str) -> dict:
    return next(t for t in spec["data"] if t["name"].startswith(name_start))


def test_funnel_limits_are_the_ones_that_flagged_the_units():
    target, tau2 = 0.3, 0.002
    spec = figures.funnel_figure(
        points=[point("A", 50, 0.2), point("B", 400, 0.45, "worse"), point("C", 900, 0.31)],
        kind="proportion",
        method="exact",
        target=target,
        tau2=tau2,
        phi=1.6,
        overdispersion="additive",
        x_title="n",
        y_title="p",
    )
    limits = trace(spec, "95% limits")
    split = limits["x"].index(None)
    xs, upper = np.array(limits["x"][:split]), np.array(limits["y"][:split])
    lower95, upper95 = proportion_limits(
        target, xs, 0.95, method="exact", tau2=tau2, phi=1.6, overdispersion="additive"
    )
    assert upper == pytest.approx(upper95, rel=1e-5)
    assert np.array(limits["y"][split + 1 :]) == pytest.approx(lower95, rel=1e-5, abs=1e-9)
    assert trace(spec, "England")["y"] == [target, target]


def test_ratio_limits_are_scaled_onto_the_risk_adjusted_rate():
    rate = 0.04
    spec = figures.funnel_figure(
        points=[point("A", 5.0, 0.05), point("B", 30.0, 0.03)],
        kind="ratio",
        method="exact",
        target=1.0,
        scale=rate,
        x_title="E",
        y_title="rate",
    )
    limits = trace(spec, "99.8% limits")
    split = limits["x"].index(None)
    xs = np.array(limits["x"][:split])
    _, upper = ratio_limits(xs, 0.998, method="exact", target=1.0)
    assert np.array(limits["y"][:split]) == pytest.approx(upper * rate, rel=1e-5)
    assert trace(spec, "England")["y"][0] == pytest.approx(rate)


def test_funnel_points_are_grouped_by_meaning_with_words_in_the_legend_and_hover():
    spec = figures.funnel_figure(
        points=[
            point("A", 50, 0.2),
            point("B", 400, 0.45, "worse"),
            point("C", 900, 0.1, "better"),
            point("D", 90, 0.5, "higher"),
        ],
        kind="proportion",
        method="exact",
        target=0.3,
        x_title="n",
        y_title="p",
    )
    markers = {t["name"]: t for t in spec["data"] if t["mode"] == "markers"}
    assert set(markers) == {
        "Within expected range",
        "Worse than expected",
        "Better than expected",
        "Higher than expected",
    }
    assert markers["Worse than expected"]["customdata"][0][0] == "B"
    assert markers["Worse than expected"]["marker"]["symbol"] != markers["Better than expected"]["marker"]["symbol"]
    assert "%{customdata[1]}" in markers["Within expected range"]["hovertemplate"]
    low, high = spec["layout"]["yaxis"]["range"]
    assert low <= 0.1 and high >= 0.5


def test_a_standard_is_drawn_when_the_audit_sets_one():
    spec = figures.funnel_figure(
        points=[point("A", 50, 0.7), point("B", 80, 0.9)],
        kind="proportion",
        method="exact",
        target=0.8,
        x_title="n",
        y_title="p",
        standard=0.9,
        standard_label="Standard: 90%",
    )
    assert trace(spec, "Standard: 90%")["y"] == [0.9, 0.9]


def test_spine_puts_better_on_the_right_and_shows_the_middle_half():
    values = [0.1, 0.2, 0.3, 0.4, 0.5]
    higher = figures.spine(
        values=values, value=0.45, ci=(0.4, 0.5), england=0.3, alliance=0.25, direction="higher_is_better"
    )
    lower = figures.spine(
        values=values, value=0.45, ci=(0.4, 0.5), england=0.3, alliance=0.25, direction="lower_is_better"
    )
    assert higher["value"] > higher["england"] and lower["value"] < lower["england"]
    assert (higher["left"], higher["right"]) == ("worse", "better")
    assert higher["quantiles"]["q1"] == pytest.approx(0.2) and higher["quantiles"]["q3"] == pytest.approx(0.4)
    assert higher["min"] < higher["q1"] < higher["q3"] < higher["max"] <= figures.SPINE_WIDTH
    assert higher["box_width"] == pytest.approx(higher["q3"] - higher["q1"], abs=0.11)
    neutral = figures.spine(
        values=values, value=0.45, ci=(None, None), england=0.3, alliance=None, direction="no_judgement"
    )
    assert (neutral["left"], neutral["right"]) == ("lower", "higher") and neutral["ci_low"] is None
    assert (
        figures.spine(values=[0.2], value=0.2, ci=(None, None), england=0.2, alliance=None, direction="no_judgement")
        is None
    )


def test_sparkline_leaves_gaps_for_missing_or_suppressed_quarters():
    spark = figures.sparkline([0.1, 0.2, None, 0.3, 0.4, None, 0.2])
    assert len(spark["paths"]) == 2 and spark["dots"] == [(120.0, spark["dots"][0][1])]
    assert figures.sparkline([None, 0.2, None]) is None


def test_xmr_chart_colours_special_causes_and_draws_mean_and_limits():
    spec = figures.xmr_figure(
        labels=["Q1", "Q2", "Q3", "Q4"],
        values=[0.2, 0.25, None, 0.6],
        point_types=["common_cause", "common_cause", "", "special_cause_concern"],
        rules=["", "", "", "outside_limits"],
        mean=0.3,
        lpl=0.1,
        upl=0.5,
        target=0.4,
        percent_axis=True,
        y_title="%",
        value_texts=["20%", "25%", "*", "60%"],
    )
    names = [t["name"] for t in spec["data"]]
    assert {"Mean", "Upper process limit", "Lower process limit", "Target", "Special cause: concern"} <= set(names)
    concern = trace(spec, "Special cause: concern")
    assert concern["x"] == ["Q4"] and concern["marker"]["color"] == COLOURS["special_cause_concern"]
    assert "outside the process limits" in concern["customdata"][0][1]
    assert trace(spec, "Quarterly value")["y"][2] is None


def test_calibration_plot_has_the_line_of_perfect_calibration():
    groups = [
        {
            "decile": i,
            "n": 100,
            "mean_predicted": p,
            "observed_rate": p * 1.1,
            "expected_events": 100 * p,
            "observed_events": int(110 * p),
        }
        for i, p in enumerate([0.01, 0.05, 0.2], start=1)
    ]
    spec = figures.calibration_figure(groups)
    assert trace(spec, "Perfect calibration")["x"] == trace(spec, "Perfect calibration")["y"]
    assert trace(spec, "Groups")["y"] == pytest.approx([0.011, 0.055, 0.22])


def test_marker_shapes_differ_by_meaning():
    paths = {m: figures.marker_path(m, 50, 12) for m in ("as_expected", "better", "worse", "higher", "lower")}
    assert len(set(paths.values())) == 5


def test_embedded_json_cannot_close_its_script_element():
    html = embed({"name": "</script><script>alert(1)</script> & more"})
    assert "</script>" not in html and "<" not in html
    assert json.loads(html)["name"].startswith("</script>")


@pytest.mark.parametrize(
    ("flag", "direction", "words"),
    [
        ("none", "higher_is_better", "within the range expected from chance variation alone"),
        ("alert_high", "higher_is_better", "higher than expected (alert, beyond the 95% limit), which is better"),
        ("alarm_high", "lower_is_better", "higher than expected (alarm, beyond the 99.8% limit), which is worse"),
        ("alert_low", "no_judgement", "lower than expected (alert, beyond the 95% limit); there is no right rate"),
    ],
)
def test_the_so_what_sentence_is_direction_aware(flag, direction, words):
    sentence = text.indicator_sentence(
        place="this trust",
        value_text="12.0%",
        england_text="10.0%",
        flag=flag,
        direction=direction,
        compared=True,
        shown=True,
    )
    assert sentence.startswith("12.0% at this trust against 10.0% in England: ") and words in sentence


def test_sentences_for_small_trusts_and_suppressed_values():
    few = text.indicator_sentence(
        place="this trust",
        value_text="50.0%",
        england_text="40.0%",
        flag="none",
        direction="higher_is_better",
        compared=False,
        shown=True,
        denominator_text="8 patients",
        minimum=10,
    )
    assert "too few patients (8 patients, fewer than 10)" in few
    hidden = text.indicator_sentence(
        place="this trust",
        value_text="*",
        england_text="40.0%",
        flag="none",
        direction="higher_is_better",
        compared=True,
        shown=False,
    )
    assert "not shown because of small numbers" in hidden
    assert text.label_of("alert_low", "higher_is_better", shown=False) == "Not shown: small numbers"
    assert text.short_label("alert_low", "higher_is_better", shown=False) == "Not shown"
    assert text.short_label("alarm_low", "higher_is_better") == "Alarm: worse"
    assert text.short_label("alert_high", "no_judgement") == "Alert: higher"
    assert text.percent(0.4312) == "43.1%" and text.percent(None) == "-" and text.interval(0.1, 0.2) == "10.0% to 20.0%"
