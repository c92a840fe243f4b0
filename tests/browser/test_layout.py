"""Pages that work everywhere (issue 12, item 7): on a phone's 390 px nothing is wider than the screen (wide tables
scroll in their own focusable, labelled region); printed, charts fit the paper and draw over nothing, tables are
not cut off and the site's navigation is left out; Tab reaches a trust's row without passing each chart's
toolbar, and a link skips each chart; on a touch screen the first tap on a funnel point shows its numbers and the
second opens its trust.

Before this change (same data): at 390 px the alliance page was 471 px wide, a risk-adjusted indicator page
577 px and a trend page 420 px; Tab reached the first trust row of an indicator page in 19 presses, 6 of them on
the funnel's toolbar; a tap on a funnel point opened the trust at once."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Tab
from tests.browser.test_pages import busiest_trust

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

PHONE = {"width": 390, "height": 844}
# The printable width of A4 portrait with Chromium's default 10 mm margins: 190 mm at 96 px per inch.
PAPER_WIDTH = 718
MOST_TAB_PRESSES = 15


def pages(site, django_db_blocker) -> dict[str, str]:
    """One of each page type with charts or wide tables: the risk-adjusted indicator has the most columns."""
    code, _, alliance = busiest_trust(django_db_blocker, site["runs"]["bowel"])
    return {
        "trust": f"/trusts/{code}/",
        "alliance": f"/alliances/{alliance}/",
        "indicator": "/audits/bowel/indicators/early_stage/",
        "risk-adjusted indicator": f"/audits/lung/indicators/mortality_1y/?highlight={code}",
        "trend": f"/trusts/{code}/trends/bowel/early_stage/",
    }


def open_drawn(tab: Tab, path: str):
    page = tab.open(path)
    if page.locator(".chart[data-figure]").count():
        tab.wait_for_charts()
    return page


# Tables wider than their box, and whether that box is a region a keyboard can scroll (WCAG 2.1.1, axe's
# scrollable-region-focusable) and a screen reader can name.
WIDE_TABLES = """() => [...document.querySelectorAll('main table')].filter(t => t.offsetParent !== null).map(t => {
    const box = t.closest('.table-scroll');
    return {table: t.id || t.caption.textContent.slice(0, 40), wider: t.offsetWidth > t.parentElement.clientWidth,
            region: !!box && box.getAttribute('role') === 'region' && box.tabIndex === 0
                    && !!(box.getAttribute('aria-label') || box.getAttribute('aria-labelledby'))};
}).filter(t => t.wider)"""


def test_no_page_is_wider_than_a_phone(tab, site, django_db_blocker):
    tab.page.set_viewport_size(PHONE)
    widths = {}
    for name, path in pages(site, django_db_blocker).items():
        page = open_drawn(tab, path)
        widths[name] = page.evaluate("document.documentElement.scrollWidth")
        assert [t for t in page.evaluate(WIDE_TABLES) if not t["region"]] == [], name
        charts = page.evaluate(
            "[...document.querySelectorAll('.main-svg')].map(svg => svg.getBoundingClientRect().right)"
        )
        assert all(right <= PHONE["width"] for right in charts), (name, charts)
    print(f"\npage widths at {PHONE['width']} px: {widths}")
    assert all(width <= PHONE["width"] for width in widths.values()), widths
    assert tab.axe() == []  # the last page, its regions included


# In print: each chart's drawn layers, against the page's width, its figure and what is printed after the drawing
# (its caption) and after the figure; each table, against the page's width and the box it sits in; the site's
# navigation and the page's controls, which are not printed.
PRINTED = """() => {
    const box = e => e.getBoundingClientRect();
    const printed = e => e.offsetParent !== null && getComputedStyle(e).display !== 'none';
    const nextPrinted = e => { let n = e.nextElementSibling; while (n && !printed(n)) n = n.nextElementSibling;
                               return n ? box(n).top : Infinity; };
    const charts = [...document.querySelectorAll('.js-plotly-plot')].map(gd => {
        const layers = [...gd.querySelectorAll('.main-svg')].map(box);
        const figure = gd.closest('figure');
        return {id: gd.id, right: Math.max(...layers.map(b => b.right)), bottom: Math.max(...layers.map(b => b.bottom)),
                below: Math.min(box(figure).bottom, nextPrinted(gd), nextPrinted(figure))};
    });
    const tables = [...document.querySelectorAll('main table')].filter(printed).map(t => ({
        table: t.id || t.caption.textContent.slice(0, 40), right: box(t).right,
        hidden: t.parentElement.scrollWidth - t.parentElement.clientWidth}));
    const chrome = ['.site-nav', '.breadcrumb', '.periods', '.skip-link', '.skip-chart', '.modebar-container',
                    '.actions'].filter(s => [...document.querySelectorAll(s)].some(printed));
    return {width: box(document.documentElement).right, charts, tables, chrome};
}"""


def assert_printed_whole(page, name: str) -> None:
    printed = page.evaluate(PRINTED)
    assert printed["chrome"] == [], (name, printed["chrome"])
    for chart in printed["charts"]:
        assert chart["right"] <= printed["width"] + 0.5 and chart["bottom"] <= chart["below"] + 0.5, (name, chart)
    assert printed["tables"], name
    for table in printed["tables"]:
        assert table["right"] <= printed["width"] + 0.5 and table["hidden"] <= 1, (name, table)


def test_printed_pages_fit_the_paper_and_nothing_is_drawn_over(tab, site, django_db_blocker):
    """Printed on A4's width twice: the charts drawn for a 1366 px screen with no chance to draw them again (they
    scale to the paper), and from a window as wide as the paper (the page's narrow layout, charts drawn to fit)."""
    for name, path in pages(site, django_db_blocker).items():
        page = open_drawn(tab, path)
        page.emulate_media(media="print")
        page.evaluate(f"document.documentElement.style.width = '{PAPER_WIDTH}px'")
        assert_printed_whole(page, name)
        if name == "risk-adjusted indicator":
            tab.screenshot("indicator-page-print", max_height=6000)
        page.evaluate("document.documentElement.style.width = ''")
        page.emulate_media(media="screen")
    tab.page.set_viewport_size({"width": PAPER_WIDTH, "height": 1000})
    for name, path in pages(site, django_db_blocker).items():
        page = open_drawn(tab, path)
        page.emulate_media(media="print")
        assert_printed_whole(page, name)
        page.emulate_media(media="screen")


FOCUSED = """() => { const e = document.activeElement;
    return {inChart: !!e.closest('.js-plotly-plot'), skip: e.classList.contains('skip-chart'),
            text: (e.getAttribute('aria-label') || e.textContent).trim().slice(0, 40)}; }"""


def presses_to(page, selector: str, limit: int = 80) -> tuple[int, list[dict]]:
    """Tab presses from the top of the page until the focus is on ``selector``, and where each one landed."""
    page.evaluate("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur()")
    landed = []
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        landed.append(page.evaluate(FOCUSED))
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return presses, landed
    raise AssertionError(f"{selector} not reached in {limit} presses: {landed}")


def test_tab_reaches_a_trusts_row_without_passing_the_chart_toolbars(tab, site, django_db_blocker):
    paths = pages(site, django_db_blocker)
    counts, header_links = {}, 0
    for name, selector in (
        ("indicator", "#table-trusts tbody a"),
        ("alliance", ".grid-table tbody a"),
        ("trust", ".overview tbody a"),
    ):
        page = open_drawn(tab, paths[name])
        counts[name], landed = presses_to(page, selector)
        assert not any(stop["inChart"] for stop in landed), (name, landed)
        if name == "alliance":  # its grid has a link to each indicator in the header row, before the trusts' rows
            header_links = page.locator(".grid-table").first.locator("thead a").count()
    print(f"\nTab presses to the first trust row: {counts}")
    assert counts["indicator"] <= MOST_TAB_PRESSES and counts["trust"] <= MOST_TAB_PRESSES, counts
    assert counts["alliance"] - header_links <= MOST_TAB_PRESSES, (counts, header_links)

    # The link past the funnel: shown when it has the focus, it moves the focus to the table.
    page = open_drawn(tab, paths["indicator"])
    skip = page.locator("#funnel-trusts").locator("xpath=..").locator(".skip-chart")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    while not page.evaluate("document.activeElement.classList.contains('skip-chart')"):
        page.keyboard.press("Tab")
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["height"] >= 24 and box["width"] >= 24  # WCAG 2.2 target size (2.5.8)
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "trusts-table"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.matches('#table-trusts tbody a')")

    # The toolbar stays for a mouse, out of the tab order after every drawing: a chart drawn again with another
    # figure (the alliance page's indicator switch), and one resized.
    page = open_drawn(tab, paths["alliance"])
    select = page.locator("#choose-bowel")
    select.select_option(select.locator("option").last.get_attribute("value"))
    page.wait_for_function("() => document.getElementById('funnel-bowel').data.some(t => t.name.startsWith('High'))")
    page.set_viewport_size({"width": 900, "height": 768})
    page.wait_for_timeout(500)  # Plotly redraws a resized chart after a short pause
    buttons = page.evaluate("[...document.querySelectorAll('.modebar-btn')].map(b => b.tabIndex)")
    assert buttons and set(buttons) == {-1}, buttons
    # and each drawn layer's viewBox (for print) is still its own size: on screen it changes nothing
    layers = page.evaluate(
        "[...document.querySelectorAll('.main-svg')].map(svg => [svg.getAttribute('viewBox'),"
        " `0 0 ${svg.getAttribute('width')} ${svg.getAttribute('height')}`])"
    )
    assert layers and all(view_box == size for view_box, size in layers), layers


# The point with the most patients on a funnel: its code and where it is on the screen.
LARGEST_POINT = """id => {
    const gd = document.getElementById(id);
    gd.scrollIntoView({block: 'center'});
    let best = null;
    gd.data.forEach((trace, t) => { if (trace.mode !== 'markers' || !trace.customdata) return;
        trace.x.forEach((x, i) => { if (!best || x > best.x) best = {x, t, i, code: trace.customdata[i][0]}; }); });
    const point = gd.querySelectorAll('.scatterlayer .trace')[best.t].querySelectorAll('.point')[best.i];
    const box = point.getBoundingClientRect();
    return {code: best.code, x: box.x + box.width / 2, y: box.y + box.height / 2}; }"""


def test_a_chart_drawn_again_still_opens_its_points(tab, site, django_db_blocker):
    """The alliance page draws its funnel again for another indicator; Plotly drops a chart's listeners when it
    draws, and the click that opens a point used to go with them."""
    page = open_drawn(tab, pages(site, django_db_blocker)["alliance"])
    select = page.locator("#choose-bowel")
    select.select_option(select.locator("option").last.get_attribute("value"))
    page.wait_for_function("() => document.getElementById('funnel-bowel').data.some(t => t.name.startsWith('High'))")
    point = page.evaluate(LARGEST_POINT, "funnel-bowel")
    page.mouse.move(point["x"], point["y"])
    page.wait_for_selector("#funnel-bowel .hoverlayer .hovertext")
    page.mouse.click(point["x"], point["y"])
    page.wait_for_url(f"**/alliances/{point['code']}/")


def test_a_tap_on_a_funnel_point_shows_its_numbers_and_a_second_opens_its_trust(browser, site):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    phone = Tab(context, site["url"])
    try:
        path = "/audits/bowel/indicators/early_stage/"
        page = phone.open(path)
        phone.wait_for_charts()
        point = page.evaluate(LARGEST_POINT, "funnel-trusts")
        page.touchscreen.tap(point["x"], point["y"])
        page.wait_for_selector("#funnel-trusts .hoverlayer .hovertext")
        shown = page.locator("#funnel-trusts .hoverlayer").text_content()
        assert point["code"] in shown and "95% interval" in shown and "patients" in shown
        page.wait_for_timeout(500)  # a navigation would have begun by now
        assert page.url == site["url"] + path
        page.touchscreen.tap(point["x"], point["y"])
        page.wait_for_url(f"**/trusts/{point['code']}/")
    finally:
        context.close()
    assert phone.errors == []
