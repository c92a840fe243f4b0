"""A Content-Security-Policy on every page: scripts from this site's static files only, never inline.

Every page type is fetched and its policy and HTML checked: each <script> either has a src on this site
or is data (type="application/json", which the browser never runs); no element has an on* event
handler; no link, form or frame leads to javascript:. The templates are checked the same way, so a
page no test opens cannot slip an inline script in. (tests/browser/ checks the policy in Chromium:
a violation is a console error there.)
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from indicators.models import IndicatorResult
from tests.dashboards.data import ANALYST_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
POLICY = "Content-Security-Policy"


class Scripts(HTMLParser):
    """What in a page could run: inline scripts, event-handler attributes, javascript: addresses."""

    def __init__(self, template: bool = False) -> None:
        super().__init__()
        self.template = template  # a template: {% static %} and {{ }} in src= are addresses on this site
        self.problems: list[str] = []
        self.json_blocks = 0
        self._in_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> (an event handler)")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            self._in_script = named
            if named.get("type") == "application/json":
                self.json_blocks += 1
            elif not named.get("src"):
                self.problems.append(f"<script {named}> (inline)")
            elif not (named["src"] or "").startswith(("/", "{%", "{{") if self.template else "/"):
                self.problems.append(f"<script src={named['src']!r}> (another site)")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script is not None and self._in_script.get("src") and data.strip():
            self.problems.append("<script src=...> with code inside")


def check(html: str, template: bool = False) -> Scripts:
    parser = Scripts(template)
    parser.feed(html)
    return parser


def directives(response) -> dict[str, list[str]]:
    header = response[POLICY]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_the_policy_allows_scripts_from_this_site_only():
    from django.test import Client

    policy = directives(Client().get(reverse("login")))
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["style-src"] == ["'self'"]  # no inline <style>: Plotly's styles are a static file
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


@pytest.mark.django_db
def test_every_page_type_carries_the_policy_and_runs_no_inline_script(client, demo):
    run = demo["runs"]["bowel"]
    result = IndicatorResult.objects.filter(run=run, level="provider").order_by("organisation").first()
    trust = result.organisation
    public = [
        reverse("home"),
        reverse("search") + "?q=manchester",
        reverse("audit", args=["bowel"]),
        reverse("indicator", args=["bowel", result.indicator]),
        reverse("indicator", args=["lung", "mortality_1y"]),
        reverse("trust", args=[trust]),
        reverse("trust-trend", args=[trust, "bowel", result.indicator]),
        reverse("trust-flag-check", args=[trust, "bowel", result.indicator]),
        reverse("alliance", args=["E56000019"]),
        reverse("login"),
        reverse("password_reset"),
        "/admin/login/",
    ]
    signed_in = [
        reverse("data-quality", args=["bowel"]),
        reverse("funnel-tool"),
        reverse("release-list", args=["bowel"]),
        reverse("upload", args=["bowel"]),
        "/admin/",
    ]
    seen = []
    for url in public + ["sign in"] + signed_in:
        if url == "sign in":
            User.objects.filter(username="dash-analyst").update(is_staff=True)  # staff and analyst: all below open
            assert client.login(username="dash-analyst", password=ANALYST_PASSWORD)
            continue
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert directives(response)["script-src"] == ["'self'"], url
        found = check(response.content.decode())
        assert found.problems == [], (url, found.problems)
        seen.append(found.json_blocks)
    assert sum(seen) >= 3  # the charts' data travel as JSON blocks


@pytest.mark.django_db
def test_the_two_factor_page_carries_the_policy_and_runs_no_script(client, demo):
    assert client.login(username="dash-analyst", password=ANALYST_PASSWORD, one_time_code=False)
    page = client.get(reverse("two-factor"))
    assert page.status_code == 200 and "<svg" in page.content.decode()
    assert directives(page)["script-src"] == ["'self'"]
    assert check(page.content.decode()).problems == []


@pytest.mark.django_db
def test_the_api_documentation_pages_run_no_inline_script_and_only_widen_styles(client):
    for name in ("api:docs", "api:redoc"):
        page = client.get(reverse(name))
        policy = directives(page)
        assert policy["script-src"] == ["'self'"], name
        assert policy["style-src"] == ["'self'", "'unsafe-inline'"], name  # Swagger UI and ReDoc style inline
        assert check(page.content.decode()).problems == [], name
    script = client.get(reverse("api:docs") + "?script=")  # Swagger UI's set-up, as a file of its own
    assert script["Content-Type"].startswith("application/javascript") and b"SwaggerUIBundle" in script.content
    browsable = client.get("/api/v1/", HTTP_ACCEPT="text/html")
    assert browsable.status_code == 200 and directives(browsable)["script-src"] == ["'self'"]
    assert check(browsable.content.decode()).problems == []


def test_no_template_has_an_inline_script_or_event_handler():
    problems = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        found = check(path.read_text(encoding="utf-8"), template=True)
        problems += [f"{path.relative_to(ROOT)}: {problem}" for problem in found.problems]
    assert problems == []
