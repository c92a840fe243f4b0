"""What the public sees (indicators/disclosure.py, the read half), without the database."""

from __future__ import annotations

from indicators.disclosure import publish_quality_by_trust, publish_results, publish_trend
from indicators.stats.spc import xmr_chart
from indicators.stats.suppression import SuppressionPolicy

HES = SuppressionPolicy(low=1, high=7, round_to=5)


def row(level: str, numerator: int, denominator: int, *, suppressed: bool = False, public: bool = True) -> dict:
    """A stored result as the serializers hand it over, with the public figures the job stored."""
    exact = {
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
        "flag": "alert_low",
        "eligible": True,
        "national_value": 0.5,
        "suppressed": suppressed,
    }
    shown_n, shown_d = 5 * round(numerator / 5 + 1e-9), 5 * round(denominator / 5 + 1e-9)
    exact["public"] = (
        {
            "numerator": shown_n,
            "denominator": shown_d,
            "observed": float(shown_n),
            "expected": None,
            "value": shown_n / shown_d,
            "ci_lower": 0.15,
            "ci_upper": 0.85,
            "limit_lower_95": 0.25,
            "z": 1.4,
        }
        if public and level != "national" and not suppressed
        else None
    )
    return exact


def test_a_hidden_row_publishes_no_count_figure_flag_or_eligibility():
    (hidden,) = publish_results([row("provider", 3, 20, suppressed=True, public=False)], unsuppressed=False)
    assert hidden["suppressed"] is True and "public" not in hidden
    for name in ("numerator", "denominator", "observed", "expected", "value", "ci_lower", "z", "flag", "eligible"):
        assert hidden[name] is None, name
    assert hidden["national_value"] == 0.5  # England's rate says nothing about the trust


def test_a_shown_row_publishes_rounded_counts_and_the_figures_computed_from_them():
    (shown,) = publish_results([row("alliance", 12, 41)], unsuppressed=False)
    assert (shown["numerator"], shown["denominator"], shown["observed"], shown["suppressed"]) == (10, 40, 10.0, False)
    assert shown["value"] == 10 / 40 and shown["expected"] is None and shown["z"] == 1.4
    assert (shown["flag"], shown["eligible"]) == ("alert_low", True)  # the audit's finding, on the exact counts
    assert "public" not in shown


def test_a_row_stored_without_public_figures_is_hidden():
    (old,) = publish_results([row("provider", 40, 80, public=False)], unsuppressed=False)
    assert old["suppressed"] is True and old["numerator"] is None and old["value"] is None and old["flag"] is None


def test_it_leaves_england_and_the_audits_analysts_unsuppressed():
    (national,) = publish_results([row("national", 3, 21)], unsuppressed=False)
    assert (national["numerator"], national["denominator"], national["value"]) == (3, 21, 3 / 21)
    assert national["suppressed"] is False
    (exact,) = publish_results([row("provider", 3, 21, suppressed=True, public=False)], unsuppressed=True)
    assert (exact["numerator"], exact["denominator"], exact["value"], exact["suppressed"]) == (3, 21, 3 / 21, True)
    assert exact["flag"] == "alert_low" and "public" not in exact


def test_it_does_not_change_what_it_was_given():
    given = [row("provider", 12, 20)]
    publish_results(given, unsuppressed=False)
    assert given[0]["numerator"] == 12 and "public" in given[0]


def points_of(counts, hidden=()):
    return [
        {
            "quarter": f"2024Q{i + 1}",
            "start": f"2024-{3 * i + 1:02d}-01",
            "numerator": n,
            "denominator": d,
            "value": n / d,
            "suppressed": i in hidden,
        }
        for i, (n, d) in enumerate(counts)
    ]


def test_the_public_get_a_trend_as_stored_for_them_and_the_analysts_as_computed():
    exact = points_of([(10, 20), (5, 20), (12, 20), (11, 20)], hidden={1})
    xmr = xmr_chart([p["value"] for p in exact], improvement_direction="increase").as_dict()
    public_points = [
        {**p, "numerator": 10, "denominator": 20, "value": 0.5}
        if not p["suppressed"]
        else {**p, "numerator": None, "denominator": None, "value": None}
        for p in exact
    ]
    public_chart = xmr_chart([0.5, 0.5, 0.5], improvement_direction="increase").as_dict()
    stored = {"points": public_points, "xmr": public_chart}
    shown, chart = publish_trend(level="provider", points=exact, xmr=xmr, public=stored, unsuppressed=False)
    assert [p["suppressed"] for p in shown] == [False, True, False, False]
    assert shown[1]["value"] is None and shown[1]["numerator"] is None and shown[1]["denominator"] is None
    assert chart["n_points"] == 3 and chart["mean"] == 0.5  # the chart of the shown quarters only
    shown[0]["value"] = 0.0
    assert stored["points"][0]["value"] == 0.5  # a copy
    mine, my_chart = publish_trend(level="provider", points=exact, xmr=xmr, public=stored, unsuppressed=True)
    assert mine[1]["value"] == 0.25 and mine[1]["suppressed"] is True and my_chart["mean"] == xmr["mean"]
    england, _ = publish_trend(level="national", points=exact, xmr=xmr, public=None, unsuppressed=False)
    assert england[1]["value"] == 0.25 and not any(p["suppressed"] for p in england)


def test_a_trend_stored_without_a_public_series_is_hidden():
    exact = points_of([(10, 20), (15, 20), (12, 20)])
    shown, chart = publish_trend(level="alliance", points=exact, xmr=None, public=None, unsuppressed=False)
    assert chart is None and all(p["value"] is None and p["suppressed"] for p in shown)


def test_a_trusts_data_quality_row_count_is_a_count_of_patients():
    providers = [
        {"provider_code": "R0A", "rows": 4, "percent_complete": {"asa_grade": 75.0}},
        {"provider_code": "RM3", "rows": 23, "percent_complete": {"asa_grade": 91.3}},
    ]
    small, large = publish_quality_by_trust(providers, unsuppressed=False, policy=HES)
    assert small == {"provider_code": "R0A", "rows": None, "percent_complete": {"asa_grade": None}}
    assert large == {"provider_code": "RM3", "rows": 25, "percent_complete": {"asa_grade": 91.3}}
    assert publish_quality_by_trust(providers, unsuppressed=True, policy=HES) == providers
