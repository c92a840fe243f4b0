"""Unsafe production settings stop start-up loudly; a first run needs nothing set."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAFE_KEY = "k" * 60


def start(tmp_path, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"}}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER)",
        ],
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
        ({"SECRET_KEY": SAFE_KEY}, "ALLOWED_HOSTS is empty"),
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
