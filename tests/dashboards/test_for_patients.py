"""A trust's page for patients and the public (``/trusts/<ods>/for-patients/``): plain words for a reading age of
about nine, from the public figures only, on the shared demo releases."""

from __future__ import annotations

import re
from dataclasses import replace
from html import unescape
from html.parser import HTMLParser

import pytest
import textstat
from django.urls import reverse

from audits.models import Alliance, Trust
from audits.registry import all_definitions
from dashboards import text
from dashboards.pages.for_patients import (
    NO_WORDS,
    PLAIN_MEANINGS,
    what_audit_measures,
    what_indicator_measures,
)
from indicators.models import IndicatorResult
from indicators.registry import indicators_for
from tests.conftest import FIXTURES
from tests.dashboards.data import ANALYST_PASSWORD

DEFINITIONS = FIXTURES.parents[1] / "audits" / "definitions"

pytestmark = pytest.mark.django_db

#: Flesch-Kincaid grade level (Kincaid et al. 1975, as textstat computes it). A US school grade maps to a reading
#: age of about grade + 5 (grade 4 is read by 9-year-olds, grade 5 by 10-year-olds): at most 4.5 is a reading age
#: of about nine to ten, as NATCAN's patient reports aim for.
MOST_GRADE = 4.5
MACMILLAN = "0808 808 00 00"
TOO_FEW = PLAIN_MEANINGS["not_compared"]
BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "nav", "header", "footer", "section", "div", "ol", "ul"}


class _VisibleText(HTMLParser):
    """A page's visible text (no script, style or head), one unit per block: a heading, a list item, a paragraph."""

    def __init__(self) -> None:
        super().__init__()
        self.units: list[str] = [""]
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in {"script", "style", "head"}:
            self.skipping += 1
        if tag in BLOCKS:
            self.units.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "head"}:
            self.skipping -= 1
        if tag in BLOCKS:
            self.units.append("")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.units[-1] += data


def visible_text(html: str) -> str:
    """Every unit of text a reader sees, each ended as a sentence: a heading or a link on its own is read as one
    (a reader stops at it), so it is not run into the next sentence."""
    parser = _VisibleText()
    parser.feed(html)
    units = [re.sub(r"\s+", " ", unescape(unit)).strip() for unit in parser.units]
    return " ".join(unit if unit[-1] in ".!?:" else unit + "." for unit in units if unit)


def main_text(html: str) -> str:
    return visible_text(html[html.index("<main") : html.index("</main>")])


def reading_grade(html: str) -> float:
    """The Flesch-Kincaid grade of the page's visible text, header and footer too."""
    body = html[html.index("<body") :]
    return textstat.flesch_kincaid_grade(visible_text(body))


def test_the_readability_measure_tells_plain_words_from_the_trust_page(client, demo):
    """The measure can fail: the trust's own page, written for clinicians and managers, reads far above age nine."""
    trust = _trust_with(demo, lambda meanings: bool(meanings))
    assert reading_grade(client.get(reverse("trust", args=[trust])).content.decode()) > MOST_GRADE + 2
    assert reading_grade("<body><p>The cat sat on the mat. We could not say.</p></body>") <= MOST_GRADE


def _trust_with(demo, wanted) -> str:
    """A trust whose public results at the headline period have meanings ``wanted`` accepts (from the stored results,
    as the public sees them)."""
    from django.contrib.auth.models import AnonymousUser

    from dashboards import selectors

    for trust in Trust.objects.filter(active=True).order_by("code"):
        page = selectors.trust_page(AnonymousUser(), trust)
        meanings = {card.meaning for section in page.sections for card in section.piece.cards}
        if page.sections and wanted(meanings):
            return trust.code
    raise AssertionError("the demo releases have no such trust")


def test_a_trust_with_flags_reads_at_about_age_nine(client, demo):
    code = _trust_with(demo, lambda meanings: "worse" in meanings and "better" in meanings)
    html = client.get(reverse("trust-for-patients", args=[code])).content.decode()
    page = main_text(html)
    assert PLAIN_MEANINGS["worse"] in page and PLAIN_MEANINGS["better"] in page
    assert "Some results here were worse than expected." in page
    assert reading_grade(html) <= MOST_GRADE, (reading_grade(html), visible_text(html))


def test_a_trust_without_results_says_so_plainly_and_reads_at_about_age_nine(client, demo):
    alliance = Alliance.objects.order_by("code").first()
    Trust.objects.create(code="ZZZ99", name="Nowhere Hospitals NHS Trust", alliance=alliance, active=True)
    response = client.get(reverse("trust-for-patients", args=["ZZZ99"]))
    assert response.status_code == 200
    html = response.content.decode()
    page = main_text(html)
    assert "We have no results for this trust yet." in page
    assert "Where to get help" in page and MACMILLAN in page  # the help is there all the same
    assert reading_grade(html) <= MOST_GRADE, (reading_grade(html), visible_text(html))


def _headline(run, code: str) -> str:
    national = IndicatorResult.objects.filter(run=run, indicator=code, level="national")
    return max(national, key=lambda r: (r.period_end - r.period_start, r.period_end)).period


def test_a_hidden_result_says_too_few_patients_and_no_count_is_shown(client, demo):
    run = demo["runs"]["bowel"]
    hidden = next(
        r
        for r in IndicatorResult.objects.filter(run=run, level="provider", suppressed=True).order_by("pk")
        if r.period == _headline(run, r.indicator)
    )
    plain = next(d.plain for d in indicators_for("bowel") if d.code == hidden.indicator)
    url = reverse("trust-for-patients", args=[hidden.organisation])
    for user in (None, demo["analyst"]):  # the audit's analyst too reads the public words here
        client.logout()
        if user is not None:
            assert client.login(username=user.username, password=ANALYST_PASSWORD)
        html = client.get(url).content.decode()
        section = re.search(r'<section aria-labelledby="audit-bowel">.*?</section>', html, re.S).group(0)
        item = next(li for li in re.findall(r"<li>(.*?)</li>", section, re.S) if plain in unescape(li))
        assert TOO_FEW in unescape(item)
        # No count at all: the page's only figures are Macmillan's phone number.
        assert not re.search(r"\d", main_text(html).replace(MACMILLAN, "")), main_text(html)


def test_each_audit_says_what_it_measures_from_its_definition(client, demo):
    code = _trust_with(demo, lambda meanings: bool(meanings))
    page = main_text(client.get(reverse("trust-for-patients", args=[code])).content.decode())
    definitions = all_definitions()
    for audit in ("bowel", "lung"):  # the shipped files say it all in plain words
        assert definitions[audit].plain and all(indicator.plain for indicator in indicators_for(audit))
        assert f"{definitions[audit].name} ({definitions[audit].short_name})" in page
        assert definitions[audit].plain in page
        for indicator in indicators_for(audit):
            assert indicator.plain in page


def test_an_audit_without_plain_words_falls_back_to_its_description_and_titles():
    """A new audit's file without ``plain:`` words still gets a page: its description, and a sentence per title."""
    import yaml

    from audits.schema import parse_definition
    from indicators.definitions import parse_indicators

    raw = yaml.safe_load((DEFINITIONS / "bowel.yaml").read_text())
    raw.pop("plain")
    for entry in raw["indicators"]:
        entry.pop("plain")
    audit = parse_definition(raw, origin="bowel.yaml")
    assert not audit.plain
    assert what_audit_measures(audit) == audit.description
    first = parse_indicators(audit)[0]
    assert not first.plain
    assert what_indicator_measures(first, "ignored") == f"It looks at this: {first.title[0].lower()}{first.title[1:]}."
    assert what_indicator_measures(None, "Seen by a nurse.") == "It looks at this: seen by a nurse."
    assert what_audit_measures(replace(audit, description="")) == NO_WORDS


def test_every_meaning_of_the_trust_page_has_plain_words():
    assert set(PLAIN_MEANINGS) == set(text.MEANING_COLOURS)


def test_the_page_says_what_a_flag_does_and_does_not_mean_and_where_to_get_help(client, demo):
    code = _trust_with(demo, lambda meanings: bool(meanings))
    html = client.get(reverse("trust-for-patients", args=[code])).content.decode()
    page = main_text(html)
    assert "A flag is a sign to look closer. It is not proof that care is worse." in page
    assert "Chance alone gives some flags" in page
    assert "What a flag does not mean" in page
    for words in ("Your own care team.", "PALS at this trust.", "Macmillan Cancer Support.", MACMILLAN, "NHS website"):
        assert words in page
    assert 'href="tel:+448088080000"' in html
    assert 'href="https://www.nhs.uk/conditions/cancer/"' in html
    # Headings in order (one h1, then h2s and h3s) and lists, no tables.
    levels = [int(level) for level in re.findall(r"<h([1-6])", html[html.index("<main") :])]
    assert levels[0] == 1 and levels.count(1) == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))
    assert "<table" not in html


def test_the_trust_page_links_to_its_page_for_patients(client, demo):
    code = _trust_with(demo, lambda meanings: bool(meanings))
    html = client.get(reverse("trust", args=[code])).content.decode()
    link = f'<a href="{reverse("trust-for-patients", args=[code])}">For patients: this page in plain words</a>'
    assert link in html
    assert reverse("trust-for-patients", args=[code]) == f"/trusts/{code}/for-patients/"


def test_an_unknown_ods_code_is_not_found_and_a_lower_case_one_is_sent_on(client, demo):
    assert client.get(reverse("trust-for-patients", args=["NOSUCH"])).status_code == 404
    code = _trust_with(demo, lambda meanings: bool(meanings))
    response = client.get(reverse("trust-for-patients", args=[code.lower()]))
    assert response.status_code == 302 and response.url == reverse("trust-for-patients", args=[code])


def test_the_page_runs_a_bounded_number_of_queries_and_its_template_none(
    client, demo, django_assert_max_num_queries, monkeypatch
):
    from django.db import connection
    from django.template.backends.django import Template
    from django.test.utils import CaptureQueriesContext

    code = _trust_with(demo, lambda meanings: bool(meanings))
    url = reverse("trust-for-patients", args=[code])
    client.get(url)  # pieces decoded once by this process
    real, counts = Template.render, []

    def render(self, context=None, request=None):
        with CaptureQueriesContext(connection) as queries:
            html = real(self, context, request)
        counts.append((self.origin.name, len(queries)))
        return html

    monkeypatch.setattr(Template, "render", render)
    # the trust, the runs shown (with their releases and audits) and one read of the pieces
    with django_assert_max_num_queries(4):
        assert client.get(url).status_code == 200
    assert counts and all(n == 0 for _, n in counts), counts


@pytest.mark.parametrize(
    "meanings, summary",
    [
        (["as_expected", "worse", "better"], "Some results here were worse than expected."),
        (["as_expected", "better", "not_compared"], "Some results here were better than expected."),
        (["as_expected", "higher"], "Some results here were higher or lower than expected."),
        (["not_compared", "not_compared"], "There were too few patients here to say how this trust compares."),
        (["as_expected", "not_compared"], "No result here was better or worse than expected."),
    ],
)
def test_the_summary_says_whether_any_result_is_flagged_and_which_way(meanings, summary):
    from dashboards.pages.for_patients import PatientPage, PlainAudit, PlainResult

    results = tuple(PlainResult(code=f"i{n}", what="How many.", meaning=m) for n, m in enumerate(meanings))
    page = PatientPage(trust=None, audits=[PlainAudit("a", "A", "A", "It looks.", results)])
    assert page.summary.startswith(summary)
    assert PatientPage(trust=None).summary == ""


def test_the_busiest_bowel_trust_is_compared_on_lung_indicators_too(client, demo):
    """A trust's size is the trust's in every audit (audits/demo/engine.py): the busiest bowel trust is not one
    with too few lung patients to compare on every lung indicator, as it was when each audit drew its own sizes."""
    bowel = demo["runs"]["bowel"]
    patients = IndicatorResult.objects.filter(
        run=bowel, level="provider", indicator="mdt_discussed", period=_headline(bowel, "mdt_discussed")
    )
    busiest = max(patients, key=lambda r: r.denominator).organisation
    html = client.get(reverse("trust-for-patients", args=[busiest])).content.decode()
    section = re.search(r'<section aria-labelledby="audit-lung">.*?</section>', html, re.S).group(0)
    items = [unescape(li) for li in re.findall(r"<li>(.*?)</li>", section, re.S)]
    assert items and sum(TOO_FEW in item for item in items) < len(items) / 2, items
