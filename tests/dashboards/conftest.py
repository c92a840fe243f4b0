import pytest

from tests.dashboards import data


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """Bowel and lung releases, computed, with their dashboard pieces built (committed; removed afterwards)."""
    from dashboards.services import build_run_pages

    with django_db_blocker.unblock():
        loaded = data.load({"bowel": 12_000, "lung": 8_000})
        for run in loaded["runs"].values():
            build_run_pages(run)
    yield loaded
    with django_db_blocker.unblock():
        data.clear()
