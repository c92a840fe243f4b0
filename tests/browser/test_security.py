"""The Content-Security-Policy and two-factor sign-in in a real browser: the API's documentation pages
still work under the policy, and an analyst enrols an authenticator app, then signs in with its code.

Every page the browser tests open is checked for CSP violations: Chromium reports each as a console
error, which the tab fails on. This module serves an almost empty site (an audit and one analyst).
"""

from __future__ import annotations

from base64 import b32decode

import pytest

from tests.browser.conftest import Tab
from tests.dashboards import data

pytestmark = [pytest.mark.browser, pytest.mark.django_db]
ANALYST = "sec-analyst"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    from django.contrib.auth.models import Group, User
    from django.test.testcases import LiveServerThread

    from audits.registry import get_definition
    from audits.services import sync_audit

    with django_db_blocker.unblock():
        sync_audit(get_definition("bowel"))
        user = User.objects.create_user(ANALYST, password=data.ANALYST_PASSWORD)
        user.groups.add(Group.objects.get(name="analysts:bowel"))
    thread = LiveServerThread("localhost", static_handler=lambda app: app, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://localhost:{thread.port}"
    thread.terminate()
    with django_db_blocker.unblock():
        data.clear()


@pytest.fixture
def tab(browser, server, django_db_blocker):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    opened = Tab(context, server)
    opened.db_blocker = django_db_blocker
    yield opened
    context.close()
    assert opened.errors == []


def test_the_swagger_ui_page_draws_under_the_policy(tab):
    page = tab.open("/api/v1/docs/")
    page.wait_for_selector("#swagger-ui .opblock-tag", timeout=15_000)
    assert "Cancer audit dashboards API" in page.locator("#swagger-ui .title").inner_text()
    assert page.locator("#swagger-ui .opblock-tag").count() >= 5


def test_the_redoc_page_draws_under_the_policy(tab):
    page = tab.open("/api/v1/redoc/")
    page.wait_for_selector("h1", timeout=15_000)
    assert "Cancer audit dashboards API" in page.locator("h1").first.inner_text()
    assert page.locator("[role=menuitem]").count() >= 5 or page.locator("li[data-item-id]").count() >= 5
    # ReDoc shows Redocly's logo from Redocly's site: the policy blocks it, and nothing else.
    blocked = [e for e in tab.errors if "cdn.redoc.ly" in e]
    assert any("Content Security Policy" in e for e in blocked), tab.errors
    tab.errors = [e for e in tab.errors if e not in blocked]


def test_an_analyst_enrols_an_authenticator_app_then_signs_in_with_its_code(tab):
    from django_otp.oath import totp

    page = tab.open("/accounts/login/?next=/audits/bowel/releases/")
    page.fill("#id_username", ANALYST)
    page.fill("#id_password", data.ANALYST_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/two-factor/?next=%2Faudits%2Fbowel%2Freleases%2F")
    assert page.locator("h1").inner_text() == "Set up two-factor sign-in"
    assert page.locator(".otp-qr svg path").count() == 1  # the QR code, drawn inline (no script, no style)
    assert tab.axe() == []
    tab.screenshot("two-factor-enrolment", full_page=False)
    key = b32decode(page.locator("#otp-secret").inner_text().replace(" ", ""))
    page.fill("#id_token", f"{totp(key):06d}")
    page.get_by_role("button", name="Confirm and continue").click()
    page.wait_for_url("**/audits/bowel/releases/")
    assert page.locator("h1").count() == 1
    # Signed out and in again: the app is enrolled, so the page asks for its code only. (The code just used
    # is spent; the next 30-second step's code is accepted too, as phones' clocks drift.)
    page.get_by_role("button", name="Sign out").click()
    page = tab.open("/accounts/login/")
    page.fill("#id_username", ANALYST)
    page.fill("#id_password", data.ANALYST_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/two-factor/**")
    assert page.locator("h1").inner_text() == "Your one-time code" and page.locator(".otp-qr").count() == 0
    assert tab.axe() == []
    page.fill("#id_token", f"{totp(key, drift=1):06d}")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(tab.base_url + "/")
