"""Headless Chromium (Debian's package, driven by Playwright's sync API) against a live server.

The server is Django's live-server thread without its static-files handler, so WhiteNoise serves
the collected, hashed and compressed files as in production (`make test` runs collectstatic first).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; the tests' own ORM reads are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.dashboards import data  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# `make screenshots` refreshes the committed copies in docs/screenshots; ordinary runs write to var/.
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "var" / "test" / "screenshots")
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# What each drawn chart was configured with (Plotly keeps the configuration it drew with as gd._context), and
# the titles of its modebar buttons, which Plotly puts in the page when it draws (shown on hover).
CHARTS_AS_DRAWN = """() => {
    const keys = ['displaylogo', 'showSendToCloud', 'plotlyServerURL', 'modeBarButtonsToRemove'];
    const pick = config => Object.fromEntries(keys.map(key => [key, config[key]]));
    return {
        shared: window.cancerplanCharts && pick(window.cancerplanCharts.config),
        charts: [...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
            id: gd.id,
            context: pick(gd._context),
            buttons: [...gd.querySelectorAll('.modebar-btn')].map(b => b.getAttribute('data-title') || b.className),
        })),
    };
}"""


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium package is needed (.ci/run installs it: apt-get install chromium)"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker):
    """Bowel and lung releases, computed, served on a live server; removed afterwards."""
    from django.conf import settings
    from django.test.testcases import LiveServerThread

    from dashboards.services import build_run_pages

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    assert manifest.exists(), "run collectstatic first (make test does)"
    with django_db_blocker.unblock():
        loaded = data.load({"bowel": 20_000, "lung": 12_000})
        for run in loaded["runs"].values():
            build_run_pages(run)
    server = LiveServerThread("localhost", static_handler=lambda app: app, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    loaded["url"] = f"http://localhost:{server.port}"
    yield loaded
    server.terminate()
    with django_db_blocker.unblock():
        data.clear()


class Tab:
    """A page that records console errors and failed requests, so each test can assert there were none."""

    def __init__(self, context, base_url: str):
        self.context = context
        self.page = context.new_page()
        self.base_url = base_url
        self.errors: list[str] = []
        self.db_blocker: Any = None  # the tab fixture's django_db_blocker, for sign_in()
        self.page.on(
            "console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("response", lambda r: self.errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
        # A page, its charts included, talks to this site only (no CDN, no Plotly cloud).
        self.page.on("request", self._only_this_site)

    def _only_this_site(self, request) -> None:
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and not request.url.startswith(self.base_url):
            self.errors.append(f"request to another site: {request.method} {request.url}")

    def open(self, path: str):
        response = self.page.goto(self.base_url + path)
        assert response.status == 200, (path, response.status)
        return self.page

    def wait_for_charts(self, count: int | None = None) -> None:
        self.page.wait_for_function(
            "n => { const c = document.querySelectorAll('.chart[data-figure]');"
            " const d = document.querySelectorAll('.chart[data-drawn=true] .main-svg');"
            " return c.length > 0 && d.length >= (n || c.length); }",
            arg=count,
            timeout=15_000,
        )
        self.assert_charts_send_nothing()

    def assert_charts_send_nothing(self) -> None:
        """Every Plotly chart on the page was drawn with the one shared configuration (static/dashboards/
        dashboards.js): no "Share chart" or other cloud or Chart Studio button, nowhere to send to, no logo
        link; the PNG download is there."""
        found = self.page.evaluate(CHARTS_AS_DRAWN)
        assert found["charts"], "no Plotly chart on the page"
        for chart in found["charts"]:
            assert chart["buttons"], (chart["id"], "no modebar")
            sending = [b for b in chart["buttons"] if re.search(r"cloud|share|studio|edit in|plotly", b, re.I)]
            assert sending == [], (chart["id"], sending)
            assert "Download plot as a PNG" in chart["buttons"], (chart["id"], chart["buttons"])
            drawn_with = chart["context"]
            assert drawn_with["showSendToCloud"] is False and drawn_with["displaylogo"] is False, (
                chart["id"],
                drawn_with,
            )
            assert drawn_with["plotlyServerURL"] == "", (chart["id"], drawn_with)  # nowhere to send to
            assert drawn_with == found["shared"], (chart["id"], drawn_with, found["shared"])

    def axe(self) -> list[dict]:
        """Serious or critical accessibility violations (axe-core, WCAG 2.x A/AA and best practice)."""
        # Evaluated by the browser's devtools, not as a <script> of the page: the page's Content-Security-Policy
        # (rightly) refuses inline script, which is what add_script_tag would insert.
        self.page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
        result = self.page.evaluate(
            "async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
            "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})).violations"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
        )
        return [v for v in result if v["impact"] in ("serious", "critical")]

    def screenshot(self, name: str, full_page: bool = True, max_height: int = 2400) -> Path:
        """docs/screenshots/<name>.png: the page from the top (long pages cut at ``max_height`` pixels)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        if full_page:
            size = self.page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            self.page.screenshot(
                path=str(path),
                full_page=True,
                clip={"x": 0, "y": 0, "width": size[0], "height": min(size[1], max_height)},
            )
        else:
            self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def tab(browser, site, django_db_blocker):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    opened = Tab(context, site["url"])
    opened.db_blocker = django_db_blocker
    yield opened
    context.close()
    assert opened.errors == []


def next_code(device: Any) -> str:
    """A code the device accepts now: the newest step its window allows (a step's code is good once, and two
    sign-ins may fall within one 30-second step; django-otp accepts one step either side of its clock)."""
    import time

    from django_otp.oath import totp

    now = int((time.time() - device.t0) // device.step)
    step = max(now + device.drift + 1, device.last_t + 1)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, step - now):0{device.digits}d}"


def sign_in(tab: Tab, username: str) -> None:
    """The password, then (analysts and staff, DEBUG off) the one-time code: from the key the enrolment page
    shows the first time, from the enrolled device afterwards. The server writes the device, not this test
    (the test's own transaction would hide or lock it)."""
    from base64 import b32decode

    from django.contrib.auth.models import User
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    with tab.db_blocker.unblock():
        needs_code = User.objects.get(username=username).groups.filter(name__startswith="analysts:").exists()
    page = tab.open("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", data.ANALYST_PASSWORD)
    page.click("main button[type=submit]")
    if needs_code:
        page.wait_for_url("**/accounts/two-factor/**")
        if page.locator("#otp-secret").count():
            assert page.locator(".otp-qr svg").count() == 1
            key = b32decode(page.locator("#otp-secret").inner_text().replace(" ", ""))
            page.fill("#id_token", f"{totp(key):06d}")
            page.get_by_role("button", name="Confirm and continue").click()
        else:
            with tab.db_blocker.unblock():
                device = TOTPDevice.objects.get(user__username=username, confirmed=True)
            page.fill("#id_token", next_code(device))
            page.get_by_role("button", name="Continue").click()
    page.wait_for_url(tab.base_url + "/")
