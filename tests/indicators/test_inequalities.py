"""Inequality breakdowns computed and stored by a run, on a 12,000-patient demo bowel release: the deprivation
gradient its definition's demo section plants (emergency presentation more common and early-stage diagnosis less
common in the most deprived), suppression, the API."""

from __future__ import annotations

import time

import numpy as np
import pytest
from django.urls import reverse

from indicators.levels import ENGLAND_CODE
from indicators.models import IndicatorResult, InequalityResult
from indicators.stats.suppression import DEFAULT_POLICY, exposed_totals, primary_suppression
from tests.dashboards import data


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        started = time.perf_counter()
        result = data.load({"bowel": 12_000})
        result["seconds"] = time.perf_counter() - started
    yield result
    with django_db_blocker.unblock():
        data.clear()


def rows(run, indicator, dimension, organisation=ENGLAND_CODE):
    return list(
        InequalityResult.objects.filter(
            run=run, indicator=indicator, dimension=dimension, organisation=organisation
        ).order_by("position")
    )


@pytest.mark.django_db
def test_the_planted_deprivation_gradient_shows_in_emergency_presentation(loaded):
    run = loaded["runs"]["bowel"]
    groups = rows(run, "emergency_presentation", "deprivation")
    assert [g.group for g in groups][:5] == ["1 (most deprived)", "2", "3", "4", "5 (least deprived)"]
    first = groups[0]
    # Emergency presentation falls as deprivation falls: a negative slope, its interval below 0.
    assert first.sii < 0 and first.sii_lower < first.sii < first.sii_upper < 0
    assert first.gap == pytest.approx(groups[0].value - groups[4].value) and first.gap > 0
    assert all(g.sii == first.sii for g in groups)


@pytest.mark.django_db
def test_the_planted_deprivation_gradient_shows_in_early_stage_diagnosis(loaded):
    """The bowel demo section moves stage later with deprivation (and through emergency presentation and less
    screening): early-stage diagnosis is lower in the most deprived quintile, a positive slope (least minus most)."""
    run = loaded["runs"]["bowel"]
    groups = rows(run, "early_stage", "deprivation")
    most, least = groups[0], groups[4]
    assert most.value < least.value and most.gap < 0
    assert 0 < most.sii_lower < most.sii


@pytest.mark.django_db
def test_groups_add_up_to_the_headline_result(loaded):
    run = loaded["runs"]["bowel"]
    for dimension in ("deprivation", "age", "sex"):
        groups = rows(run, "early_stage", dimension)
        period = groups[0].period
        england = IndicatorResult.objects.get(run=run, indicator="early_stage", level="national", period=period)
        assert sum(g.numerator for g in groups) == england.numerator
        assert sum(g.denominator for g in groups) == england.denominator


@pytest.mark.django_db
def test_alliance_groups_are_suppressed_with_no_hidden_count_recoverable(loaded):
    run = loaded["runs"]["bowel"]
    found = list(InequalityResult.objects.filter(run=run, level="alliance"))
    assert found
    x = np.array([r.numerator for r in found], dtype=float)
    n = np.array([r.denominator for r in found], dtype=float)
    hidden = np.array([r.suppressed for r in found])
    assert (hidden >= primary_suppression(x, n, DEFAULT_POLICY)).all()
    assert hidden.any()
    for r in found:
        assert (r.public is None) == r.suppressed
    # Each alliance's groups (its total is published) and each group across England's alliances.
    keys = {}
    total_of, cell_of = [], []
    for i, r in enumerate(found):
        for key in (("org", r.indicator, r.dimension, r.organisation), ("group", r.indicator, r.dimension, r.position)):
            total_of.append(keys.setdefault(key, len(keys)))
            cell_of.append(i)
    informative = ~((x == 0) | (x == n))
    exposed = exposed_totals(hidden, (np.array(total_of), np.array(cell_of)), informative=informative)
    # A total left exposed has no shown alliance cell left to hide: every part is hidden and all but one are
    # zeros (which protect nothing), beside a published total (England's, or the alliance's own), as
    # indicators.disclosure leaves such a total too.
    shown_in_exposed = exposed[np.array(total_of)] & ~hidden[np.array(cell_of)]
    assert not shown_in_exposed.any()


@pytest.mark.django_db
def test_the_api_answers_per_group_with_the_sii(client, loaded):
    url = reverse("api:inequalities")
    query = {"audit": "bowel", "indicator": "emergency_presentation", "dimension": "deprivation"}
    answer = client.get(url, query).json()
    assert answer["organisation"] == ENGLAND_CODE
    assert set(answer["rows"][0]) == {
        "group",
        "numerator",
        "denominator",
        "value",
        "ci_lower",
        "ci_upper",
        "suppressed",
    }
    assert answer["sii"] < 0 and answer["sii_upper"] < 0
    hidden = InequalityResult.objects.filter(run=loaded["runs"]["bowel"], level="alliance", suppressed=True).first()
    query = {
        "audit": "bowel",
        "indicator": hidden.indicator,
        "dimension": hidden.dimension,
        "organisation": hidden.organisation,
    }
    public = {r["group"]: r for r in client.get(url, query).json()["rows"]}[hidden.group]
    assert public["suppressed"] and public["numerator"] is None and public["value"] is None
    client.force_login(loaded["analyst"])
    exact = {r["group"]: r for r in client.get(url, query).json()["rows"]}[hidden.group]
    assert exact["numerator"] == hidden.numerator and exact["suppressed"]
    assert client.get(url, {**query, "dimension": "colour"}).status_code == 400
    assert client.get(url, {**query, "organisation": "E5\x00"}).status_code == 400
    assert client.get(url, {**query, "organisation": "E99999999"}).status_code == 404


@pytest.mark.django_db
def test_the_page_says_who_in_words_tables_and_a_chart(client, loaded):
    url = reverse("inequalities", args=["bowel", "emergency_presentation"])
    page = client.get(url).content.decode()
    assert "lower among the least deprived than among the most deprived" in page
    assert "does not include 0" in page
    for title in ("By deprivation", "By age at diagnosis", "By sex"):
        assert title in page
    assert 'data-figure="fig-deprivation"' in page and 'id="table-deprivation"' in page
    assert "Skip the chart" in page
    indicator_page = client.get(reverse("indicator", args=["bowel", "emergency_presentation"])).content.decode()
    assert url in indicator_page


@pytest.mark.django_db
def test_the_page_hides_small_numbers_but_not_from_the_analysts(client, loaded):
    hidden = (
        InequalityResult.objects.filter(run=loaded["runs"]["bowel"], level="alliance", suppressed=True)
        .order_by("indicator", "dimension", "organisation", "position")
        .first()
    )
    url = reverse("inequalities", args=["bowel", hidden.indicator])
    public = client.get(url, {"organisation": hidden.organisation}).content.decode()
    assert "not shown: small numbers" in public
    csv = client.get(url, {"organisation": hidden.organisation, "download": "csv"}).content.decode()
    line = next(row for row in csv.splitlines() if row.startswith(f"{hidden.dimension},{hidden.group},"))
    assert line.split(",")[2:4] == ["", ""] and ",yes," in line
    client.force_login(loaded["analyst"])
    exact = client.get(url, {"organisation": hidden.organisation, "download": "csv"}).content.decode()
    line = next(row for row in exact.splitlines() if row.startswith(f"{hidden.dimension},{hidden.group},"))
    assert line.split(",")[2:4] == [str(hidden.numerator), str(hidden.denominator)]


@pytest.mark.django_db
def test_the_alliance_page_links_to_its_breakdowns(client, loaded):
    row = InequalityResult.objects.filter(run=loaded["runs"]["bowel"], level="alliance").first()
    page = client.get(reverse("alliance", args=[row.organisation])).content.decode()
    link = reverse("inequalities", args=["bowel", "emergency_presentation"]) + f"?organisation={row.organisation}"
    assert "Who is diagnosed late in this alliance?" in page and link in page
