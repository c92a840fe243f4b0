"""Board-ready outputs (issue 13, item 7): a chart's PNG carries its title and its source (audit, release, date),
from a "Download ... (PNG)" button a keyboard reaches; the print-ready packs of a trust and an alliance fit A4
with nothing cut off or drawn over, and print to PDF; "where to act first" reads without barriers."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_layout import PAPER_WIDTH, assert_printed_whole, open_drawn, presses_to
from tests.browser.test_pages import busiest_trust, db

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

# What each image download asked Plotly to draw: the figure's title and its notes (the page's chart is not changed).
WATCH_IMAGES = """() => {
    window.imagesAsked = [];
    const toImage = window.Plotly.toImage;
    window.Plotly.toImage = function (figure, options) {
        window.imagesAsked.push({title: figure.layout && figure.layout.title && figure.layout.title.text,
                                 notes: ((figure.layout && figure.layout.annotations) || []).map(a => a.text),
                                 pageTitle: document.getElementById('funnel-trusts').layout.title || null});
        return toImage.apply(this, arguments);
    };
}"""


def release_words(django_db_blocker, run) -> str:
    def find():
        release = run.release
        return (
            f"Source: {release.audit.short_name}, release {release.version}, "
            f"extract of {release.extract_date.strftime('%-d %B %Y')}"
        )

    return db(django_db_blocker, find)


def test_a_png_download_has_its_title_and_source_and_a_keyboard_reaches_it(tab, site, django_db_blocker):
    page = open_drawn(tab, "/audits/bowel/indicators/early_stage/")
    chart = page.locator("#funnel-trusts")
    # The modebar's own download is named after the chart too.
    assert page.evaluate("document.getElementById('funnel-trusts')._context.toImageButtonOptions.filename") == (
        chart.get_attribute("data-filename")
    )
    page.evaluate(WATCH_IMAGES)
    button = 'button[data-png="funnel-trusts"]'
    presses, _ = presses_to(page, button, limit=120)
    assert presses <= 120
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    saved = download.value
    assert saved.suggested_filename == "bowel-early_stage-trusts-funnel.png"
    with open(saved.path(), "rb") as image:
        assert image.read(8) == b"\x89PNG\r\n\x1a\n"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    saved.save_as(SCREENSHOTS / "chart-download.png")  # to look at
    (asked,) = page.evaluate("window.imagesAsked")
    assert asked["title"] == chart.get_attribute("data-chart-title")
    assert "NHS trusts against England" in asked["title"]
    assert asked["notes"][-1] == release_words(django_db_blocker, site["runs"]["bowel"])
    assert asked["pageTitle"] is None  # the chart on the page keeps its own layout


def test_the_alliance_funnel_switched_to_another_indicator_is_titled_after_it(tab, site, django_db_blocker):
    _, _, alliance = busiest_trust(django_db_blocker, site["runs"]["bowel"])
    page = open_drawn(tab, f"/alliances/{alliance}/")
    select = page.locator("#choose-bowel")
    second = select.locator("option").nth(1)
    select.select_option(second.get_attribute("value"))
    page.wait_for_function("document.querySelector('#funnel-bowel[data-drawn=true] .main-svg') !== null")
    assert page.locator("#funnel-bowel").get_attribute("data-chart-title") == second.get_attribute("data-chart-title")
    assert page.locator("#funnel-bowel").get_attribute("data-source") == db(
        django_db_blocker, lambda: site["runs"]["bowel"].release.audit.short_name
    )


def test_the_print_ready_packs_fit_the_paper_and_print_to_pdf(tab, site, django_db_blocker):
    code, _, alliance = busiest_trust(django_db_blocker, site["runs"]["bowel"])
    packs = {"trust": f"/trusts/{code}/print/", "alliance": f"/alliances/{alliance}/print/"}
    tab.page.set_viewport_size({"width": PAPER_WIDTH, "height": 1000})
    for name, path in packs.items():
        page = open_drawn(tab, path)
        if name == "alliance":  # every funnel of every audit is drawn, each with its words
            figures = page.locator(".chart[data-figure]").count()
            assert figures == page.locator("figure.chart-figure figcaption .chart-summary").count() > 2
            assert page.locator("#act-first tbody tr").count() > 0
        page.emulate_media(media="print")
        assert_printed_whole(page, name)
        assert page.locator(".print-pack-bar").is_hidden()
        pdf = page.pdf(format="A4", print_background=True)
        assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") > 1, name
        page.emulate_media(media="screen")
    assert tab.axe() == []  # the alliance pack on screen


def test_where_to_act_first_reads_without_barriers(tab, site, django_db_blocker):
    _, _, alliance = busiest_trust(django_db_blocker, site["runs"]["bowel"])
    page = tab.open(f"/alliances/{alliance}/")
    page.get_by_role("link", name="Where to act first").click()
    page.wait_for_url(f"**/alliances/{alliance}/act-first/")
    assert page.locator("h1").inner_text().startswith("Where to act first")
    assert page.locator("#act-first tbody tr").count() > 0
    assert page.locator("#in-words ~ section h3").count() == page.locator("#act-first tbody tr").count()
    assert tab.axe() == []
