"""While a newer run computes, or after one fails, the API serves the last completed run, as the pages do,
and names the run it serves."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from accounts.services import Actor
from audits.services import import_extract
from dashboards.selectors import shown_runs
from indicators.models import ComputationRun
from tests.api.conftest import World
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db
RESULTS = reverse("api:result-list")


def national(client, world: World, **params) -> tuple[dict, dict[tuple[str, str], float]]:
    response = client.get(RESULTS, {"page_size": 1000, "level": "national", **params}, **world.auth("analyst"))
    assert response.status_code == 200, response.content
    body = response.json()
    return body, {(r["indicator"], r["period"]): r["value"] for r in body["results"]}


def newer_release(settings):
    """A newer bowel release, accepted but not computed (its run is made by hand below)."""
    settings.AFTER_RELEASE_TASKS = []
    with (FIXTURES / "bowel" / "valid.csv").open("rb") as f:
        outcome = import_extract(
            audit_code="bowel",
            stream=f,
            file_name="valid.csv",
            extract_date=date(2025, 3, 31),
            actor=Actor.command_line(name="tests"),
        )
    assert outcome.accepted
    return outcome.release


def test_a_computing_or_failed_newer_run_leaves_the_last_completed_run_served_and_named(client, world, settings):
    served = ComputationRun.objects.get(release=world.release, is_current=True)
    body, before = national(client, world)
    assert before and {r["run"] for r in body["results"]} == {served.pk}
    named = {
        "id": served.pk,
        "audit": "bowel",
        "release": world.release.pk,
        "release_version": world.release.version,
        "method_version": served.method_version,
        "completed_at": served.finished_at.isoformat().replace("+00:00", "Z"),
    }
    assert body["runs"] == [named]

    # A recomputation of the same release that is still running, and one that failed.
    ComputationRun.objects.create(release=world.release, status="running", total=8, method_version="x")
    ComputationRun.objects.create(release=world.release, status="failed", total=8, method_version="x", failure="boom")
    # A newer release whose first run is running, then failed.
    newer = newer_release(settings)
    computing = ComputationRun.objects.create(release=newer, status="running", total=8, method_version="x")
    for state in ("running", "failed"):
        ComputationRun.objects.filter(pk=computing.pk).update(status=state)
        body, now = national(client, world)
        assert now == before and body["runs"] == [named], state
        assert {r["run"] for r in body["results"]} == {served.pk}
        response = client.get(RESULTS, {"level": "national", "format": "csv"})
        assert response.status_code == 200 and response["X-Computation-Run"] == str(served.pk)
        # The pages show the same run: one rule for both.
        assert shown_runs()["bowel"].pk == served.pk

        trend = world.trend
        xmr = client.get(reverse("api:xmr", args=["bowel", trend.indicator, trend.organisation]))
        assert xmr.status_code == 200, xmr.content
        assert xmr.json()["run"] == named and xmr["X-Computation-Run"] == str(served.pk)
        card = client.get(reverse("api:model-card", args=["bowel", "mortality_2y"]))
        assert card.status_code == 200, card.content
        assert card.json()["run"] == served.pk and card.json()["release"] == world.release.pk
        assert card["X-Computation-Run"] == str(served.pk)

    # Asked for by id, the newer release has no completed run yet: nothing, and no run named.
    body, rows = national(client, world, release=newer.pk)
    assert rows == {} and body["runs"] == []
    card = client.get(reverse("api:model-card", args=["bowel", "mortality_2y"]), {"release": newer.pk})
    assert card.status_code == 404
