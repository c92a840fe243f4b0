"""An indicator whose definition could not be checked against the audit's methodology (``review: {status:
unverified, note: ...}`` in its definition file) says so on its page, with the note, and in the API."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
import yaml
from django.urls import reverse

from audits.registry import reset_cache
from dashboards.models import FigureSpec
from indicators.models import IndicatorResult
from tests.conftest import FIXTURES
from tests.dashboards import data

DEFINITIONS = FIXTURES.parents[1] / "audits" / "definitions"
NOTE = "The window after diagnosis is not checked against the Methodology Supplement."
NOTICE = "Definition under review"

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def lung(django_db_setup, django_db_blocker):
    """A lung release, computed, with its pieces built (committed; removed afterwards)."""
    from dashboards.services import build_run_pages

    with django_db_blocker.unblock():
        loaded = data.load({"lung": 6_000})
        build_run_pages(loaded["runs"]["lung"])
    yield loaded
    with django_db_blocker.unblock():
        data.clear()


@pytest.fixture
def cns_unverified(settings, tmp_path: Path):
    """The shipped definitions, with lung's cns_seen marked unverified (its conditions unchanged)."""
    for path in DEFINITIONS.glob("*.yaml"):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if raw["code"] == "lung":
            entry = next(item for item in raw["indicators"] if item["code"] == "cns_seen")
            entry["review"] = {**entry["review"], "status": "unverified", "note": NOTE}
        (tmp_path / path.name).write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    settings.AUDIT_DEFINITION_DIRS = [tmp_path]
    reset_cache()
    yield
    reset_cache()


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


def test_an_unverified_indicators_page_says_its_definition_is_under_review(client, lung, cns_unverified):
    page = text_of(client.get(reverse("indicator", args=["lung", "cns_seen"])))
    assert NOTICE in page and NOTE in page
    assert "NHS trusts against England" in page  # the page with results, not the unavailable one
    checked = text_of(client.get(reverse("indicator", args=["lung", "early_stage"])))
    assert "NHS trusts against England" in checked and NOTICE not in checked


def test_the_notice_is_shown_without_results_too(client, lung, cns_unverified):
    from dashboards.services import build_run_pages

    run = lung["runs"]["lung"]
    IndicatorResult.objects.filter(run=run, indicator="cns_seen").delete()
    FigureSpec.objects.filter(run=run).delete()
    build_run_pages(run)  # rolled back with the test
    page = text_of(client.get(reverse("indicator", args=["lung", "cns_seen"])))
    assert "Not available in this release" in page
    assert NOTICE in page and NOTE in page


def test_a_shipped_definition_without_a_status_shows_no_notice(client, lung):
    page = text_of(client.get(reverse("indicator", args=["lung", "cns_seen"])))
    assert "NHS trusts against England" in page and NOTICE not in page


def test_the_api_gives_an_indicators_review_with_its_status_and_note(client):
    """Every audit's definitions are served, whether or not it has a release yet."""
    body = client.get(reverse("api:indicator-detail", args=["kidney", "curative_31d"])).json()
    assert body["review"]["status"] == "unverified" and "not checked" in body["review"]["note"]
    assert body["standard"] == {"value": 0.96, "label": "NHS England objective: 96%"}
    lung_body = client.get(reverse("api:indicator-detail", args=["lung", "cns_seen"])).json()
    assert "status" not in lung_body["review"]


def test_the_home_page_says_plainly_which_audits_have_no_release_yet(client, lung):
    from audits.registry import all_definitions

    page = text_of(client.get(reverse("home")))
    for definition in all_definitions().values():
        assert definition.name in page, definition.code
    card = page[page.index("National Oesophago-Gastric Cancer Audit") :]
    assert card.split("</li>")[0].count("No release yet: no extract has been published and computed") == 1
    lung_card = page[page.index("National Lung Cancer Audit") :].split("</li>")[0]
    assert "Results from release" in lung_card and "No release yet" not in lung_card


def test_an_audit_without_a_release_shows_its_definitions_and_says_so(client, lung):
    from indicators.registry import indicators_for

    page = text_of(client.get(reverse("audit", args=["og"])))
    assert "No release yet." in page and "no results to show" in page
    assert client.get(reverse("audit", args=["og"]), {"download": "indicators"}).status_code == 404
    definitions = indicators_for("og")
    for definition in definitions:
        assert definition.title in page and definition.review_note in page, definition.code
    assert page.count(NOTICE) == sum(d.under_review for d in definitions) > 0


def test_an_audit_page_with_results_tags_the_indicators_under_review(client, lung, cns_unverified):
    page = text_of(client.get(reverse("audit", args=["lung"])))
    assert "No release yet" not in page and page.count(NOTICE) == 1
    assert NOTICE in page[page.index("Seen by a lung cancer nurse specialist") :].split("</tr>")[0]
