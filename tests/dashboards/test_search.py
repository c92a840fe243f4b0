"""Issue 14, item 6: the search finds what people type (punctuation, St/Saint, &/and, former and common names),
never redirects to a wrong trust on a partial match, and a trust without results says so on its page."""

from __future__ import annotations

import csv
import re
from html import unescape

import pytest
from django.urls import reverse

from audits.models import Alliance, Trust
from audits.organisations import SEED_DIR
from dashboards.models import FigureSpec
from dashboards.selectors.search import normalise

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("orgs")]  # orgs: a flush elsewhere empties them

ALIASES = list(csv.DictReader((SEED_DIR / "aliases.csv").open(encoding="utf-8")))


def text_of(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", response.content.decode())))


def search(client, query: str):
    return client.get(reverse("search"), {"q": query})


def listed(response) -> list[str]:
    """The codes of the organisations the results list links to, in order."""
    assert response.status_code == 200
    block = re.search(r"<h2>\d+ match.*?</h2>\s*<ul>(.*?)</ul>", response.content.decode(), re.S)
    return re.findall(r'<li><a href="/(?:trusts|alliances)/([^/]+)/">', block.group(1)) if block else []


def name_of(code: str) -> str:
    return Trust.objects.get(code=code).name


# ------------------------------------------------------------------ the one normalisation (pure)


@pytest.mark.parametrize(
    "typed",
    ["st georges", "St George's", "ST. GEORGES", "  st   george’s  ", "Saint George's", "saint-georges"],
)
def test_apostrophes_punctuation_case_spaces_and_saint_are_one_way_of_writing(typed):
    assert normalise(typed) == normalise("St George's") == "st georges"


def test_ampersand_and_and_are_the_same_word_and_st_inside_a_word_is_left_alone():
    assert normalise("Guy's & St Thomas'") == normalise("guys and saint thomas") == "guys and st thomas"
    assert normalise("Kent&Medway") == normalise("Kent and Medway")
    assert normalise("Stoke Mandeville") == "stoke mandeville"
    assert normalise("East of England - North Cancer Alliance") == "east of england north cancer alliance"
    assert normalise("!!!") == ""


# ------------------------------------------------------------------ the search page


@pytest.mark.parametrize("typed", ["st georges", "St Georges", "St. George's", "saint georges", "ST   GEORGE'S"])
def test_st_georges_is_found_however_it_is_typed(client, typed):
    assert "RJ7" in listed(search(client, typed))


def test_guys_and_st_thomas_found_with_ampersand_or_and(client):
    assert "RJ1" in listed(search(client, "guys & st thomas"))
    assert "RJ1" in listed(search(client, "Guy's and Saint Thomas'"))


def test_a_partial_match_never_redirects_kings_lists_kings_college_and_kingston(client):
    response = search(client, "Kings")
    codes = listed(response)  # a list, not a redirect to Kingston
    assert {"RJZ", "RAX"} <= set(codes), codes


def test_a_single_partial_match_is_listed_not_opened(client):
    response = search(client, "george's university")
    assert listed(response) == ["RJ7"]


def test_an_exact_code_or_normalised_full_name_opens_the_organisation(client):
    trust = Trust.objects.get(code="RJ7")
    assert search(client, "rj7")["Location"] == reverse("trust", args=["RJ7"])
    typed = trust.name.upper().replace("'", "").replace("ST ", "Saint ")  # "SAINT GEORGES UNIVERSITY ..."
    assert search(client, f"  {typed}. ")["Location"] == reverse("trust", args=["RJ7"])
    alliance = Alliance.objects.filter(name__contains=" and ").first()
    opened = search(client, alliance.name.replace(" and ", " & "))["Location"]
    assert opened == reverse("alliance", args=[alliance.code])


@pytest.mark.parametrize("row", [r for r in ALIASES if r["kind"] == "former"], ids=lambda r: r["alias"])
def test_a_former_name_opens_the_current_trust_and_says_formerly(client, row):
    response = search(client, row["alias"].lower().replace(" and ", " & "))
    assert response["Location"] == reverse("trust", args=[row["trust_code"]])
    page = text_of(client.get(response["Location"]))
    assert f"formerly {row['alias']}" in page


def test_part_of_a_former_name_lists_the_current_trust_saying_formerly(client):
    row = next(r for r in ALIASES if r["alias"] == "Salford Royal NHS Foundation Trust")
    response = search(client, "salford royal")
    assert listed(response) == [row["trust_code"]]
    assert f"{name_of(row['trust_code'])} ({row['trust_code']}) · Trust · formerly {row['alias']}" in text_of(response)


def test_a_common_name_finds_the_trust(client):
    row = next(r for r in ALIASES if r["kind"] == "common")
    assert search(client, row["alias"].lower())["Location"] == reverse("trust", args=[row["trust_code"]])


def test_every_alias_in_the_seed_file_is_loaded_for_a_current_trust():
    from audits.models import TrustAlias

    loaded = set(TrustAlias.objects.values_list("trust_id", "alias", "kind"))
    assert loaded == {(r["trust_code"], r["alias"], r["kind"]) for r in ALIASES}
    assert all(Trust.objects.get(code=code).active for code, _, _ in loaded)


def test_nothing_matching_says_so(client):
    response = search(client, "zzqx")
    assert listed(response) == []
    assert "No trust or Cancer Alliance has that name or code" in text_of(response)


def test_the_normalised_index_is_built_once_not_per_request(client):
    search(client, "warming the index up")
    before = normalise.cache_info()
    search(client, "leeds")
    search(client, "st georges")
    after = normalise.cache_info()
    assert after.misses - before.misses <= 2  # only the two queries were normalised


# ------------------------------------------------------------------ a trust without results says so


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    from dashboards.services import build_run_pages
    from tests.dashboards import data

    with django_db_blocker.unblock():
        loaded = data.load({"bowel": 6_000, "lung": 4_000})
        for run in loaded["runs"].values():
            build_run_pages(run)
    yield loaded
    with django_db_blocker.unblock():
        data.clear()


def with_results(run) -> set[str]:
    """The trusts with results in the run: those whose page piece the run built."""
    keys = FigureSpec.objects.filter(run=run, key__startswith="trust:", key__endswith=":public")
    return {key.split(":")[1] for key in keys.values_list("key", flat=True)}


def test_a_trust_without_results_in_one_audit_says_so_on_its_page(client, demo):
    bowel, lung = demo["runs"]["bowel"], demo["runs"]["lung"]
    only_lung = sorted(with_results(lung) - with_results(bowel))
    assert only_lung, "the demo has a lung-only specialist trust"
    page = text_of(client.get(reverse("trust", args=[only_lung[0]])))
    name = bowel.release.audit.name
    assert f"No results for this trust in the {name}'s current release (release {bowel.release.version})" in page
    assert f"No results for this trust in the {lung.release.audit.name}" not in page


def test_a_trust_without_results_in_any_audit_says_so_plainly_with_links_to_the_audits(client, demo):
    runs = demo["runs"]
    anywhere = set().union(*(with_results(run) for run in runs.values()))
    code = Trust.objects.filter(active=True).exclude(code__in=anywhere).values_list("code", flat=True).first()
    response = client.get(reverse("trust", args=[code]))
    page = text_of(response)
    assert "No results for this trust in any audit's current release" in page
    html = response.content.decode()
    for audit, run in runs.items():
        assert f'<a href="{reverse("audit", args=[audit])}">{run.release.audit.name}</a>' in html
