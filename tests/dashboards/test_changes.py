"""The "what changed" comparison and page, on two releases with a planted truth (tests/alerts/world.py)."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from audits.models import Release
from dashboards.pages.changes import build_changes
from indicators.changes import release_changes
from tests.alerts import world

pytestmark = pytest.mark.django_db


@pytest.fixture
def story():
    return world.build()


@pytest.fixture
def analyst():
    user = User.objects.create_user("changes-analyst", password="pw-for-tests-only-0123")
    user.groups.add(Group.objects.get_or_create(name="analysts:bowel")[0])
    return user


def names(items) -> set[str]:
    return {item.place.name for item in items}


def test_the_public_sees_the_planted_flags_that_appeared_cleared_and_changed_and_nothing_of_hidden_rows(story):
    t = story["trusts"]
    changes = release_changes(story["second"], unsuppressed=False)
    assert changes is not None and changes.previous_version == 1 and changes.version == 2
    assert names(changes.appeared) == {t["APPEARS"].name}
    assert names(changes.cleared) == {t["CLEARS"].name}
    assert names(changes.changed) == {t["ESCALATES"].name}
    (new,) = changes.appeared
    assert (new.before, new.after, new.level_word) == ("none", "alarm_low", "alarm")
    assert (new.period_before, new.period) == ("2023/24-2024/25", "2023/24-2025/26")  # the headlines, not 2024/25
    (cleared,) = changes.cleared
    assert (cleared.flag, cleared.after, cleared.level_word) == ("alert_high", "none", "alert")
    # A hidden end gives no flag change and no move, to the public.
    hidden = {t["HIDDEN_NOW"].code, t["HIDDEN_THEN"].code}
    assert not hidden & {m.place.code for m in changes.moves}
    assert {m.place.code for m in changes.moves} == {t[r].code for r in ("APPEARS", "CLEARS", "ESCALATES")}
    (england,) = changes.national
    assert england.change == pytest.approx(-0.02)
    (cause,) = changes.special_causes
    assert cause.place.code == t["APPEARS"].code and cause.quarters == ("2025/26 Q1",)
    assert (cause.rules, cause.point_type, cause.side) == (("outside_limits",), "special_cause_concern", "low")


def test_the_audits_analysts_see_the_changes_of_hidden_rows_too(story):
    t = story["trusts"]
    changes = release_changes(story["second"], unsuppressed=True)
    assert names(changes.appeared) == {t["APPEARS"].name, t["HIDDEN_NOW"].name}
    assert names(changes.cleared) == {t["CLEARS"].name, t["HIDDEN_THEN"].name}
    assert len(changes.moves) == 5


def test_the_largest_moves_come_first_and_the_words_say_the_change(story):
    t = story["trusts"]
    piece = build_changes(release_changes(story["second"], unsuppressed=False), moves_per_indicator=2)
    assert [m.place for m in piece.moves] == [t["APPEARS"].code, t["ESCALATES"].code]
    assert piece.moves[0].change_text == "-20.0 percentage points"
    assert piece.england[0].change_text == "-2.0 percentage points"
    (appeared,) = piece.appeared
    assert appeared.sentence.startswith(f"{t['APPEARS'].name}: new alarm on Discussed at a multidisciplinary team")
    assert "lower than expected" in appeared.sentence and "worse" in appeared.sentence
    assert "within expected range" in appeared.sentence  # what it was in release 1
    assert "is now within the expected range" in piece.cleared[0].sentence
    assert piece.summary.startswith("Against release 1: 1 new flag, 1 flag cleared, 1 changed")


def test_the_first_release_has_nothing_to_compare(story):
    changes = release_changes(story["first"], unsuppressed=True)
    assert changes.previous_version is None and not changes.flags and not changes.moves
    assert "nothing to compare" in build_changes(changes).summary


def test_the_page_is_public_under_suppression(client, story):
    t = story["trusts"]
    url = reverse("release-changes", args=["bowel", story["second"].pk])
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    for role in ("APPEARS", "CLEARS", "ESCALATES"):
        assert t[role].name in page
    assert t["HIDDEN_NOW"].name not in page and t["HIDDEN_THEN"].name not in page
    assert "<caption>" in page and 'scope="col"' in page
    assert "Alarm: lower than expected (worse)" in page  # words, not colour alone
    rows = list(csv.DictReader(io.StringIO(client.get(url + "?download=flags").content.decode())))
    assert {(r["organisation"], r["change"]) for r in rows} == {
        (t["APPEARS"].code, "appeared"),
        (t["CLEARS"].code, "cleared"),
        (t["ESCALATES"].code, "changed"),
    }
    moves = list(csv.DictReader(io.StringIO(client.get(url + "?download=moves").content.decode())))
    assert t["HIDDEN_NOW"].code not in {r["organisation"] for r in moves}
    assert client.get(url + "?download=nothing").status_code == 404
    assert client.get(reverse("release-changes", args=["lung", story["second"].pk])).status_code == 404


def test_the_analysts_page_shows_exact_changes(client, story, analyst):
    client.force_login(analyst)
    url = reverse("release-changes", args=["bowel", story["second"].pk])
    page = client.get(url).content.decode()
    assert story["trusts"]["HIDDEN_NOW"].name in page and "exact counts" in page
    client.logout()  # the page kept for the analysts is not the public's
    assert story["trusts"]["HIDDEN_NOW"].name not in client.get(url).content.decode()


def test_a_release_not_published_is_the_analysts_only(client, analyst):
    story = world.build(second_status=Release.Status.WITHDRAWN)
    url = reverse("release-changes", args=["bowel", story["second"].pk])
    assert client.get(url).status_code == 404
    client.force_login(User.objects.create_user("someone", password="pw-for-tests-only-0123"))
    assert client.get(url).status_code == 404
    client.force_login(analyst)
    response = client.get(url)
    assert response.status_code == 200 and "This release is not published" in response.content.decode()


# ------------------------------------------------------------------ two real releases, imported and computed


@pytest.fixture(scope="module")
def computed(django_db_setup, django_db_blocker):
    """Two bowel releases from different synthetic extracts, computed for real (committed; removed afterwards)."""
    import tempfile
    from pathlib import Path

    import pandas as pd
    from django.test import override_settings

    from accounts.services import Actor
    from audits.demo.engine import generate_extract, write_extract
    from audits.organisations import load_organisations
    from audits.registry import get_definition
    from audits.services import import_extract
    from indicators.services import start_run
    from tests.dashboards import data

    with django_db_blocker.unblock():
        load_organisations()
        trusts = pd.read_csv(data.SEED_DIR / "trusts.csv", dtype=str)
        successors = pd.read_csv(data.SEED_DIR / "successors.csv", dtype=str)
        releases = []
        with tempfile.TemporaryDirectory() as folder, override_settings(AFTER_RELEASE_TASKS=[]):
            for seed in (2026, 2027):
                path = Path(folder) / f"bowel-{seed}.csv"
                write_extract(
                    generate_extract(get_definition("bowel"), 6_000, seed, data.EXTRACT_DATE, trusts, successors), path
                )
                with path.open("rb") as stream:
                    outcome = import_extract(
                        audit_code="bowel",
                        stream=stream,
                        file_name=path.name,
                        extract_date=data.EXTRACT_DATE,
                        actor=Actor.command_line(name="tests"),
                    )
                assert outcome.accepted
                run = start_run(release=outcome.release)
                run.refresh_from_db()
                assert run.status == "done" and run.is_current
                releases.append(outcome.release)
    yield releases
    with django_db_blocker.unblock():
        data.clear()


def test_on_real_results_the_public_sees_a_part_of_the_analysts_changes_and_nothing_of_a_hidden_end(computed):
    from indicators.models import IndicatorResult

    first, second = computed
    public = release_changes(second, unsuppressed=False)
    exact = release_changes(second, unsuppressed=True)
    assert public.previous_version == first.version and exact.flags
    key = lambda f: (f.indicator.code, f.place.level, f.place.code, f.change, f.before, f.after)  # noqa: E731
    assert {key(f) for f in public.flags} <= {key(f) for f in exact.flags}
    hidden = set(
        IndicatorResult.objects.filter(run__release__in=computed, run__is_current=True, suppressed=True).values_list(
            "run__release_id", "indicator", "organisation", "period"
        )
    )
    for item in [*public.flags, *public.moves]:
        before = (first.pk, item.indicator.code, item.place.code, item.period_before)
        after = (second.pk, item.indicator.code, item.place.code, item.period)
        assert before not in hidden and after not in hidden, item
    assert {m.indicator.code for m in public.national} == {m.indicator.code for m in exact.national}


def test_the_audit_page_links_to_what_changed(client, computed):
    from dashboards.services import build_run_pages
    from indicators.selectors import current_run

    build_run_pages(current_run(computed[1]))
    url = reverse("release-changes", args=["bowel", computed[1].pk])
    assert url in client.get(reverse("audit", args=["bowel"])).content.decode()
    assert client.get(url).status_code == 200
