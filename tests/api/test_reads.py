"""Read endpoints: the figures, their suppression by role, filters, CSV, caching, paging and query counts."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.urls import reverse

from accounts.services import Actor
from audits.models import Release, Trust
from audits.services import import_extract
from indicators.models import IndicatorResult, RunIndicator
from tests.api.conftest import ROLES, SENTINEL, World
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db
RESULTS = reverse("api:result-list")


def results(client, world: World, role: str, **params):
    response = client.get(RESULTS, {"page_size": 1000, **params}, **world.auth(role))
    assert response.status_code == 200, response.content
    return response.json()["results"]


def csv_rows(response) -> list[dict[str, str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_it_shows_a_small_count_to_the_audits_analysts_only(client, world):
    small = world.small_result
    where = {
        "indicator": small.indicator,
        "organisation": small.organisation,
        "period": small.period,
        "level": "provider",
    }
    for role in ROLES:
        (row,) = results(client, world, role, **where)
        assert row["suppressed"] is True
        if role == "analyst":
            assert (row["numerator"], row["denominator"], row["value"]) == (
                small.numerator,
                small.denominator,
                small.value,
            )
        else:  # not shown: small numbers; nothing of the row is published, its flag included
            for name in ("numerator", "denominator", "value", "ci_lower", "expected", "z", "flag", "eligible"):
                assert row[name] is None, (role, name)
    (published,) = csv_rows(client.get(RESULTS, {**where, "format": "csv"}))
    assert published["numerator"] == "" and published["value"] == "" and published["suppressed"] == "true"
    assert published["denominator"] == "" and published["flag"] == ""
    (exact,) = csv_rows(client.get(RESULTS, {**where, "format": "csv"}, **world.auth("analyst")))
    assert exact["numerator"] == str(small.numerator)


def test_published_counts_are_rounded_to_five_and_england_is_exact(client, world):
    rows = results(client, world, "public", indicator="mdt_discussed")
    stored = {
        (r.level, r.organisation, r.period): r
        for r in IndicatorResult.objects.filter(release=world.release, indicator="mdt_discussed")
    }
    assert len(rows) == len(stored) > 20
    for row in rows:
        result = stored[(row["level"], row["organisation"], row["period"])]
        if row["level"] == "national":
            assert (row["numerator"], row["denominator"]) == (result.numerator, result.denominator)
        elif not row["suppressed"]:
            assert row["numerator"] % 5 == 0 and abs(row["numerator"] - result.numerator) <= 2
            # computed from the rounded counts: nothing beside them gives the exact counts back
            assert row["value"] == row["numerator"] / row["denominator"] and row["expected"] is None
            assert (row["flag"], row["eligible"]) == (result.flag, result.eligible)  # decided on exact counts
    assert any(r["suppressed"] for r in rows) and any(not r["suppressed"] for r in rows if r["level"] == "provider")


def test_the_analysts_figures_are_the_stored_results_with_names(client, world):
    row = results(client, world, "analyst", indicator="mdt_discussed", organisation="r0a", period="2024/25")[0]
    stored = IndicatorResult.objects.get(
        release=world.release, indicator="mdt_discussed", organisation="R0A", period="2024/25"
    )
    for name in ("numerator", "denominator", "value", "ci_lower", "ci_upper", "limit_lower_95", "z", "flag"):
        assert row[name] == getattr(stored, name), name
    assert row["organisation_name"] == "Manchester University NHS Foundation Trust"
    assert (row["audit"], row["release"], row["release_version"]) == ("bowel", world.release.pk, 1)


def test_it_filters_by_alliance_level_and_period(client, world):
    rows = results(client, world, "public", indicator="mdt_discussed", alliance="e56000019", period="2024/25")
    members = set(Trust.objects.filter(alliance_id="E56000019").values_list("code", flat=True))
    assert {r["level"] for r in rows} == {"provider", "alliance"}
    assert all(r["organisation"] in members for r in rows if r["level"] == "provider")
    assert [r["organisation"] for r in rows if r["level"] == "alliance"] == ["E56000019"]
    assert {r["period"] for r in rows} == {"2024/25"}
    national = results(client, world, "public", level="national", indicator="mdt_discussed")
    assert {r["organisation"] for r in national} == {"E92000001"} and len(national) == 4  # 3 years and all years


def test_it_reads_the_current_release_unless_another_is_asked_for(client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), (FIXTURES / "bowel" / "valid.csv").open("rb") as f:
        newer = import_extract(
            audit_code="bowel",
            stream=f,
            file_name="valid.csv",
            extract_date=date(2025, 3, 31),
            actor=Actor.command_line(name="tests"),
        ).release
    current = results(client, world, "public", indicator="mdt_discussed", level="national")
    assert {r["release"] for r in current} == {newer.pk}
    assert {
        r["release"]
        for r in results(client, world, "public", indicator="mdt_discussed", level="national", release=world.release.pk)
    } == {world.release.pk}
    audits = client.get(reverse("api:audit-list")).json()["results"]
    assert next(a for a in audits if a["code"] == "bowel")["current_release"] == newer.pk


def test_pages_are_stable_and_link_to_each_other(client, world):
    everything = [
        (r["indicator"], r["level"], r["organisation"], r["period"])
        for r in results(client, world, "public", indicator="early_stage")
    ]
    first = client.get(RESULTS, {"indicator": "early_stage", "page_size": 50})
    body = first.json()
    assert body["count"] == len(everything) > 50 and first["X-Total-Count"] == str(len(everything))
    assert 'rel="next"' in first["Link"]
    second = client.get(body["next"]).json()
    paged = [(r["indicator"], r["level"], r["organisation"], r["period"]) for r in body["results"] + second["results"]]
    assert paged == everything[: len(paged)] and len(set(paged)) == len(paged)
    assert everything == sorted(everything)  # indicator, level, organisation, period


def test_an_unchanged_answer_is_not_sent_again(client, world):
    first = client.get(RESULTS, {"indicator": "early_stage"})
    assert first["ETag"] and "Accept" in first["Vary"] and "Authorization" in first["Vary"]
    again = client.get(RESULTS, {"indicator": "early_stage"}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    analyst = client.get(
        RESULTS, {"indicator": "early_stage"}, HTTP_IF_NONE_MATCH=first["ETag"], **world.auth("analyst")
    )
    assert analyst.status_code == 200 and analyst["ETag"] != first["ETag"]  # exact counts: a different answer


@pytest.mark.parametrize("page_size", [5, 500])
def test_list_endpoints_take_a_fixed_number_of_queries(client, world, django_assert_num_queries, page_size):
    from django.core.cache import cache

    cache.clear()
    expected = {  # anonymous: counting and reading the page, plus what the serializer needs, once
        # results: every release's current run (what is served, and the cache key), then count, page,
        # trust names, alliance names
        reverse("api:result-list"): 5,
        reverse("api:release-list"): 4,  # count, page, their runs, current releases
        reverse("api:trust-list"): 2,  # count, page (with alliances)
        reverse("api:audit-list"): 1,  # current releases (audits come from their definition files)
        reverse("api:indicator-list", args=["bowel"]): 0,
        reverse("api:alliance-list"): 2,
        reverse("api:successor-list"): 2,
    }
    for url, queries in expected.items():
        with django_assert_num_queries(queries):
            assert client.get(url, {"page_size": page_size}).status_code == 200
    with django_assert_num_queries(1):  # the same results again: only the current runs, for the cache key
        assert client.get(reverse("api:result-list"), {"page_size": page_size}).status_code == 200
    # the token (found, then marked used) and the analyst's groups, then as above
    with django_assert_num_queries(5 + 2 + 1):
        client.get(RESULTS, {"page_size": page_size, "indicator": "early_stage"}, **world.auth("analyst"))


def test_the_xmr_chart_hides_a_small_quarter_from_the_public(client, world):
    trend = world.trend
    url = reverse("api:xmr", args=["bowel", trend.indicator, trend.organisation.lower()])
    public, analyst = client.get(url).json(), client.get(url, **world.auth("analyst")).json()
    small = next(i for i, p in enumerate(trend.points) if 1 <= p["numerator"] <= 7)
    assert public["points"][small]["value"] is None and public["points"][small]["numerator"] is None
    assert analyst["points"][small]["value"] == trend.points[small]["value"]
    assert analyst["points"][small]["numerator"] == trend.points[small]["numerator"]
    assert analyst["chart"]["upl"] == trend.xmr["upl"]
    # The public chart is of the shown quarters only: its mean gives no hidden quarter back.
    shown = [p["value"] for p in public["points"] if p["value"] is not None]
    assert public["chart"] is None or (
        public["chart"]["n_points"] == len(shown) and public["chart"]["mean"] == pytest.approx(sum(shown) / len(shown))
    )
    assert [p["quarter"] for p in public["points"]] == [p["quarter"] for p in trend.points]
    rows = csv_rows(client.get(url, {"format": "csv"}))
    assert [r["quarter"] for r in rows] == [p["quarter"] for p in trend.points]
    assert rows[small]["value"] == "" and rows[small]["suppressed"] == "true"


def test_a_hidden_result_is_not_found_by_its_flag(client, world):
    hidden = IndicatorResult.objects.filter(release=world.release, level="provider", suppressed=True).first()
    IndicatorResult.objects.filter(pk=hidden.pk).update(flag="alarm_low")  # say its exact counts were an alarm
    where = {"indicator": hidden.indicator, "period": hidden.period, "level": "provider", "flag": "alarm_low"}
    for role in ROLES:
        found = {r["organisation"] for r in results(client, world, role, **where)}
        assert (hidden.organisation in found) == (role == "analyst"), role


def test_a_withdrawn_release_is_unpublished_for_all_but_its_audits_analysts_and_staff(client, world):
    trend, pk = world.trend, world.release.pk
    Release.objects.filter(pk=pk).update(status=Release.Status.WITHDRAWN)  # as withdraw_release leaves it
    asked = {
        "results": (RESULTS, {"release": pk, "indicator": "mdt_discussed"}),
        "trend": (reverse("api:xmr", args=["bowel", trend.indicator, trend.organisation]), {"release": pk}),
        "model card": (reverse("api:model-card", args=["bowel", "mortality_2y"]), {"release": pk}),
    }
    for role in ROLES:
        for what, (url, params) in asked.items():
            response = client.get(url, params, **world.auth(role))
            assert response.status_code == (200 if role in ("analyst", "staff") else 404), (role, what)
    assert results(client, world, "staff", release=pk, indicator="mdt_discussed")  # still there for them


def test_the_model_card_of_a_risk_adjusted_indicator(client, world):
    card = RunIndicator.objects.get(run__release=world.release, run__is_current=True, indicator="mortality_2y")
    url = reverse("api:model-card", args=["bowel", "mortality_2y"])
    by_role = {role: client.get(url, **world.auth(role)).json() for role in ROLES}
    assert by_role["analyst"]["model_card"] == card.model_card and by_role["analyst"]["release"] == world.release.pk
    assert card.model_card["completeness"]["by_group"]  # each trust's share of each case-mix field
    for role in ("public", "clinician", "other_analyst", "staff", "lead"):
        public = by_role[role]["model_card"]
        assert "by_group" not in public["completeness"], role  # a trust's completeness is the analysts' to see
        assert public["completeness"]["national"] == card.model_card["completeness"]["national"]
        assert public["coefficients"] == card.model_card["coefficients"]
    assert client.get(reverse("api:model-card", args=["bowel", "mdt_discussed"])).status_code == 404


def test_indicators_come_with_their_full_definition(client, world):
    body = client.get(reverse("api:indicator-detail", args=["bowel", "mortality_90d"])).json()
    assert body["risk_adjusted"] is True and body["kind"] == "ratio" and body["minimum_denominator"] == 10
    assert body["numerator"] == {"event_within": {"event": "death_date", "start": "surgery_date", "days": 90}}
    assert body["definition"]["code"] == "mortality_90d" and body["risk_model"]["covariates"]
    assert client.get(reverse("api:indicator-detail", args=["bowel", "nope"])).status_code == 404


def test_a_releases_quality_by_trust_depends_on_the_role(client, world):
    url = reverse("api:release-detail", args=[world.release.pk])
    by_role = {role: client.get(url, **world.auth(role)).json() for role in ROLES}
    report = world.release.quality_report
    assert by_role["analyst"]["quality_by_trust"] == report["providers"]
    members = set(Trust.objects.filter(alliance_id="E56000019").values_list("code", flat=True))
    lead = by_role["lead"]["quality_by_trust"]
    assert lead and {p["provider_code"] for p in lead} <= members
    assert all(p["rows"] is None or p["rows"] % 5 == 0 for p in lead)
    for role in ("public", "clinician", "other_analyst", "staff"):
        assert by_role[role]["quality_by_trust"] is None, role
        assert by_role[role]["quality"]["columns"] == report["columns"]  # the national summary is public
    assert by_role["public"]["file_name"] is None and by_role["staff"]["file_name"] == "bowel.csv"
    assert by_role["public"]["computation"]["status"] == "done"


def test_patient_rows_come_a_page_at_a_time_in_file_order(client, world):
    url = reverse("api:release-rows", args=[world.release.pk])
    first = client.get(url, {"page_size": 1000}, **world.auth("analyst")).json()
    assert first["count"] == 1500 and len(first["results"]) == 1000
    assert first["results"][0]["patient_id"] == SENTINEL and first["results"][0]["line"] == 2
    second = client.get(first["next"], **world.auth("analyst")).json()
    assert len(second["results"]) == 500 and second["next"] is None
    lines = [r["line"] for r in first["results"] + second["results"]]
    assert lines == list(range(2, 1502))
    rows = csv_rows(client.get(url, {"page_size": 3, "format": "csv"}, **world.auth("analyst")))
    assert [r["line"] for r in rows] == ["2", "3", "4"] and rows[0]["patient_id"] == SENTINEL
