"""A small demo release per audit, imported and computed for real, shared by a module's tests.

Generating, importing and computing takes a few seconds, so a module does it once with its data
committed (``django_db_blocker``), and removes it afterwards (``clear``): other modules' tests
expect empty tables.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pandas as pd
from django.core.management import call_command
from django.test import override_settings

SEED_DIR = Path(__file__).resolve().parents[2] / "audits" / "seed"
EXTRACT_DATE = date(2026, 3, 31)
ANALYST_PASSWORD = "pw-for-dashboard-tests-only"  # noqa: S105 - a test user's password


def load(rows: dict[str, int], seed: int = 2026) -> dict:
    """Import and compute one release per audit; returns {"releases": {audit: Release}, "runs": {audit: run}}."""
    from django.contrib.auth.models import Group, User

    from accounts.services import Actor
    from audits.demo.engine import generate_extract, write_extract
    from audits.models import analyst_group_name
    from audits.organisations import load_organisations
    from audits.registry import get_definition
    from audits.services import import_extract
    from indicators.services import start_run

    load_organisations()
    trusts = pd.read_csv(SEED_DIR / "trusts.csv", dtype=str)
    successors = pd.read_csv(SEED_DIR / "successors.csv", dtype=str)
    releases, runs = {}, {}
    with tempfile.TemporaryDirectory() as folder, override_settings(AFTER_RELEASE_TASKS=[]):
        for audit, count in rows.items():
            path = Path(folder) / f"{audit}.csv"
            write_extract(generate_extract(get_definition(audit), count, seed, EXTRACT_DATE, trusts, successors), path)
            with path.open("rb") as stream:
                outcome = import_extract(
                    audit_code=audit,
                    stream=stream,
                    file_name=path.name,
                    extract_date=EXTRACT_DATE,
                    actor=Actor.command_line(name="tests"),
                )
            assert outcome.accepted, outcome.as_json()["errors"][:3]
            releases[audit] = outcome.release
            run = start_run(release=outcome.release)  # Celery runs eagerly in the tests
            run.refresh_from_db()
            assert run.status == "done" and run.is_current, (audit, run.status, run.failure)
            runs[audit] = run
    analyst = User.objects.create_user("dash-analyst", password=ANALYST_PASSWORD)
    for audit in rows:
        analyst.groups.add(Group.objects.get(name=analyst_group_name(audit)))
    User.objects.create_user("dash-clinician", password=ANALYST_PASSWORD)
    return {"releases": releases, "runs": runs, "analyst": analyst}


def clear() -> None:
    """Empty every table (as a transactional test does) and put the organisations back."""
    from django.db import connection

    from audits.organisations import load_organisations
    from dashboards.selectors import CACHE, DERIVED

    call_command("flush", interactive=False, verbosity=0)
    with connection.cursor() as cursor:  # release tables are not models, so flush leaves them
        for table in connection.introspection.table_names(cursor):
            if table.startswith("extract_"):
                cursor.execute(f"DROP TABLE {connection.ops.quote_name(table)}")
    load_organisations()
    CACHE.clear()
    DERIVED.clear()
