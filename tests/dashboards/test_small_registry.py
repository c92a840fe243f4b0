"""End to end: a registry of about 300 patients a year across dozens of trusts (tests/fixtures/definitions/
penile.yaml, extract drawn from a known truth in tests/small_registry.py), imported, computed and shown.

Its pages say the headline period is pooled, show each trust's reliability-adjusted estimate beside the crude
one, and say how many flags chance alone would give; the API serves the new figures; analysts get a
false-discovery-rate view. Figures are checked against the synthetic truth, never the code's own output.
"""

from __future__ import annotations

import csv
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.test import override_settings
from django.urls import reverse

from tests.conftest import FIXTURES, SEED
from tests.small_registry import EXTRACT_DATE, in_window, synthetic_registry

POOLED = "2022/23-2024/25"
MINIMUM = 10  # the fixture's minimum_denominator for mdt_discussed
PASSWORD = "pw-for-small-registry-tests-only"  # noqa: S105 - a test user's password


def _trusts() -> tuple[list[str], dict[str, str]]:
    """Forty real trusts (the seed's first of each of eight alliances' five trusts, by code)."""
    seed = pd.read_csv(SEED / "trusts.csv", dtype=str).sort_values("trust_code")
    chosen = seed.groupby("alliance_code").head(5)
    chosen = chosen[chosen["alliance_code"].isin(sorted(chosen["alliance_code"].unique())[:8])]
    return chosen["trust_code"].tolist(), dict(zip(chosen["trust_code"], chosen["alliance_code"], strict=True))


@pytest.fixture(scope="module")
def small(django_db_setup, django_db_blocker):
    from django.contrib.auth.models import Group, User

    from accounts.services import Actor
    from audits.models import analyst_group_name
    from audits.organisations import load_organisations
    from audits.registry import reset_cache
    from audits.services import import_extract
    from dashboards.services import build_run_pages
    from indicators.services import start_run
    from tests.dashboards import data

    override = override_settings(AUDIT_DEFINITION_DIRS=[FIXTURES / "definitions"])
    override.enable()
    reset_cache()
    trusts, alliance_of = _trusts()
    registry = synthetic_registry(trusts)
    with django_db_blocker.unblock():
        load_organisations()
        with tempfile.TemporaryDirectory() as folder, override_settings(AFTER_RELEASE_TASKS=[]):
            path = Path(folder) / "penile.csv"
            frame = registry.frame.assign(date_of_diagnosis=registry.frame["date_of_diagnosis"].dt.strftime("%Y-%m-%d"))
            frame.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
            with path.open("rb") as stream:
                outcome = import_extract(
                    audit_code="penile",
                    stream=stream,
                    file_name=path.name,
                    extract_date=EXTRACT_DATE,
                    actor=Actor.command_line(name="tests"),
                )
            assert outcome.accepted, outcome.as_json()["errors"][:3]
            run = start_run(release=outcome.release)
            run.refresh_from_db()
            assert run.status == "done" and run.is_current, run.failure
            build_run_pages(run)
        analyst = User.objects.create_user("penile-analyst", password=PASSWORD)
        analyst.groups.add(Group.objects.get(name=analyst_group_name("penile")))
        clinician = User.objects.create_user("penile-clinician", password=PASSWORD)
    yield {"registry": registry, "alliance_of": alliance_of, "analyst": analyst, "clinician": clinician}
    with django_db_blocker.unblock():
        data.clear()
    override.disable()
    reset_cache()


def _page(client, name="indicator", user=None, **query):
    if user is not None:
        client.force_login(user)
    url = reverse(name, kwargs={"audit_code": "penile", "code": "mdt_discussed"})
    return client.get(url, query)


def _words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _compared_alliances(small) -> int:
    """Alliances with at least the minimum of patients in the pooled window: worked out from the synthetic rows."""
    frame = small["registry"].frame
    window = frame[in_window(frame, 2022, 2024)]
    sizes = window["trust"].map(small["alliance_of"]).value_counts()
    return int((sizes >= MINIMUM).sum())


@pytest.mark.django_db
def test_the_indicator_page_leads_with_the_pooled_period_and_says_so(small, client):
    response = _page(client)
    assert response.status_code == 200
    words = _words(response.content.decode())
    assert "2022/23 to 2024/25 pooled" in words
    assert "Trusts are compared by Cancer Alliance" in words


@pytest.mark.django_db
def test_the_indicator_page_says_how_many_flags_chance_alone_would_give(small, client):
    words = _words(_page(client).content.decode())
    alliances = _compared_alliances(small)
    assert alliances >= 6
    assert f"{alliances} Cancer Alliances compared" in words
    assert f"About {0.05 * alliances:.1f} would fall outside the 95% limits by chance alone" in words
    assert f"and about {0.002 * alliances:.1f} outside the 99.8% limits" in words


@pytest.mark.django_db
def test_the_trusts_table_shows_the_reliability_adjusted_estimate_beside_the_crude_one(small, client):
    html = _page(client, user=small["analyst"]).content.decode()
    head = html[html.index('id="table-trusts"') :]
    head = head[: head.index("</thead>")]
    assert ">Percentage<" in head and "Reliability-adjusted percentage" in head and ">Reliability<" in head
    # The estimate is nearer the truth than the crude figure, trust by trust on average (analyst: exact figures).
    analyst = client.get(
        reverse("api:result-list"),
        {"audit": "penile", "indicator": "mdt_discussed", "level": "provider", "period": POOLED},
    ).json()["results"]
    truth = small["registry"].truth
    crude = np.mean([(r["value"] - truth[r["organisation"]]) ** 2 for r in analyst])
    shrunken = np.mean([(r["shrunken_value"] - truth[r["organisation"]]) ** 2 for r in analyst])
    assert shrunken < crude
    assert all(0 < r["reliability"] < 1 and r["shrunken_lower"] < r["shrunken_upper"] for r in analyst)


@pytest.mark.django_db
def test_the_api_serves_no_shrunken_estimate_for_a_hidden_trust(small, client):
    rows = client.get(
        reverse("api:result-list"),
        {"audit": "penile", "indicator": "mdt_discussed", "level": "provider", "period": POOLED},
    ).json()["results"]
    hidden = [r for r in rows if r["suppressed"]]
    shown = [r for r in rows if not r["suppressed"]]
    assert hidden and shown
    assert all(r[name] is None for r in hidden for name in ("shrunken_value", "shrunken_lower", "reliability"))
    assert all(r["shrunken_value"] is not None for r in shown)
    download = client.get(
        reverse("api:result-list"), {"audit": "penile", "indicator": "mdt_discussed", "format": "csv"}
    ).content.decode()
    assert {"shrunken_value", "shrunken_lower", "shrunken_upper", "reliability"} <= set(
        download.splitlines()[0].split(",")
    )


@pytest.mark.django_db
def test_analysts_get_a_false_discovery_rate_view_and_no_one_else(small, client):
    assert _page(client, "indicator-fdr").status_code == 302  # to sign in
    assert _page(client, "indicator-fdr", user=small["clinician"]).status_code == 403
    response = _page(client, "indicator-fdr", user=small["analyst"], level="alliance")
    assert response.status_code == 200
    words = _words(response.content.decode())
    alliances = _compared_alliances(small)
    assert f"{alliances} Cancer Alliances compared" in words
    assert "Benjamini-Hochberg" in words and "q-value" in words


def test_the_alliance_grid_says_how_many_flags_chance_alone_would_give():
    """Every compared cell of the grid (trusts x indicators) is a comparison; not-compared and hidden cells are not."""
    from dashboards.pages.alliance import AlliancePiece, GridCell, GridRow

    def cell(meaning):
        return GridCell(value_text="50%", short_label="x", label="x", meaning=meaning, flag="none")

    meanings = ["as_expected"] * 37 + ["worse"] * 3 + ["not_compared"] * 5
    grid = [GridRow(code=f"T{i}", name=f"T{i}", cells=[cell(m), None]) for i, m in enumerate(meanings)]
    piece = AlliancePiece(audit="a", audit_name="A", short_name="A", indicators=[], rows=[], grid=grid)
    assert piece.chance.startswith("This table makes 40 comparisons. About 2.0 would fall outside the 95% limits")
    assert "about 0.1 outside the 99.8% limits" in piece.chance
