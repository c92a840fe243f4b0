"""Suppression of published counts (indicators/disclosure.py), without the database."""

from __future__ import annotations

from indicators.disclosure import publish_quality_by_trust, publish_results, publish_trend
from indicators.stats.spc import xmr_chart
from indicators.stats.suppression import SuppressionPolicy

HES = SuppressionPolicy(low=1, high=7, round_to=5)


def row(level: str, numerator: int, denominator: int) -> dict:
    return {
        "level": level,
        "numerator": numerator,
        "denominator": denominator,
        "observed": float(numerator),
        "expected": denominator * 0.5,
        "value": numerator / denominator,
        "ci_lower": 0.1,
        "ci_upper": 0.9,
        "limit_lower_95": 0.2,
        "z": 1.5,
        "flag": "none",
        "national_value": 0.5,
    }


def test_it_hides_a_trust_row_with_a_small_count_and_rounds_the_others():
    small, large, zero = publish_results(
        [row("provider", 3, 20), row("alliance", 12, 41), row("provider", 0, 13)], unsuppressed=False, policy=HES
    )
    assert (small["numerator"], small["denominator"], small["suppressed"]) == (None, 20, True)
    assert small["value"] is None and small["ci_lower"] is None and small["z"] is None and small["expected"] is None
    assert small["flag"] == "none" and small["national_value"] == 0.5
    assert (large["numerator"], large["denominator"], large["observed"], large["suppressed"]) == (10, 40, 10.0, False)
    assert large["value"] == 12 / 41  # rates come from the unrounded counts (HES rule)
    assert (zero["numerator"], zero["denominator"], zero["value"]) == (0, 15, 0.0)


def test_it_leaves_england_and_the_audits_analysts_unsuppressed():
    (national,) = publish_results([row("national", 3, 21)], unsuppressed=False, policy=HES)
    assert (national["numerator"], national["denominator"], national["value"]) == (3, 21, 3 / 21)
    (exact,) = publish_results([row("provider", 3, 21)], unsuppressed=True, policy=HES)
    assert (exact["numerator"], exact["denominator"], exact["value"], exact["suppressed"]) == (3, 21, 3 / 21, True)


def test_it_hides_a_rate_whose_denominator_is_small():
    (published,) = publish_results([row("provider", 0, 6)], unsuppressed=False, policy=HES)
    assert (published["numerator"], published["denominator"], published["value"]) == (0, None, None)


def test_it_does_not_change_what_it_was_given():
    given = [row("provider", 3, 20)]
    publish_results(given, unsuppressed=False, policy=HES)
    assert given[0]["numerator"] == 3


def test_a_suppressed_quarter_loses_its_value_and_the_moving_ranges_beside_it():
    points = [
        {"quarter": f"2024Q{i + 1}", "start": "2024-01-01", "numerator": n, "denominator": d, "value": n / d}
        for i, (n, d) in enumerate([(10, 20), (5, 20), (12, 20), (11, 20)])
    ]
    xmr = xmr_chart([p["value"] for p in points], improvement_direction="increase").as_dict()
    shown, chart = publish_trend(level="provider", points=points, xmr=xmr, unsuppressed=False, policy=HES)
    assert [p["suppressed"] for p in shown] == [False, True, False, False]
    assert shown[1]["value"] is None and shown[1]["numerator"] is None and shown[1]["denominator"] == 20
    assert [p["value"] for p in chart["points"]] == [0.5, None, 0.6, 0.55]
    assert [p["moving_range"] for p in chart["points"]] == [None, None, None, xmr["points"][3]["moving_range"]]
    assert chart["mean"] == xmr["mean"] and chart["upl"] == xmr["upl"]
    assert xmr["points"][1]["value"] == 0.25  # the input is untouched
    exact, exact_chart = publish_trend(level="provider", points=points, xmr=xmr, unsuppressed=True, policy=HES)
    assert exact[1]["value"] == 0.25 and exact_chart["points"][1]["value"] == 0.25


def test_a_trusts_data_quality_row_count_is_a_count_of_patients():
    providers = [
        {"provider_code": "R0A", "rows": 4, "percent_complete": {"asa_grade": 75.0}},
        {"provider_code": "RM3", "rows": 23, "percent_complete": {"asa_grade": 91.3}},
    ]
    small, large = publish_quality_by_trust(providers, unsuppressed=False, policy=HES)
    assert small == {"provider_code": "R0A", "rows": None, "percent_complete": {"asa_grade": None}}
    assert large == {"provider_code": "RM3", "rows": 25, "percent_complete": {"asa_grade": 91.3}}
    assert publish_quality_by_trust(providers, unsuppressed=True, policy=HES) == providers
