"""Shared set-up of the benchmarks: a fresh PostgreSQL database of their own, and Django on it."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

DEFAULT_SERVER = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
ROOT = Path(__file__).resolve().parents[1]
EXTRACT_DATE = date(2026, 3, 31)


def fresh_database(server: str, name: str) -> str:
    """Drop and create ``name`` on the server of ``server`` (a database URL); returns its URL."""
    import psycopg2

    admin = psycopg2.connect(server)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return f"{server.rsplit('/', 1)[0]}/{name}"


def setup_django(database_url: str, **environment: str) -> None:
    """Production-like settings (DEBUG off), tasks in this process, nothing queued after a release."""
    settings = {
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "CELERY_BROKER_URL": "",
        "AFTER_RELEASE_TASKS": "",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + "x" * 60),
        "ALLOWED_HOSTS": "localhost",
        "DJANGO_SETTINGS_MODULE": "cancerplan.settings",
    }
    os.environ.update({**settings, **environment})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def extract(audit: str, rows: int, seed: int) -> Path:
    """A demo extract of ``audit`` (any definition, audits.demo.engine) in ``var/bench``, written once and reused."""
    path = ROOT / "var" / "bench" / f"{audit}_{rows}_{seed}.csv"
    if not path.exists():
        import pandas as pd

        from audits.demo.engine import generate_extract, write_extract
        from audits.registry import get_definition

        path.parent.mkdir(parents=True, exist_ok=True)
        seed_dir = ROOT / "audits" / "seed"
        trusts = pd.read_csv(seed_dir / "trusts.csv", dtype=str)
        successors = pd.read_csv(seed_dir / "successors.csv", dtype=str)
        definition = get_definition(audit)
        write_extract(generate_extract(definition, rows, seed, EXTRACT_DATE, trusts, successors), path)
    return path
