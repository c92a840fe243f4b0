"""The outlier loop in a real browser (issue 13, "done means"): the audit team shares an alarm with the trust,
the trust's lead reads its patient rows and answers with a file, the alliance's lead follows the case, the
audit team decides, confirms and publishes the trust's response, and the public reads it on the trust's page.
Each page is keyboard-usable and axe-core finds no serious or critical violation on it."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Tab, sign_in
from tests.dashboards import data

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

RESPONSE = "The trust reviewed every patient with the audit team; an unusual case mix explains part of the difference."


@pytest.fixture(scope="module")
def loop(site, django_db_blocker):
    """An alarm case of the site's releases (opened by their runs), the trust's lead and the alliance's lead."""
    from django.contrib.auth.models import User

    from accounts.models import AllianceLead, TrustLead
    from audits.models import Trust
    from outliers.models import OutlierCase

    with django_db_blocker.unblock():
        case = OutlierCase.objects.filter(track="alarm_worse").order_by("pk").first()
        assert case is not None, set(OutlierCase.objects.values_list("audit_id", "track", "level", "direction"))
        trust = Trust.objects.get(code=case.organisation)
        lead = User.objects.create_user("loop-lead", password=data.ANALYST_PASSWORD)
        TrustLead.objects.create(user=lead, trust=trust, audit_id=case.audit_id)
        alliance = User.objects.create_user("loop-alliance", password=data.ANALYST_PASSWORD)
        AllianceLead.objects.create(user=alliance, alliance=trust.alliance)
    return {"case": case.pk, "audit": case.audit_id, "trust": trust.code}


def tab_for(browser, site, django_db_blocker, username: str | None) -> Tab:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    tab = Tab(context, site["url"])
    tab.db_blocker = django_db_blocker
    if username:
        sign_in(tab, username)
    return tab


def record(tab: Tab, case: int, outcome: str, note: str = "", attachment: dict | None = None) -> None:
    """Choose an outcome on the case page with the keyboard, write a note, attach a file, submit."""
    page = tab.open(f"/outliers/{case}/")
    choice = page.locator(f"input[name=outcome][value={outcome}]")
    choice.focus()
    page.keyboard.press("Space")
    assert choice.is_checked()
    if note:
        page.get_by_label("Note").fill(note)
    if attachment:
        page.get_by_label("Attach a file (optional)").set_input_files(attachment)
    page.get_by_role("button", name="Record the outcome").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/outliers/{case}/")
    assert "Recorded" in page.locator(".messages").inner_text()


def open_case_from_the_list(tab: Tab, case: int):
    page = tab.open("/")
    page.get_by_role("link", name="Outlier cases").click()
    page.wait_for_url("**/outliers/")
    assert tab.axe() == []
    page.locator(f"a[href='/outliers/{case}/']").click()
    page.wait_for_url(f"**/outliers/{case}/")
    return page


def test_the_loop_as_the_audit_team_the_trust_lead_and_the_alliance_lead(browser, site, loop, django_db_blocker):
    case = loop["case"]
    team = tab_for(browser, site, django_db_blocker, "dash-analyst")
    lead = tab_for(browser, site, django_db_blocker, "loop-lead")
    alliance = tab_for(browser, site, django_db_blocker, "loop-alliance")
    public = tab_for(browser, site, django_db_blocker, None)
    tabs = [team, lead, alliance, public]
    try:
        # The audit team checks its data and shares the case with the trust.
        page = open_case_from_the_list(team, case)
        assert "Exact figures" in page.content()
        assert team.axe() == []
        record(team, case, "share_with_trust", "Our data and analysis checked: the flag stands.")

        # The trust's lead finds the case, reads its trust's patient rows, and answers with a file.
        page = open_case_from_the_list(lead, case)
        assert "The trust's clinical lead" in page.locator("dl").first.inner_text()
        page.get_by_role("link", name="Patient rows of this trust (release 1)").click()
        page.wait_for_url(f"**/outliers/{case}/patient-rows/")
        assert page.locator("#patient-rows tbody tr").count() > 0
        assert lead.axe() == []
        record(
            lead,
            case,
            "explanation",
            "An unusual case mix: two new surgeons took the most complex patients.",
            {"name": "trust-response.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 our response"},
        )

        # The alliance's lead follows the case: the published figures, the history, no form.
        page = open_case_from_the_list(alliance, case)
        assert "As published" in page.content() and page.locator("form[action$='/outcome/']").count() == 0
        assert "An unusual case mix" in page.locator("#case-history").inner_text()
        assert alliance.axe() == []

        # The audit team decides, confirms, records the acknowledgement, and publishes the response.
        record(team, case, "confirmed", "Confirmed: the explanation accounts for part of the difference.")
        record(team, case, "confirmed_in_writing")
        record(lead, case, "acknowledged", "The chief executive acknowledged in writing.")
        page = team.open(f"/outliers/{case}/")
        assert "trust-response.pdf" in page.locator("#case-history").inner_text()
        page.get_by_label("Response to publish").fill(RESPONSE)
        page.get_by_role("button", name="Publish this response").click()
        page.wait_for_load_state()
        assert "The response is published" in page.locator(".messages").inner_text()
        assert RESPONSE not in public.open(f"/trusts/{loop['trust']}/").content()  # not before the case closes
        record(team, case, "published")

        # The public reads the review and the trust's response beside the trust's results.
        page = public.open(f"/trusts/{loop['trust']}/")
        reviewed = page.locator(f"[aria-labelledby=reviewed-{loop['audit']}]")
        assert "this result was reviewed with the trust" in reviewed.inner_text()
        assert RESPONSE in reviewed.inner_text()
        assert public.axe() == []
        assert "Closed" in team.open(f"/outliers/{case}/").locator("dl").first.inner_text()
    finally:
        for tab in tabs:
            tab.context.close()
    for tab in tabs:
        assert tab.errors == [], tab.errors
