"""Unsafe production settings stop start-up loudly; a first run needs nothing set."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAFE_KEY = "qT7w-Zp2xK9mLr4Vb8nYc3Hs6Jd1Fg5Ae0Uo_iPtRkWlXzMvNbQy"  # noqa: S105 - a test value, 52 characters, 49 different


SETTINGS_ENV = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "HTTPS", "REDIS_URL", "PROXY_COUNT"}
SHOW = "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER)"


def start(tmp_path, show: str = SHOW, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; {show}"],
        cwd=ROOT,
        env={
            **clean,
            "DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "cancerplan.settings",
            "CELERY_BROKER_URL": "",
            "CELERY_TASK_ALWAYS_EAGER": "",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "env, message",
    [
        ({}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "short", "ALLOWED_HOSTS": "example.org"}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "django-insecure-" + "x" * 50, "ALLOWED_HOSTS": "example.org"}, "SECRET_KEY is too weak"),
        # long enough, but guessable: one character repeated, or a short pattern repeated
        ({"SECRET_KEY": "k" * 60, "ALLOWED_HOSTS": "example.org"}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "0123456789" * 6, "ALLOWED_HOSTS": "example.org"}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": SAFE_KEY}, "ALLOWED_HOSTS is empty"),
        ({"SECRET_KEY": SAFE_KEY, "ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS must not contain '*'"),
        ({"SECRET_KEY": SAFE_KEY, "ALLOWED_HOSTS": "example.org,*"}, "ALLOWED_HOSTS must not contain '*'"),
        ({"SECRET_KEY": SAFE_KEY, "ALLOWED_HOSTS": "example.org", "HTTPS": "maybe"}, "HTTPS='maybe' is not a boolean"),
        ({"SECRET_KEY": SAFE_KEY, "ALLOWED_HOSTS": "example.org", "DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
    ],
)
def test_it_refuses_to_start_with_unsafe_production_settings(tmp_path, env, message):
    result = start(tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_a_first_run_uses_sqlite_and_in_process_tasks(tmp_path):
    result = start(tmp_path, DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True"]


def test_production_settings_use_the_database_url_and_the_broker(tmp_path):
    result = start(
        tmp_path,
        SECRET_KEY=SAFE_KEY,
        ALLOWED_HOSTS="example.org",
        DATABASE_URL="postgres://u@db.example.org:5432/audits",
        CELERY_BROKER_URL="redis://r:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "False"]


def test_the_test_suites_own_key_is_accepted(tmp_path):
    key = "test-only-secret-key-not-for-production-0123456789abcdefghij"  # noqa: S105 - the Makefile's
    assert start(tmp_path, SECRET_KEY=key, ALLOWED_HOSTS="testserver").returncode == 0


CACHE = (
    "c = settings.CACHES['default']; "
    "print(c['BACKEND'], c.get('LOCATION', '-'), c.get('OPTIONS', {}).get('MAX_ENTRIES'))"
)


@pytest.mark.parametrize(
    "env, expected",
    [
        # neither: each process keeps its own cache, of a bounded number of entries
        ({}, ["django.core.cache.backends.locmem.LocMemCache", "-", "300"]),
        (
            {"CELERY_BROKER_URL": "redis://r:6379/0"},
            ["django.core.cache.backends.redis.RedisCache", "redis://r:6379/0", "None"],
        ),
        (
            {"CELERY_BROKER_URL": "redis://r:6379/0", "REDIS_URL": "redis://cache:6379/1"},
            ["django.core.cache.backends.redis.RedisCache", "redis://cache:6379/1", "None"],
        ),
        ({"CELERY_BROKER_URL": "amqp://mq//"}, ["django.core.cache.backends.locmem.LocMemCache", "-", "300"]),
    ],
)
def test_the_cache_is_shared_redis_when_there_is_one_and_bounded_otherwise(tmp_path, env, expected):
    result = start(tmp_path, show=CACHE, SECRET_KEY=SAFE_KEY, ALLOWED_HOSTS="example.org", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == expected


def deploy_check(tmp_path, **env) -> subprocess.CompletedProcess:
    # tests/browser/conftest.py sets DJANGO_ALLOW_ASYNC_UNSAFE for Playwright; a deployment never would.
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV | {"DJANGO_ALLOW_ASYNC_UNSAFE"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **clean,
            "DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "cancerplan.settings",
            "CELERY_BROKER_URL": "",
            "DEBUG": "false",
            "SECRET_KEY": SAFE_KEY,
            "ALLOWED_HOSTS": "audits.example.nhs.uk",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deployment_check_passes_behind_a_tls_proxy(tmp_path):
    result = deploy_check(tmp_path, HTTPS="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deployment_check_warns_without_https(tmp_path):
    result = deploy_check(tmp_path)
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr  # HSTS, SSL redirect


def test_the_suppression_policy_has_one_owner_and_the_environment_overrides_only_what_it_sets(tmp_path):
    show = (
        "from indicators.disclosure import suppression_policy; "
        "from indicators.stats.suppression import DEFAULT_POLICY; p = suppression_policy(); "
        "print(p == DEFAULT_POLICY, p.low, p.high, p.round_to, sorted(settings.SUPPRESSION_POLICY))"
    )
    clean = {f"SUPPRESS_{name}": "" for name in ("LOW", "HIGH", "ROUND_TO")}
    default = start(tmp_path, show, DEBUG="true", **clean)
    assert default.returncode == 0, default.stderr
    # SuppressionPolicy's defaults (NHS Digital's rule), not repeated in the settings
    assert default.stdout.split() == ["True", "1", "7", "5", "[]"]
    changed = start(tmp_path, show, DEBUG="true", **{**clean, "SUPPRESS_HIGH": "9"})
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.split() == ["False", "1", "9", "5", "['high']"]
