"""Headless Chromium (Debian's package, driven by Playwright's sync API) against a live server.

The server is Django's live-server thread without its static-files handler, so WhiteNoise serves
the collected, hashed and compressed files as in production (`make test` runs collectstatic first).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
        self.page.on(
            "console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("response", lambda r: self.errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)

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

    def axe(self) -> list[dict]:
        """Serious or critical accessibility violations (axe-core, WCAG 2.x A/AA and best practice)."""
        self.page.add_script_tag(path=str(AXE))
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
def tab(browser, site):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    opened = Tab(context, site["url"])
    yield opened
    context.close()
    assert opened.errors == []


def sign_in(tab: Tab, username: str) -> None:
    page = tab.open("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", data.ANALYST_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(tab.base_url + "/")
