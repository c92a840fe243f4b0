"""The page for patients (issue 14, item 7) in a real browser: reached from the trust's page by keyboard, no serious
or critical accessibility violation, and on paper without the site's chrome and with each link's address."""

from __future__ import annotations

import pytest

from tests.browser.test_layout import presses_to
from tests.browser.test_pages import busiest_trust

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

AFTER = "s => getComputedStyle(document.querySelector(s), '::after').content"


def test_the_page_for_patients_is_reached_by_keyboard_reads_without_barriers_and_prints(tab, site, django_db_blocker):
    code, name, _ = busiest_trust(django_db_blocker, site["runs"]["bowel"])
    page = tab.open(f"/trusts/{code}/")
    link = 'a[href$="/for-patients/"]'
    presses_to(page, link)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/trusts/{code}/for-patients/")
    assert page.locator("h1").inner_text() == f"{name}: for patients"
    assert page.locator("h3").count() == 2  # one per audit with results
    assert tab.axe() == []
    presses_to(page, 'a[href^="tel:"]')  # the help is reached by keyboard too
    tab.screenshot("for-patients")

    assert "macmillan.org.uk" not in page.evaluate(AFTER, '.plain-words a[href^="https://www.macmillan"]')
    page.emulate_media(media="print")
    assert page.locator(".site-footer").is_hidden() and page.locator("[data-print]").is_hidden()
    assert "https://www.macmillan.org.uk/" in page.evaluate(AFTER, '.plain-words a[href^="https://www.macmillan"]')
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="screen")
