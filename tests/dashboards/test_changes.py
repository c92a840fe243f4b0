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
    page = client.get(reverse("release-changes", args=["bowel", story["second"].pk])).content.decode()
    assert story["trusts"]["HIDDEN_NOW"].name in page and "exact counts" in page


def test_a_release_not_published_is_the_analysts_only(client, analyst):
    story = world.build(second_status=Release.Status.WITHDRAWN)
    url = reverse("release-changes", args=["bowel", story["second"].pk])
    assert client.get(url).status_code == 404
    client.force_login(User.objects.create_user("someone", password="pw-for-tests-only-0123"))
    assert client.get(url).status_code == 404
    client.force_login(analyst)
    response = client.get(url)
    assert response.status_code == 200 and "This release is not published" in response.content.decode()
