import pytest
from django.test import override_settings

from tests.dashboards import data


@pytest.fixture(scope="module")
def computed(django_db_setup, django_db_blocker):
    """A bowel release with planted outliers, imported and computed for real, its cases opened by the run's
    after-run task (committed; removed afterwards). Each test's changes are rolled back (``db``)."""
    with django_db_blocker.unblock(), override_settings(AFTER_RUN_TASKS=["outliers.tasks.open_cases"]):
        loaded = data.load({"bowel": 12_000})
    yield loaded
    with django_db_blocker.unblock():
        data.clear()
