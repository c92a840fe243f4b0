"""Shared fixtures: definitions, the provider lookup, and a snapshot of every table."""

from __future__ import annotations

import csv
import os
from datetime import date
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from audits.ingest.parse import ProviderLookup

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = Path(__file__).resolve().parents[1] / "audits" / "seed"

# Property-based tests: a bounded, repeatable run in CI; `make fuzz` (HYPOTHESIS_PROFILE=fuzz) runs long and random.
hypothesis_settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True)
hypothesis_settings.register_profile("fuzz", max_examples=20_000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def providers() -> ProviderLookup:
    """The shipped trusts and predecessor codes, read without the database."""
    with (SEED / "trusts.csv").open() as f:
        current = frozenset(row["trust_code"] for row in csv.DictReader(f))
    with (SEED / "successors.csv").open() as f:
        successors = {
            row["predecessor_code"]: (row["successor_code"], date.fromisoformat(row["effective_from"]))
            for row in csv.DictReader(f)
        }
    return ProviderLookup(current=current, successors=successors)


@pytest.fixture
def client():
    """The test client, signing analysts and staff in with their one-time code too (tests/auth.py)."""
    from tests.auth import Client

    return Client()


def clear_cache() -> None:
    """Empty this site's cache: API throttle counts and cached pages must not carry over between tests.
    On Redis only this site's keys go (the database may be the Celery broker's too)."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _empty_cache():
    clear_cache()


TEST_THROTTLE_RATES = {"anon": "100000/minute", "user": "100000/minute"}


@pytest.fixture(autouse=True)
def _api_rates(settings):
    """Tests make many API requests a minute from one address: the throttles' own tests (tests/api/
    test_limits.py) set low rates; every other test runs with these high ones."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": TEST_THROTTLE_RATES}


@pytest.fixture
def table_counts(django_db_blocker):
    """Row counts of every table in the database, to show an import changed nothing."""
    from django.db import connection

    def counts() -> dict[str, int]:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            tables = connection.introspection.table_names(cursor)
            result = {}
            for table in tables:
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
                result[table] = cursor.fetchone()[0]
            return result

    return counts


@pytest.fixture
def orgs(db):
    """Trusts and alliances (a transactional test's flush removes the migration's copy)."""
    from audits.organisations import load_organisations

    load_organisations()


def run_command(*args, **options) -> tuple[int, str, str]:
    """Run a management command; returns (exit code, stdout, stderr)."""
    import io

    from django.core.management import call_command

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err, **options)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def computed(django_db_setup, django_db_blocker):
    """A bowel release with planted outliers, imported and computed for real, its cases opened by the run's
    after-run task (committed; removed afterwards). Each test's changes are rolled back (``db``).
    Shared by the outlier process's tests (tests/outliers) and its API's (tests/api/test_outliers.py)."""
    from django.test import override_settings

    from tests.dashboards import data

    with django_db_blocker.unblock(), override_settings(AFTER_RUN_TASKS=["outliers.tasks.open_cases"]):
        loaded = data.load({"bowel": 12_000})
    yield loaded
    with django_db_blocker.unblock():
        data.clear()
