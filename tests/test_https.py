"""Behind a TLS proxy (HTTPS=true): the sign-in form posts, links are https://, plain http is redirected,
pages carry HSTS and cookies are secure; the client's address is the one the proxy saw.

The settings file is run afresh under a production environment (``production_settings``), and the
settings that decide these behaviours are applied to this test process.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from unittest import mock

import pytest
from django.conf import global_settings
from django.contrib.auth.models import User
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[1]
HOST = "audits.example.nhs.uk"
KEY = "qT7w-Zp2xK9mLr4Vb8nYc3Hs6Jd1Fg5Ae0Uo_iPtRkWlXzMvNbQy"  # noqa: S105 - a test value
APPLIED = [
    "ALLOWED_HOSTS",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "CSRF_TRUSTED_ORIGINS",
    "PROXY_COUNT",
]


def production_settings(**env: str) -> dict:
    """The settings module's values under a production environment (DEBUG off) plus ``env``."""
    base = {"DEBUG": "false", "SECRET_KEY": KEY, "ALLOWED_HOSTS": f"{HOST},testserver", "HTTPS": "", "PROXY_COUNT": ""}
    with mock.patch.dict(os.environ, {**base, **env}):
        return runpy.run_path(str(ROOT / "cancerplan" / "settings.py"))


def behind_proxy(**env: str) -> override_settings:
    values = production_settings(HTTPS="true", **env)
    applied = {name: values.get(name, getattr(global_settings, name, None)) for name in APPLIED}
    applied["REST_FRAMEWORK"] = {
        **values["REST_FRAMEWORK"],
        "DEFAULT_THROTTLE_RATES": {"anon": "1000/minute", "user": "1000/minute"},
    }
    return override_settings(**applied)


PROXIED = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_HOST": HOST}


@pytest.mark.django_db
def test_behind_the_proxy_the_sign_in_form_passes_the_csrf_origin_check():
    User.objects.create_user("clin", password="a-long-enough-password")
    with behind_proxy():
        browser = Client(enforce_csrf_checks=True)
        form = browser.get(reverse("login"), **PROXIED)
        assert form.status_code == 200
        token = form.cookies["csrftoken"].value
        signed_in = browser.post(
            reverse("login"),
            {"username": "clin", "password": "a-long-enough-password", "csrfmiddlewaretoken": token},
            HTTP_ORIGIN=f"https://{HOST}",
            HTTP_REFERER=f"https://{HOST}/accounts/login/",
            **PROXIED,
        )
    assert signed_in.status_code == 302, signed_in.content[:300]  # not 403 (CSRF origin check)
    assert signed_in["Location"] == reverse("home")


@pytest.mark.django_db
def test_behind_the_proxy_the_api_hands_out_https_links():
    with behind_proxy():
        root = Client().get("/api/v1/", **PROXIED)
    assert root.status_code == 200
    links = root.json()
    assert links and all(url.startswith(f"https://{HOST}/api/v1/") for url in links.values()), links


@pytest.mark.django_db
def test_behind_the_proxy_http_is_redirected_and_https_pages_carry_hsts_and_secure_cookies():
    with behind_proxy():
        plain = Client().get(reverse("login"), HTTP_HOST=HOST)
        secure = Client().get(reverse("login"), **PROXIED)
    assert plain.status_code == 301 and plain["Location"] == f"https://{HOST}{reverse('login')}"
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert secure.cookies["csrftoken"]["secure"]


def test_csrf_trusted_origins_follow_allowed_hosts():
    values = production_settings(HTTPS="true", ALLOWED_HOSTS=f"{HOST},.example.org", CSRF_TRUSTED_ORIGINS="")
    assert values["CSRF_TRUSTED_ORIGINS"] == [f"https://{HOST}", "https://*.example.org"]
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]


def test_without_https_nothing_trusts_the_forwarded_headers():
    values = production_settings()
    assert values.get("SECURE_PROXY_SSL_HEADER") is None and not values.get("SECURE_SSL_REDIRECT")
    assert values["PROXY_COUNT"] == 0 and values["REST_FRAMEWORK"]["NUM_PROXIES"] == 0


def test_the_client_address_is_the_one_the_proxy_saw():
    from accounts.security import client_address

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7")
    with behind_proxy():  # one proxy: it appended the address it saw (the client may have sent the first)
        assert client_address(request) == "198.51.100.7"
    with override_settings(PROXY_COUNT=0):  # reached directly: X-Forwarded-For is whatever the client sent
        assert client_address(request) == "10.0.0.2"
