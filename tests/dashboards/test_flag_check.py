"""'Is this flag real?', the funnel's labels against where points are drawn, and indicators that could not be
computed: pure builders on data built here (known answers), then the pages on the demo release."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from html import unescape

import numpy as np
import pytest
from django.urls import reverse

from dashboards import services, text
from indicators.models import FunnelFit, IndicatorResult, RunIndicator, TrendSeries
from indicators.registry import indicators_for
from tests.dashboards.data import ANALYST_PASSWORD


def definition(audit: str, code: str):
    return next(d for d in indicators_for(audit) if d.code == code)


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


def result_row(organisation, period, *, numerator, denominator, expected, rate, flag, level="provider", **extra):
    """A stored result as publish_results passes it on (analyst: exact)."""
    from indicators.stats.intervals import ratio_interval, wilson_interval

    if expected is not None:  # risk-adjusted
        value = numerator / expected
        low, high = ratio_interval(np.array([numerator]), np.array([expected]), 0.95, method="exact")
        adjusted = value * rate
    else:
        value = numerator / denominator
        low, high = wilson_interval(np.array([numerator]), np.array([denominator]), 0.95)
        adjusted = value
    start = date(2021, 4, 1) if "-" in period else date(int(period[:4]), 4, 1)
    return {
        "indicator": "x",
        "level": level,
        "organisation": organisation,
        "period": period,
        "period_start": start,
        "period_end": date(int(period[-2:]) + 2000, 3, 31),
        "numerator": numerator,
        "denominator": denominator,
        "observed": numerator,
        "expected": expected,
        "value": value,
        "adjusted_rate": adjusted,
        "ci_lower": float(low[0]),
        "ci_upper": float(high[0]),
        "national_value": rate,
        "flag": flag,
        "eligible": True,
        "suppressed": False,
        **extra,
    }


# ------------------------------------------------------------------ observed minus expected, known answers


def test_excess_events_of_a_proportion_are_count_minus_patients_times_englands_rate():
    mdt = definition("bowel", "mdt_discussed")
    row = result_row("T1", "2023/24", numerator=90, denominator=200, expected=None, rate=0.40, flag="none")
    excess, lower, upper = services.excess_events(row, mdt)
    assert excess == pytest.approx(90 - 200 * 0.40)  # 10 more than expected
    assert lower == pytest.approx(200 * (row["ci_lower"] - 0.40))
    assert upper == pytest.approx(200 * (row["ci_upper"] - 0.40))
    assert lower < excess < upper


def test_excess_events_of_a_risk_adjusted_outcome_are_observed_minus_expected_with_the_oe_interval_scaled():
    mortality = definition("bowel", "mortality_90d")
    row = result_row("T1", "2023/24", numerator=30, denominator=500, expected=20.0, rate=0.04, flag="alert_high")
    excess, lower, upper = services.excess_events(row, mortality)
    assert excess == pytest.approx(10.0)
    # Exact Poisson 95% interval of O = 30 is 20.24 to 42.83 (Garwood): O/E x E - E gives 0.24 to 22.83 events.
    assert lower == pytest.approx(0.24, abs=0.01) and upper == pytest.approx(22.83, abs=0.01)
    sentence = text.excess_sentence(excess, lower, upper, place="this trust")
    assert "about 10.0 more events than expected" in sentence and "more than chance alone" in sentence


def test_a_hidden_result_has_no_excess():
    mortality = definition("bowel", "mortality_90d")
    hidden = {"numerator": None, "denominator": None, "expected": None, "ci_lower": None, "ci_upper": None}
    assert services.excess_events(hidden, mortality) == (None, None, None)


# ------------------------------------------------------------------ the VLAD and disclosure


def quarters(observed, expected, hidden=()):
    """Exact points (with ``expected``) and the public series as disclosure stores it (rounded counts, hidden
    quarters without counts)."""
    points, public = [], []
    for i, (o, e) in enumerate(zip(observed, expected, strict=True)):
        quarter = f"{2022 + i // 4}Q{i % 4 + 1}"
        start = date(2022 + i // 4, 3 * (i % 4) + 1, 1).isoformat()
        points.append(
            {
                "quarter": quarter,
                "start": start,
                "numerator": o,
                "denominator": 60,
                "value": o / e * 0.05,
                "expected": e,
                "suppressed": i in hidden,
            }
        )
        if i in hidden:
            public.append(
                {"quarter": quarter, "start": start, "numerator": None, "denominator": None, "value": None}
                | {"suppressed": True}
            )
        else:
            rounded = int(5 * round(o / 5))
            public.append(
                {
                    "quarter": quarter,
                    "start": start,
                    "numerator": rounded,
                    "denominator": 60,
                    "value": rounded / e * 0.05,
                    "suppressed": False,
                }
            )
    return points, {"points": public, "xmr": None}


def panel(points, public, variant):
    mortality = definition("bowel", "mortality_90d")
    trust = result_row("T1", "2022/23-2023/24", numerator=60, denominator=480, expected=48.0, rate=0.05, flag="none")
    national = result_row(
        services.ENGLAND_CODE,
        "2022/23-2023/24",
        numerator=600,
        denominator=12000,
        expected=600.0,
        rate=0.05,
        flag="none",
        level="national",
    )
    return services.flag_check(
        definition=mortality,
        trust_rows={"2022/23-2023/24": trust},
        national_rows={"2022/23-2023/24": national},
        headline="2022/23-2023/24",
        trend=(points, public),
        variant=variant,
        caveats=[],
    )


def test_the_vlad_adds_up_observed_minus_expected_quarter_by_quarter():
    points, public = quarters([10, 6, 9, 12], [8.0, 8.0, 8.0, 8.0])
    data = panel(points, public, "analyst")
    assert data["has_vlad"]
    assert [r["cumulative"] for r in data["vlad_rows"]] == pytest.approx([2.0, 0.0, 1.0, 5.0])
    figure = json.loads(data["vlad_figure"])
    line = next(t for t in figure["data"] if t["name"].startswith("Observed minus expected"))
    assert line["y"] == pytest.approx([2.0, 0.0, 1.0, 5.0])  # the chart draws the table's numbers
    assert figure["layout"]["xaxis"]["categoryarray"] == ["2022Q1", "2022Q2", "2022Q3", "2022Q4"]  # in time order


def test_without_expected_events_by_quarter_there_is_no_vlad_and_the_page_says_why():
    points, public = quarters([10, 6, 9, 12], [8.0, 8.0, 8.0, 8.0])
    for p in points:
        p.pop("expected")
    data = panel(points, public, "analyst")
    assert not data["has_vlad"] and "did not store the expected events" in data["vlad_missing"]


def test_attack_a_hidden_quarters_count_cannot_be_recovered_from_the_public_vlad():
    """The attacker sees the public panel (chart, table, words) and tries to learn the hidden quarters' deaths:
    from the steps of the running total either side of them, or by comparing two panels. Two releases that differ
    only in the hidden quarters' counts (and expected events) must give the public the very same panel, and the
    line must not be drawn across a hidden quarter."""
    expected = [9.0, 8.5, 7.25, 8.0, 9.5, 8.0]
    hidden = (2, 3)  # secondary suppression hides at least two quarters of a series
    first, first_public = quarters([10, 15, 3, 2, 20, 10], expected, hidden)
    second, second_public = quarters([10, 15, 1, 6, 20, 10], [9.0, 8.5, 4.0, 11.0, 9.5, 8.0], hidden)
    a, b = panel(first, first_public, "public"), panel(second, second_public, "public")
    assert a == b
    rows = a["vlad_rows"]
    assert [r["cumulative"] for r in rows][2:4] == [None, None]
    assert rows[2]["observed"] == rows[3]["observed"] == "*" and rows[2]["expected"] == "*"
    # The step after the gap is that quarter's own published difference: nothing of the hidden ones.
    assert rows[4]["cumulative"] - rows[1]["cumulative"] == pytest.approx(20 - 9.5)
    figure = json.loads(a["vlad_figure"])
    line = next(t for t in figure["data"] if t["name"].startswith("Observed minus expected"))
    assert line["connectgaps"] is False and line["y"][2:4] == [None, None]
    # Every count the public panel shows is a published (rounded) one.
    shown = [int(r["observed"]) for r in rows if r["observed"] != "*"]
    assert all(count % 5 == 0 for count in shown)
    # The analysts see every quarter, exactly.
    exact = panel(first, first_public, "analyst")["vlad_rows"]
    assert [r["observed"] for r in exact] == ["10", "15", "3", "2", "20", "10"]


# ------------------------------------------------------------------ the funnel: labels agree with the drawing


def funnel_context(national_oe: float):
    """A risk-adjusted funnel of twelve trusts whose flags were decided (as the run decides them) on O/E against 1,
    in a year where England's own O/E is ``national_oe`` (a model pooled over years)."""
    from indicators.stats.analysis import funnel_analysis

    mortality = definition("bowel", "mortality_90d")
    rate, period = 0.05, "2023/24"
    expected = np.array([20, 40, 60, 80, 100, 150, 200, 250, 300, 400, 400, 400], dtype=float)
    ratios = np.array([1.0, 0.9, 1.1, 0.95, 1.05, 1.0, 1.02, 0.98, 1.04, 1.05, 1.15, 0.85])
    observed = np.round(expected * ratios)
    units = [f"T{i:02d}" for i in range(len(expected))]
    analysis = funnel_analysis(units, observed, expected, kind="ratio", method="exact", overdispersion="none")
    flags = analysis.units.set_index("unit")["flag"]
    rows = [
        result_row(u, period, numerator=int(o), denominator=int(e * 20), expected=float(e), rate=rate, flag=flags[u])
        for u, o, e in zip(units, observed, expected, strict=True)
    ]
    national = result_row(
        services.ENGLAND_CODE,
        period,
        numerator=int(round(national_oe * 5000)),
        denominator=100_000,
        expected=5000.0,
        rate=rate,
        flag="none",
        level="national",
    )
    context = services.RunContext(
        run=None,  # type: ignore[arg-type]
        audit_code="bowel",
        audit_name="Bowel",
        short_name="NBOCA",
        definitions={mortality.code: mortality},
        trusts={u: {"code": u, "name": u, "alliance_id": "A"} for u in units},
        alliances={"A": "Alliance"},
    )
    context.fits[(mortality.code, "provider", period)] = FunnelFit(
        kind="ratio", method="exact", target=1.0, phi=1.0, tau2=0.0, overdispersion="none", overdispersion_applied=False
    )
    formatted = [services.format_result(r, mortality) for r in rows]
    for row in formatted:
        row["name"] = row["organisation"]
    return context, mortality.code, period, formatted, services.format_result(national, mortality)


@pytest.mark.parametrize("national_oe", [0.8, 1.0, 1.2])
def test_every_funnel_point_is_labelled_as_it_is_drawn_against_the_limits(national_oe):
    """A point labelled "within expected range" lies within the drawn 95% limits, and a flagged one beyond them,
    whatever England's O/E in the year (defect: the limits were drawn x England's O/E x rate while the flags were
    decided against O/E = 1, so a point drawn above the 95% line was labelled within range)."""
    context, code, period, rows, national = funnel_context(national_oe)
    spec, _ = services._funnel(context, code, period, "provider", rows, national, "analyst")
    limits = next(t for t in spec["data"] if t["name"] == "95% limits (alert)")
    half = len(limits["x"]) // 2
    x = np.array(limits["x"][:half], dtype=float)
    upper, lower = np.array(limits["y"][:half], dtype=float), np.array(limits["y"][half + 1 :], dtype=float)
    checked = 0
    for trace in spec["data"]:
        if trace.get("mode") != "markers":
            continue
        for px, py, custom in zip(trace["x"], trace["y"], trace["customdata"], strict=True):
            high, low = np.interp(px, x, upper), np.interp(px, x, lower)
            label = custom[5]
            assert label == trace["name"] or label.startswith(("Alert", "Alarm"))
            if label == "Within expected range":
                assert low * 0.999 <= py <= high * 1.001, (national_oe, custom, py, low, high)
            elif "higher" in label:
                assert py > high * 0.999, (national_oe, custom, py, high)
            else:
                assert py < low * 1.001, (national_oe, custom, py, low)
            checked += 1
    assert checked == 12


def test_a_point_whose_stored_flag_is_high_is_never_labelled_within_range():
    """The label comes from the stored flag, whatever the point's position: even a point at O/E = 1."""
    context, code, period, _, national = funnel_context(1.0)
    mortality = definition("bowel", code)
    rows = []
    for i, flag in enumerate(["alert_high", "alarm_high", "alert_high"]):
        row = services.format_result(
            result_row(f"T{i:02d}", period, numerator=50, denominator=900, expected=50.0, rate=0.05, flag=flag),
            mortality,
        )
        rows.append({**row, "name": row["organisation"]})
    spec, _ = services._funnel(context, code, period, "provider", rows, national, "analyst")
    markers = [t for t in spec["data"] if t.get("mode") == "markers"]
    assert [t["name"] for t in markers] == ["Worse than expected"]
    labels = [c[5] for c in markers[0]["customdata"]]
    assert labels == [
        "Alert: higher than expected (worse)",
        "Alarm: higher than expected (worse)",
        "Alert: higher than expected (worse)",
    ]
    assert not any("Within" in label for label in labels)


# ------------------------------------------------------------------ pages on the demo release


def login(client, username: str) -> None:
    assert client.login(username=username, password=ANALYST_PASSWORD)


MODEL_TEXT = "PerfectSeparationError: perfect separation detected, results not available; Traceback (most recent"


@pytest.mark.django_db
def test_the_public_never_reads_the_models_error_text_and_the_analysts_release_page_lists_why(client, demo):
    """Defect: when a risk model could not be fitted, the public indicator, trust and audit pages showed the
    model's error text. They say in plain words that the figure could not be computed; the release page tells
    the analysts which indicator failed and why."""
    from dashboards.models import FigureSpec
    from dashboards.services import build_run_pages

    run = demo["runs"]["bowel"]
    RunIndicator.objects.filter(run=run, indicator="readmission_30d").update(
        model_card={"fitted": False, "reason": MODEL_TEXT}
    )
    IndicatorResult.objects.filter(run=run, indicator="readmission_30d").delete()
    FigureSpec.objects.filter(run=run).delete()
    build_run_pages(run)  # rolled back with the test
    trust = IndicatorResult.objects.filter(run=run, level="provider").values_list("organisation", flat=True)[0]
    for url in (
        reverse("indicator", args=["bowel", "readmission_30d"]),
        reverse("trust", args=[trust]),
        reverse("audit", args=["bowel"]),
    ):
        page = text_of(client.get(url))
        for model_words in ("PerfectSeparation", "perfect separation", "Traceback", "Error"):
            assert model_words not in page, (url, model_words)
        assert "could not be computed for this release" in page, url
    login(client, "dash-analyst")
    release = demo["releases"]["bowel"]
    page = text_of(client.get(reverse("release-detail", args=[release.pk])))
    listed = page.split("Indicators without results in the latest run", 1)[1]
    assert "readmission_30d" in listed and "Risk model not fitted" in listed and "perfect separation" in listed


def flagged_result(run):
    for result in IndicatorResult.objects.filter(run=run, level="provider", eligible=True, suppressed=False).exclude(
        flag="none"
    ):
        national = IndicatorResult.objects.filter(run=run, indicator=result.indicator, level="national")
        headline = max(national, key=lambda r: (r.period_end - r.period_start, r.period_end)).period
        if result.period == headline:
            return result
    raise AssertionError("the demo release should flag some trusts")


@pytest.mark.django_db
def test_a_flag_on_the_trust_dashboard_links_to_its_check_with_years_completeness_and_excess(client, demo):
    run = demo["runs"]["bowel"]
    result = flagged_result(run)
    url = reverse("trust-flag-check", args=[result.organisation, "bowel", result.indicator])
    assert url in client.get(reverse("trust", args=[result.organisation])).content.decode()
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    page = text_of(response)
    for heading in ("Are the fields behind it recorded?", "Is it flagged in each year?", "How many events"):
        assert heading in page
    years = IndicatorResult.objects.filter(
        run=run, indicator=result.indicator, level="provider", organisation=result.organisation
    )
    table = html.split('id="table-years"', 1)[1].split("</table>", 1)[0]
    assert len(re.findall(r'<th scope="row">', table)) == years.count()
    # The public reads England's completeness, not the trust's (it counts the trust's patients).
    assert "shown to the audit's analysts" in page
    completeness = html.split('id="table-completeness"', 1)[1].split("</table>", 1)[0]
    assert "Not shown" in completeness
    # Observed minus expected from the published figures: the public's rounded counts.
    definition_ = definition("bowel", result.indicator)
    public = result.public
    if definition_.risk_adjusted:
        excess = public["numerator"] - public["expected"]
    else:
        excess = public["numerator"] - public["denominator"] * result.national_value
    assert f"{abs(excess):,.1f}" in page.split("How many events", 1)[1]
    login(client, "dash-analyst")
    analyst = client.get(url).content.decode()
    completeness = analyst.split('id="table-completeness"', 1)[1].split("</table>", 1)[0]
    assert "Not shown" not in completeness


@pytest.mark.django_db
def test_a_risk_adjusted_check_draws_a_vlad_from_the_published_quarters_with_its_table(client, demo):
    risk = [(a, d.code) for a in ("bowel", "lung") for d in indicators_for(a) if d.risk_adjusted]
    audit, code = next((a, c) for a, c in risk if TrendSeries.objects.filter(run=demo["runs"][a], indicator=c).exists())
    trend = max(
        TrendSeries.objects.filter(run=demo["runs"][audit], indicator=code, level="provider"),
        key=lambda t: sum(not p["suppressed"] for p in t.points),
    )
    points = copy.deepcopy(trend.points)
    for p in points:  # the expected events of each quarter, as runs store them once the model gives them
        p.setdefault("expected", round(p["denominator"] * 0.05, 3))
    TrendSeries.objects.filter(pk=trend.pk).update(points=points)
    url = reverse("trust-flag-check", args=[trend.organisation, audit, code])
    html = client.get(url).content.decode()
    assert 'id="fig-vlad"' in html and 'id="table-vlad"' in html
    figure = json.loads(re.search(r'id="fig-vlad">(.*?)</script>', html, re.S).group(1))
    line = next(t for t in figure["data"] if t["name"].startswith("Observed minus expected"))
    public = trend.public["points"]
    assert len(line["y"]) == len(public)
    for point, y in zip(public, line["y"], strict=True):
        assert (y is None) == (point["numerator"] is None)  # a hidden quarter is a gap
    assert "<script>" not in html.split('id="fig-vlad"', 1)[1].split("</script>", 1)[1]  # no inline script


# ------------------------------------------------------------------ completeness of the fields behind a flag


QUALITY = {
    "columns": [{"column": "asa_grade", "percent_complete": 91.0}, {"column": "stage", "percent_complete": 95.5}]
}


def test_completeness_compares_the_trust_with_england_and_names_the_fields_recorded_less_fully():
    rows = services.completeness_rows(
        columns=["stage", "asa_grade"],
        covariates=["asa_grade"],
        quality=QUALITY,
        trust_percent={"asa_grade": 62.0, "stage": 94.0},
        model_completeness={"trust": {}, "england": {}},
    )
    assert [(r["column"], r["use"], r["trust_text"], r["england_text"], r["gap"]) for r in rows] == [
        ("stage", "definition", "94.0%", "95.5%", False),
        ("asa_grade", "risk model", "62.0%", "91.0%", True),
    ]
    sentence = text.completeness_sentence(rows, shown=True)
    assert "asa_grade 62.0% here against 91.0% in England" in sentence and "stage" not in sentence


def test_the_model_cards_completeness_among_the_trusts_patients_is_used_when_the_card_has_it():
    rows = services.completeness_rows(
        columns=["asa_grade"],
        covariates=["asa_grade"],
        quality=QUALITY,
        trust_percent={"asa_grade": 95.0},
        model_completeness={"trust": {"asa_grade": 0.40}, "england": {"asa_grade": 0.90}},
    )
    assert (rows[0]["trust_text"], rows[0]["england_text"], rows[0]["gap"]) == ("40.0%", "90.0%", True)


def test_a_reader_who_may_not_see_completeness_by_trust_gets_englands_only():
    rows = services.completeness_rows(
        columns=["asa_grade"],
        covariates=["asa_grade"],
        quality=QUALITY,
        trust_percent=None,
        model_completeness={"trust": {"asa_grade": 0.40}, "england": {}},
    )
    assert (rows[0]["trust_text"], rows[0]["england_text"], rows[0]["gap"]) == ("Not shown", "91.0%", False)
    assert "shown to the audit's analysts" in text.completeness_sentence(rows, shown=False)


def test_a_flag_in_each_single_year_is_counted_in_words():
    years = [
        {"period": "2021/22", "compared": True, "flag": "alert_high", "meaning": "worse"},
        {"period": "2022/23", "compared": True, "flag": "none", "meaning": "as_expected"},
        {"period": "2023/24", "compared": True, "flag": "alarm_high", "meaning": "worse"},
    ]
    sentence = text.years_sentence(years)
    assert sentence.startswith("Flagged in 2 of 3 single years compared (2021/22, 2023/24): worse than expected.")
    assert "None of the 3 single years" in text.years_sentence([{**y, "flag": "none"} for y in years])


@pytest.mark.django_db
def test_the_model_cards_caveat_and_covariate_completeness_show_beside_a_risk_adjusted_result(client, demo):
    result = next(
        r
        for a in ("bowel", "lung")
        for d in indicators_for(a)
        if d.risk_adjusted
        for r in IndicatorResult.objects.filter(run=demo["runs"][a], indicator=d.code, level="provider")[:1]
    )
    audit = result.audit_code
    covariate = definition(audit, result.indicator).risk_model["covariates"][0]["column"]
    caveat = f"Case-mix data incomplete: fewer than 80% of this trust's patients have {covariate} recorded."
    entry = RunIndicator.objects.filter(run=result.run, indicator=result.indicator)
    card = entry.get().model_card
    entry.update(
        model_card={
            **card,
            "completeness": {"national": {covariate: 0.95}, "by_group": {result.organisation: {covariate: 0.4}}},
            "caveats": {result.organisation: caveat},
        }
    )
    url = reverse("trust-flag-check", args=[result.organisation, audit, result.indicator])
    page = text_of(client.get(url))
    assert caveat in page
    assert "40.0%" not in page.split("Are the fields behind it recorded?", 1)[1].split("Is it flagged", 1)[0]
    login(client, "dash-analyst")
    page = text_of(client.get(url))
    table = page.split("Are the fields behind it recorded?", 1)[1].split("Is it flagged", 1)[0]
    assert "40.0%" in table and covariate in table
