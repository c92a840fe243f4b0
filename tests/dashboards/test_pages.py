"""The dashboard pages on a real (small) release of each audit: numbers, words, suppression, downloads, queries."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audits.models import Trust
from dashboards.models import FigureSpec
from indicators.models import FunnelFit, IndicatorResult, RunIndicator, TrendSeries
from indicators.registry import indicators_for
from indicators.stats.flags import flag_label, flag_meaning
from tests.dashboards.data import ANALYST_PASSWORD

pytestmark = pytest.mark.django_db


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def headline(run, code: str) -> str:
    """The period the dashboards lead with: the longest (all years pooled), then the latest."""
    national = IndicatorResult.objects.filter(run=run, indicator=code, level="national")
    return max(national, key=lambda r: (r.period_end - r.period_start, r.period_end)).period


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


def unsuppressed(result: IndicatorResult) -> bool:
    """Shown to the public: no small count, and none that a published total would give back."""
    return not result.suppressed


def published(result: IndicatorResult, field: str = "value") -> float:
    """A shown result's figure as the public sees it: computed from its rounded counts."""
    return result.public[field]


def busiest_trust(run) -> str:
    counts: dict[str, int] = {}
    for code, denominator in IndicatorResult.objects.filter(run=run, level="provider").values_list(
        "organisation", "denominator"
    ):
        counts[code] = counts.get(code, 0) + denominator
    return max(counts, key=counts.get)


def login(client, username: str) -> None:
    assert client.login(username=username, password=ANALYST_PASSWORD)


def test_the_trust_dashboard_shows_each_indicator_with_its_stored_value_england_and_flag(
    client, demo, django_assert_max_num_queries
):
    run = demo["runs"]["bowel"]
    code = busiest_trust(run)
    with django_assert_max_num_queries(4):
        response = client.get(reverse("trust", args=[code]))
    assert response.status_code == 200
    page = text_of(response)
    checked = 0
    for definition in indicators_for("bowel"):
        if not IndicatorResult.objects.filter(run=run, indicator=definition.code).exists():
            continue  # e.g. a risk model that could not be fitted (see the test below)
        period = headline(run, definition.code)
        result = IndicatorResult.objects.get(
            run=run, indicator=definition.code, level="provider", organisation=code, period=period
        )
        england = IndicatorResult.objects.get(run=run, indicator=definition.code, level="national", period=period)
        assert definition.title in page
        england_value = england.adjusted_rate if definition.risk_adjusted else england.value
        value = published(result, "adjusted_rate" if definition.risk_adjusted else "value") if result.public else None
        if unsuppressed(result):
            label = (
                flag_label(result.flag, definition.direction) if result.eligible else "Not compared: too few patients"
            )
            assert f"{pct(value)} at this trust against {pct(england_value)} in England" in page, definition.code
            assert label in page
            checked += 1
    assert checked >= 4


def test_a_flagged_result_shows_the_prompt_and_what_the_audit_recommends(client, demo):
    run = demo["runs"]["bowel"]
    definitions = {d.code: d for d in indicators_for("bowel") if d.direction != "no_judgement"}
    flagged = [
        r
        for r in IndicatorResult.objects.filter(run=run, level="provider", eligible=True).exclude(flag="none")
        if r.indicator in definitions and r.period == headline(run, r.indicator) and unsuppressed(r)
    ]
    assert flagged, "the demo release should flag some trusts"
    result = flagged[0]
    definition = definitions[result.indicator]
    page = text_of(client.get(reverse("trust", args=[result.organisation])))
    meaning = flag_meaning(result.flag, definition.direction)
    heading = "What to look at" if meaning == "worse" else "A chance to learn"
    assert heading in page
    section = page.split(heading, 1)[1]
    assert definition.prompt.strip() in section and definition.recommendation.strip() in section
    assert flag_label(result.flag, definition.direction) in section


def test_small_counts_are_suppressed_for_the_public_and_exact_for_the_audits_analyst(client, demo):
    run = demo["runs"]["bowel"]
    proportions = {d.code for d in indicators_for("bowel") if not d.risk_adjusted}
    small = next(
        r
        for r in IndicatorResult.objects.filter(
            run=run, level="provider", numerator__gte=1, numerator__lte=7, denominator__gte=20, value__isnull=False
        )  # computed (not refused for a field recorded too rarely), with a small count
        if r.indicator in proportions
    )
    url = reverse("indicator", args=["bowel", small.indicator]) + f"?period={small.period}"
    row = re.compile(rf'<tr data-code="{small.organisation}".*?</tr>', re.S)
    public = row.search(client.get(url).content.decode()).group(0)
    cells = re.findall(r'<td class="num">(.*?)</td>', public)
    # numerator, denominator, percentage and interval, reliability-adjusted percentage, its interval and the
    # reliability: not shown
    assert cells == ["*"] * 7
    assert "Not shown: small numbers" in public
    download = client.get(url + "&download=trusts")
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(download.content.decode()))}
    hidden = rows[small.organisation]
    assert (hidden["numerator"], hidden["denominator"], hidden["value"]) == ("*", "*", "*")
    assert (hidden["value_95_lower"], hidden["value_95_upper"]) == ("*", "*")
    assert (hidden["shrunken_value"], hidden["shrunken_95_lower"], hidden["reliability"]) == ("*", "*", "*")
    assert hidden["compared_with_expected"] == "Not shown: small numbers"  # its flag is not shown either

    login(client, "dash-analyst")
    exact = row.search(client.get(url).content.decode()).group(0)
    cells = re.findall(r'<td class="num">(.*?)</td>', exact)
    assert cells[0] == str(small.numerator) and cells[1] == f"{small.denominator:,}"
    assert cells[2] == pct(small.value)


def test_the_indicator_page_lists_every_trust_by_name_beside_the_funnel_plot(
    client, demo, django_assert_max_num_queries
):
    run = demo["runs"]["bowel"]
    code = "early_stage"
    period = headline(run, code)
    with django_assert_max_num_queries(4):
        response = client.get(reverse("indicator", args=["bowel", code]))
    html = response.content.decode()
    results = IndicatorResult.objects.filter(run=run, indicator=code, level="provider", period=period)
    names = dict(Trust.objects.values_list("code", "name"))
    table = html.split('id="table-trusts"', 1)[1].split("</table>", 1)[0]
    listed = re.findall(r'<tr data-code="(\w+)"', table)
    assert sorted(listed) == sorted(r.organisation for r in results)
    assert listed == sorted(listed, key=lambda c: (names[c].lower(), c))  # by name: not a league table
    embedded = re.search(r'<script type="application/json" id="fig-trusts">(.*?)</script>', html, re.S)
    figure = json.loads(embedded.group(1))
    points = {
        row[0]: (x, y)
        for trace in figure["data"]
        if trace.get("mode") == "markers"
        for row, x, y in zip(trace["customdata"], trace["x"], trace["y"], strict=True)
    }
    plotted = {r.organisation: r for r in results if r.eligible and unsuppressed(r)}
    assert set(points) == set(plotted)
    for organisation, result in plotted.items():
        assert points[organisation] == (published(result, "denominator"), pytest.approx(published(result), rel=1e-5))
    fit = FunnelFit.objects.get(run=run, indicator=code, level="provider", period=period)
    assert any(
        trace.get("name", "").startswith("England") and trace["y"][0] == pytest.approx(fit.target)
        for trace in figure["data"]
    )
    alarms = sum(1 for r in results if r.eligible and unsuppressed(r) and r.flag.startswith("alarm"))
    shown = sum(1 for r in results if r.eligible and unsuppressed(r))
    summary = text_of(response)
    assert f"{shown} trusts compared: {alarms} beyond the 99.8% limits (alarm)" in summary  # shown trusts only
    assert f"About {0.05 * shown:.1f} would fall outside the 95% limits by chance alone" in summary
    assert "Numerator" in html and "patients diagnosed at stage 1 or 2" in html.lower()


def test_highlight_marks_a_trust_and_its_alliance_and_a_point_links_to_its_dashboard(client, demo):
    run = demo["runs"]["bowel"]
    code = busiest_trust(run)
    trust = Trust.objects.get(code=code)
    url = reverse("indicator", args=["bowel", "early_stage"])
    html = client.get(url + f"?highlight={code.lower()}").content.decode()
    assert f"Highlighted: <strong>{trust.name}</strong>" in unescape(html)
    assert f'data-highlight="{code}"' in html and f'data-highlight="{trust.alliance_id}"' in html
    assert f'data-click-url="{reverse("trust", args=["CODE"])}"' in html
    by_alliance = client.get(reverse("indicator", args=["bowel", "early_stage"]) + f"?highlight={trust.alliance_id}")
    members = re.search(r'id="funnel-trusts"[^>]*data-highlight="([^"]*)"', by_alliance.content.decode()).group(1)
    assert code in members.split(",")


def test_the_model_card_of_a_risk_adjusted_indicator(client, demo):
    run = demo["runs"]["lung"]
    card = RunIndicator.objects.get(run=run, indicator="mortality_1y").model_card
    assert card.get("fitted", True) is not False, card.get("reason")
    response = client.get(reverse("indicator", args=["lung", "mortality_1y"]))
    page = text_of(response)
    assert "Risk model" in page
    assert f"c-statistic {card['c_statistic']:.3f}" in page
    assert "performance_status" in page and "Calibration by group of predicted risk" in page
    first = card["calibration"][0]
    assert pct(first["observed_rate"]).replace("%", "") in page
    assert 'id="fig-calibration"' in response.content.decode()


def test_an_indicator_whose_risk_model_could_not_be_fitted_says_so_in_plain_words(client, demo):
    from dashboards.services import build_run_pages

    run = demo["runs"]["bowel"]
    reason = "perfect separation: the outcome is fully determined by stage[4] (n=3, events=3)"
    RunIndicator.objects.filter(run=run, indicator="readmission_30d").update(
        model_card={"fitted": False, "reason": reason}
    )
    IndicatorResult.objects.filter(run=run, indicator="readmission_30d").delete()
    FigureSpec.objects.filter(run=run).delete()
    build_run_pages(run)  # rolled back with the test
    code = busiest_trust(run)
    for url in (
        reverse("indicator", args=["bowel", "readmission_30d"]),
        reverse("trust", args=[code]),
        reverse("audit", args=["bowel"]),
    ):
        page = text_of(client.get(url))
        # Everyone reads plain words; the model's own words are for the analysts (and the release page).
        assert "Not available in this release" in page and "could not be computed for this release" in page, url
        assert reason not in page, url
    login(client, "dash-analyst")
    for url in (reverse("trust", args=[code]), reverse("audit", args=["bowel"])):
        assert reason in text_of(client.get(url)), url


def test_the_alliance_page_has_a_word_in_every_cell_and_the_alliance_against_england(
    client, demo, django_assert_max_num_queries
):
    run = demo["runs"]["bowel"]
    trust = Trust.objects.get(code=busiest_trust(run))
    with django_assert_max_num_queries(4):
        response = client.get(reverse("alliance", args=[trust.alliance_id]))
    html = response.content.decode()
    grid = html.split('id="grid-bowel"', 1)[1].split("</table>", 1)[0]
    body = grid.split("<tbody>", 1)[1]
    members = set(
        IndicatorResult.objects.filter(
            run=run,
            level="provider",
            organisation__in=Trust.objects.filter(alliance_id=trust.alliance_id).values("code"),
        ).values_list("organisation", flat=True)
    )
    assert set(re.findall(r'href="/trusts/(\w+)/"', body)) == members
    cells = re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)
    with_results = IndicatorResult.objects.filter(run=run).values("indicator").distinct().count()
    assert len(cells) == len(members) * with_results
    words = ("Within range", "Alert: ", "Alarm: ", "Too few patients", "Not shown", "No data")
    assert all(any(w in cell for w in words) for cell in cells)
    period = headline(run, "mdt_discussed")
    alliance = IndicatorResult.objects.get(
        run=run, indicator="mdt_discussed", level="alliance", organisation=trust.alliance_id, period=period
    )
    england_table = html.split('id="england-bowel"', 1)[1].split("</table>", 1)[0]
    assert pct(published(alliance)) in england_table
    assert 'id="alliance-fig-bowel-mdt_discussed"' in html


def test_the_trend_page_draws_the_xmr_chart_with_its_icons(client, demo, django_assert_max_num_queries):
    run = demo["runs"]["bowel"]
    trend = max(  # the trust with the most quarters shown to the public
        TrendSeries.objects.filter(run=run, indicator="early_stage", level="provider"),
        key=lambda t: sum(not p["suppressed"] for p in t.points),
    )
    code = trend.organisation
    chart = trend.public["xmr"]  # the public's chart: of the shown quarters only
    assert chart is not None
    url = reverse("trust-trend", args=[code, "bowel", "early_stage"])
    client.get(url)  # the chart's piece is built on the first visit,
    client.get(url)  # and decoded once by this process on the next
    with django_assert_max_num_queries(4):
        response = client.get(url)
    html = response.content.decode()
    figure = json.loads(re.search(r'id="fig-xmr">(.*?)</script>', html, re.S).group(1))
    assert [t["name"] for t in figure["data"] if t["name"] == "Mean"] == ["Mean"]
    assert next(t for t in figure["data"] if t["name"] == "Mean")["y"][0] == pytest.approx(chart["mean"])
    page = text_of(response)
    assert f"mean {pct(chart['mean'])}" in page
    assert len(re.findall(r"<th scope=\"row\">\d{4}/\d{2} Q\d</th>", html)) == len(trend.points)
    icon = chart["variation_icon"]
    assert ("Common cause variation" if icon == "common_cause" else "Special cause variation") in page


def test_the_data_quality_page_is_for_the_audits_analysts(client, demo):
    url = reverse("data-quality", args=["bowel"])
    assert client.get(url).status_code == 302
    login(client, "dash-clinician")
    assert client.get(url).status_code == 403
    client.logout()
    login(client, "dash-analyst")
    response = client.get(url)
    release = demo["releases"]["bowel"]
    page = text_of(response)
    assert f"Current release: {release.version}" in page and "Completeness by trust" in page
    first = release.quality_report["columns"][3]
    assert f"<code>{first['column']}</code>" in response.content.decode()
    assert f"{first['percent_complete']}%" in page
    assert "Run " in page and "Done" in page
    status = client.get(reverse("data-quality-status", args=["bowel"])).json()
    assert status["busy"] is False and status["runs"][0]["status"] == "done"
    columns = list(csv.DictReader(io.StringIO(client.get(url + "?download=columns").content.decode())))
    assert [c["column"] for c in columns] == [c["column"] for c in release.quality_report["columns"]]


def test_the_funnel_tool_gives_the_funnel_commands_analysis_and_a_csv(client, demo):
    from indicators.funnel_tool import analyse, read_table

    table = "unit,numerator,denominator\n" + "\n".join(
        f"U{i},{n},{d}"
        for i, (n, d) in enumerate([(30, 100), (45, 120), (12, 80), (80, 150), (25, 90), (60, 110), (5, 60), (40, 100)])
    )
    url = reverse("funnel-tool")
    assert client.get(url).status_code == 302
    login(client, "dash-analyst")
    response = client.post(url, {"kind": "proportion", "method": "exact", "overdispersion": "auto", "table": table})
    assert response.status_code == 200
    expected = analyse(read_table(table, "proportion"), method="exact", overdispersion="auto")
    page = text_of(response)
    for unit in expected.units.itertuples():
        assert f'<th scope="row">{unit.unit}</th>' in response.content.decode()
        assert flag_label(unit.flag, "no_judgement") in page
    download = client.post(
        url, {"kind": "proportion", "method": "exact", "overdispersion": "auto", "table": table, "download": "csv"}
    )
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [r["flag"] for r in rows] == list(expected.units["flag"])
    assert float(rows[0]["limit_upper_95"]) == pytest.approx(expected.units["limit_upper_95"].iloc[0])
    refused = client.post(
        url,
        {
            "kind": "proportion",
            "method": "exact",
            "overdispersion": "auto",
            "table": "unit,numerator,denominator\nA,5,4\nB,1,10\n",
        },
    )
    assert "Line 2, column numerator: numerator is larger than denominator" in text_of(refused)


def test_the_funnel_tool_offers_every_method_it_accepts_the_default_chosen(client, demo):
    from indicators.funnel_tool import METHODS
    from indicators.stats.vocabulary import DEFAULT_METHOD

    login(client, "dash-analyst")
    form = client.get(reverse("funnel-tool")).content.decode()
    select = re.search(r'<select id="id_method" name="method">(.*?)</select>', form, re.S).group(1)
    offered = re.findall(r'<option value="(\w+)"', select)
    assert sorted(offered) == sorted({m for methods in METHODS.values() for m in methods})
    assert re.findall(r'<option value="(\w+)" selected>', select) == [DEFAULT_METHOD]


def test_pages_read_prebuilt_pieces_never_the_results(client, demo):
    run = demo["runs"]["bowel"]
    code = busiest_trust(run)
    trust = Trust.objects.get(code=code)
    urls = [
        reverse("trust", args=[code]),
        reverse("indicator", args=["bowel", "mortality_90d"]),
        reverse("alliance", args=[trust.alliance_id]),
        reverse("audit", args=["bowel"]),
        reverse("home"),
    ]
    for url in urls:
        client.get(url)
    with CaptureQueriesContext(connection) as queries:
        for url in urls:
            assert client.get(url).status_code == 200
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    for table in ("indicators_indicatorresult", "indicators_funnelfit", "indicators_trendseries"):
        assert table not in sql
    assert not re.search(r'"extract_(bowel|lung)_', sql)  # patient rows


def test_a_first_visit_builds_the_pieces_of_a_run_nobody_has_built(client, demo):
    run = demo["runs"]["lung"]
    FigureSpec.objects.filter(run=run).delete()
    code = busiest_trust(run)
    assert client.get(reverse("trust", args=[code])).status_code == 200
    assert FigureSpec.objects.filter(run=run, key=f"trust:{code}:public").exists()
    built = FigureSpec.objects.filter(run=run).count()
    client.get(reverse("trust", args=[code]))
    assert FigureSpec.objects.filter(run=run).count() == built


def test_templates_run_no_queries(client, demo, monkeypatch):
    from django.template.backends.django import Template

    real = Template.render
    counts = []

    def render(self, context=None, request=None):
        with CaptureQueriesContext(connection) as queries:
            html = real(self, context, request)
        counts.append((self.origin.name, len(queries)))
        return html

    monkeypatch.setattr(Template, "render", render)
    run = demo["runs"]["bowel"]
    code = busiest_trust(run)
    trust = Trust.objects.get(code=code)
    login(client, "dash-analyst")
    for url in (
        reverse("home"),
        reverse("trust", args=[code]),
        reverse("indicator", args=["bowel", "mortality_90d"]),
        reverse("alliance", args=[trust.alliance_id]),
        reverse("trust-trend", args=[code, "bowel", "early_stage"]),
        reverse("data-quality", args=["bowel"]),
        reverse("audit", args=["lung"]),
        reverse("search") + "?q=zz",
    ):
        assert client.get(url).status_code == 200, url
    assert counts and all(n == 0 for _, n in counts), [c for c in counts if c[1]]


def test_finding_a_trust_or_alliance_by_code_or_name(client, demo):
    trust = Trust.objects.select_related("alliance").first()
    assert client.get(reverse("search") + f"?q={trust.code.lower()}")["Location"] == reverse("trust", args=[trust.code])
    assert client.get(reverse("search") + f"?q={trust.alliance_id}")["Location"] == reverse(
        "alliance", args=[trust.alliance_id]
    )
    page = text_of(client.get(reverse("search") + "?q=university hospitals"))
    assert "matches for" in page and "University Hospitals" in page
    home = client.get(reverse("home")).content.decode()
    options = json.loads(re.search(r'id="organisations-data" type="application/json">(.*?)</script>', home).group(1))
    assert {"code": trust.code, "name": trust.name, "kind": "Trust", "url": f"/trusts/{trust.code}/"} in options
    assert len([o for o in options if o["kind"] == "Cancer Alliance"]) == 21


def test_every_table_downloads_as_csv_with_the_pages_numbers(client, demo):
    run = demo["runs"]["lung"]
    code = busiest_trust(run)
    trust = Trust.objects.get(code=code)
    rows = list(
        csv.DictReader(io.StringIO(client.get(reverse("trust", args=[code]) + "?download=lung").content.decode()))
    )
    assert [r["indicator"] for r in rows] == [d.title for d in indicators_for("lung")]
    grid = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("alliance", args=[trust.alliance_id]) + "?download=lung:grid").content.decode()
            )
        )
    )
    assert grid[0][:2] == ["trust_code", "trust"] and len(grid[0]) == 7  # tidy: a trust and indicator a row
    assert {row[2] for row in grid[1:]} == {d.code for d in indicators_for("lung")}
    england = client.get(reverse("alliance", args=[trust.alliance_id]) + "?download=lung:england")
    assert england["Content-Disposition"].startswith("attachment")
    assert "compared_with_expected" in england.content.decode()
    quarters = client.get(reverse("trust-trend", args=[code, "lung", "cns_seen"]) + "?download=quarters")
    points = TrendSeries.objects.get(run=run, indicator="cns_seen", level="provider", organisation=code).points
    assert len(list(csv.DictReader(io.StringIO(quarters.content.decode())))) == len(points)


@pytest.mark.parametrize(
    ("name", "signed_in", "most"),
    [
        ("home", False, 3),
        ("audit", False, 2),
        ("search", False, 2),
        # signed in: +1 for the two-factor device that verified the analyst's session (django-otp)
        ("data-quality", True, 9),
        ("funnel-tool", True, 4),
    ],
)
def test_every_other_page_runs_a_bounded_number_of_queries(
    client, demo, django_assert_max_num_queries, name, signed_in, most
):
    url = {
        "home": reverse("home"),
        "audit": reverse("audit", args=["bowel"]),
        "search": reverse("search") + "?q=zz",
        "data-quality": reverse("data-quality", args=["bowel"]),
        "funnel-tool": reverse("funnel-tool"),
    }[name]
    if signed_in:
        login(client, "dash-analyst")
    client.get(url)  # pieces decoded once by this process
    with django_assert_max_num_queries(most):
        assert client.get(url).status_code == 200


def test_a_quarters_rate_agrees_with_the_rounded_counts_beside_it(client, demo):
    """Issue 9: a trend table showed "20 of 20 = 95.0%", rounded counts beside the exact rate."""
    run = demo["runs"]["bowel"]
    checked = 0
    trends = TrendSeries.objects.filter(run=run, indicator="early_stage", level="provider")
    for trend in sorted(trends, key=lambda t: -sum(p["denominator"] for p in t.points))[:5]:  # the busiest
        url = reverse("trust-trend", args=[trend.organisation, "bowel", "early_stage"])
        for row in csv.DictReader(io.StringIO(client.get(url, {"download": "quarters"}).content.decode())):
            if row["value"] == "*":
                assert row["numerator"] == row["denominator"] == "*"  # not shown: nothing of it is
                continue
            numerator, denominator = int(row["numerator"].replace(",", "")), int(row["denominator"].replace(",", ""))
            assert row["value"] == pct(numerator / denominator), row
            checked += 1
    assert checked >= 20


def test_a_highlighted_trust_that_is_not_shown_is_not_promised_a_ring(client, demo):
    """Issue 9: the highlight panel said a suppressed trust was "ringed on the plot", where it is not drawn."""
    run = demo["runs"]["bowel"]
    hidden = (
        IndicatorResult.objects.filter(run=run, indicator="early_stage", level="provider", suppressed=True)
        .order_by("organisation")
        .first()
    )
    url = reverse("indicator", args=["bowel", "early_stage"])
    html = client.get(url, {"period": hidden.period, "highlight": hidden.organisation}).content.decode()
    panel = text_of_html(html.split('class="panel"', 1)[1].split("</div>", 1)[0])
    assert "ringed" not in panel and "not on the plot" in panel and "Not shown: small numbers" in panel
    assert re.search(r'id="funnel-trusts"[^>]*data-highlight=""', html)
    shown = (
        IndicatorResult.objects.filter(
            run=run, indicator="early_stage", level="provider", period=hidden.period, suppressed=False, eligible=True
        )
        .order_by("organisation")
        .first()
    )
    html = client.get(url, {"period": shown.period, "highlight": shown.organisation}).content.decode()
    assert "ringed in black on the plot" in text_of_html(html)
    assert re.search(rf'id="funnel-trusts"[^>]*data-highlight="{shown.organisation}"', html)


def text_of_html(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)))


def test_a_risk_adjusted_indicator_shows_a_reliability_adjusted_o_e_beside_the_crude_one(client, demo):
    """The page's trusts table and the API give each shown trust's reliability-adjusted O/E (gamma-Poisson), its
    interval and reliability, as published: O/E written as the crude O/E is, none for a hidden trust."""
    run = demo["runs"]["bowel"]
    code = "mortality_90d"
    period = headline(run, code)
    response = client.get(reverse("indicator", args=["bowel", code]))
    html = response.content.decode()
    table = html.split('id="table-trusts"', 1)[1].split("</table>", 1)[0]
    head = table[: table.index("</thead>")]
    titles = re.findall(r"<th[^>]*>(.*?)</th>", head)
    crude = titles.index("Observed / expected")
    assert titles[crude : crude + 4] == [
        "Observed / expected",
        "Reliability-adjusted O/E",
        "Its 95% interval",
        "Reliability",
    ]
    note = text_of(response).split("sits beside each crude one", 1)[1][:300]  # the note under the table: which model
    assert "gamma-Poisson" in note and "pulled towards 1, England's observed / expected" in note
    results = client.get(
        reverse("api:result-list"),
        {"audit": "bowel", "indicator": code, "level": "provider", "period": period, "page_size": 1000},
    ).json()["results"]
    shown = [r for r in results if not r["suppressed"]]
    hidden = [r for r in results if r["suppressed"]]
    assert len(shown) >= 10 and hidden
    assert all(r[name] is None for r in hidden for name in ("shrunken_value", "shrunken_lower", "reliability"))
    # estimate = w·(O/E) + (1 − w)·μ, μ the prior mean: 1, England's O/E (the risk model is calibrated to it).
    assert all(0 <= r["reliability"] < 1 for r in shown)
    assert all(r["shrunken_lower"] <= r["shrunken_value"] <= r["shrunken_upper"] for r in shown)
    means = [(r["shrunken_value"] - r["reliability"] * r["value"]) / (1 - r["reliability"]) for r in shown]
    assert means == pytest.approx([1.0] * len(shown), rel=1e-9)
    for r in shown:
        row = re.search(rf'<tr data-code="{r["organisation"]}".*?</tr>', table, re.S).group(0)
        cells = re.findall(r'<td class="num">(.*?)</td>', row)
        lower, upper = f"{r['shrunken_lower']:.2f}", f"{r['shrunken_upper']:.2f}"
        assert cells[3] == f"{r['value']:.2f}"  # the crude O/E, and beside it:
        assert cells[4:7] == [f"{r['shrunken_value']:.2f}", f"{lower} to {upper}", f"{r['reliability']:.2f}"]
    row = re.search(rf'<tr data-code="{hidden[0]["organisation"]}".*?</tr>', table, re.S).group(0)
    assert re.findall(r'<td class="num">(.*?)</td>', row)[3:7] == ["*"] * 4
    download = client.get(reverse("indicator", args=["bowel", code]) + "?download=trusts").content.decode()
    lines = {line["code"]: line for line in csv.DictReader(io.StringIO(download))}
    first = shown[0]
    assert lines[first["organisation"]]["shrunken_observed_over_expected"] == f"{first['shrunken_value']:.2f}"
    assert lines[hidden[0]["organisation"]]["shrunken_oe_95_lower"] == "*"
