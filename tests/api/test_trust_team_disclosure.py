"""A trust's team sees its own trust's exact figures through the API, and a lead who knows them gets back no other
organisation's suppressed count (issue 13, item 4; docs/adr/0004-disclosure-control-against-differencing.md, "Trust
teams").

The attacker is a trust's clinical lead. What the lead is shown is the public's figures with the lead's own trust's
rows and quarters exact (checked first, against the database); beyond that, a lead may know its own trust's exact
counts from its own records anyway. So the attack gives the attacker every public figure (the anonymous attacks of
``tests/api/test_disclosure_attacks.py``: figures beside rounded counts, trend means, differencing, the interval
audit) plus the lead's own trust's exact counts in every period and quarter, and tries, for every trust with a
hidden cell, to recover any other organisation's hidden count: its alliance minus itself and its shown
neighbours, England minus the rest, repeated to a fixed point.

What it found before secondary suppression allowed for it (30,000-patient bowel release): 124 leads recovered 227
of other organisations' hidden counts. Now every total over several organisations with trusts among its parts
hides none or at least three cells, a known 0 not counting: none is recovered. The alliance's and England's
figures stay public for a trust's team: with its alliance's exact counts too a lead would recover some (the last
test). ``TRUST_TEAMS_SEE_OWN_FIGURES=false`` turns the feature off: a trust's team then reads the public figures.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from accounts.models import TrustLead
from indicators.models import IndicatorResult
from tests.api.test_disclosure_attacks import (
    COUNTS,
    Cell,
    difference,
    download,
    equations,
    every_page,
    interval_audit,
    rebuild,
    trend_means,
    truth,
)
from tests.dashboards import data

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

AUDIT = "bowel"


@pytest.fixture(scope="module")
def release(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        loaded = data.load({AUDIT: 30_000}, seed=9)
    yield loaded
    with django_db_blocker.unblock():
        data.clear()


@pytest.fixture(autouse=True)
def patient_attacker(monkeypatch):
    """An attacker is not stopped by the API's rate limits, only slowed down: the test does not wait."""
    from rest_framework.views import APIView

    monkeypatch.setattr(APIView, "get_throttles", lambda self: [])


def lead_of(trust: str) -> User:
    user = User.objects.create_user(f"lead-{trust}", password="pw-for-trust-team-tests-only")  # noqa: S106
    TrustLead.objects.create(user=user, trust_id=trust, audit_id=AUDIT)
    return user


def hidden_trusts(release) -> dict[str, str]:
    """Trusts with a result hidden from the public, and their alliance."""
    run = release["runs"][AUDIT]
    from audits.models import Trust

    codes = set(
        IndicatorResult.objects.filter(run=run, level="provider", suppressed=True).values_list(
            "organisation", flat=True
        )
    )
    return dict(Trust.objects.filter(code__in=codes).values_list("code", "alliance_id"))


# ------------------------------------------------------------------ what a lead is shown


def test_a_lead_gets_its_trusts_results_exactly_through_the_api_and_every_other_row_as_published(client, release):
    run = release["runs"][AUDIT]
    own = sorted(hidden_trusts(release))[0]
    url = reverse("api:result-list")
    public = {
        (r["indicator"], r["level"], r["organisation"], r["period"]): r for r in every_page(client, url, audit=AUDIT)
    }
    client.force_login(lead_of(own))
    seen = {
        (r["indicator"], r["level"], r["organisation"], r["period"]): r for r in every_page(client, url, audit=AUDIT)
    }
    assert seen.keys() == public.keys()
    exact = {
        (r["indicator"], r["level"], r["organisation"], r["period"]): r
        for r in IndicatorResult.objects.filter(run=run).values(
            "indicator", "level", "organisation", "period", "numerator", "denominator", "flag", "suppressed"
        )
    }
    differ = 0
    for key, row in seen.items():
        if key[1] == "provider" and key[2] == own:
            for name in ("numerator", "denominator", "flag", "suppressed"):
                assert row[name] == exact[key][name], (key, name)
            differ += row != public[key]
        else:
            assert row == public[key], key
    assert differ  # there was something to see
    # A single result and the trend of the trust: exact; the alliance's trend: as published.
    one = next(k for k in seen if k[1] == "provider" and k[2] == own and exact[k]["suppressed"])
    trend = client.get(reverse("api:xmr", args=[AUDIT, one[0], own])).json()
    assert all(p["numerator"] is not None for p in trend["points"])
    alliance = hidden_trusts(release)[own]
    client.logout()
    public_trend = client.get(reverse("api:xmr", args=[AUDIT, one[0], alliance])).json()
    client.force_login(User.objects.get(username=f"lead-{own}"))
    assert client.get(reverse("api:xmr", args=[AUDIT, one[0], alliance])).json() == public_trend


def test_a_leads_cached_api_page_never_reaches_the_public(client, release):
    own = sorted(hidden_trusts(release))[0]
    url = reverse("api:result-list")
    params = {"audit": AUDIT, "organisation": own, "level": "provider"}
    client.force_login(lead_of(own))
    seen = client.get(url, params).json()
    client.logout()
    public = client.get(url, params).json()
    assert seen != public
    assert all(r["numerator"] is not None or r["denominator"] == 0 for r in seen["results"])
    assert any(r["numerator"] is None for r in public["results"])


# ------------------------------------------------------------------ the attack


@pytest.fixture(scope="module")
def attack(release, django_db_blocker):
    """What every lead starts from: the public figures (downloaded anonymously) and what they give by themselves."""
    from django.test import Client
    from rest_framework.views import APIView

    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(APIView, "get_throttles", lambda self: [])  # not stopped by rate limits, only slowed down
        cells, alliance_of, ratio, trends = download(Client())
        true = truth(release)
    # The relations that hold: a trust merged into a successor mid-year (audits/seed/successors.csv) has its
    # quarters under the successor, so its year is not the sum of its own quarters (nor England's and its
    # alliance's that year of their trusts' rows). A relation that does not hold only misleads the attacker; with
    # a lead's exact counts it would make the interval audit contradict itself.
    eqs = [
        (total, parts)
        for total, parts in equations(cells, alliance_of)
        if all(
            true.get((total, name)) is None
            or any(true.get((p, name)) is None for p in parts)
            or true[(total, name)] == sum(true[(p, name)] for p in parts)
            for name in COUNTS
        )
    ]
    rebuilt = rebuild(cells)
    known = {**rebuilt, **trend_means(trends, cells, ratio, rebuilt)}
    hidden = {(key, name) for key, cell in cells.items() for name in COUNTS if cell.counts.get(name) is None}
    zero_totals = {
        (member, name)
        for total, parts in eqs
        for name in COUNTS
        if cells[total].counts.get(name) == 0
        for member in parts
    }
    # Every trust with a hidden cell whose alliance has another trust with one: the leads with something to gain.
    alliances = defaultdict(set)
    for key, _ in hidden:
        if key[1] == "provider":
            alliances[alliance_of.get(key[2])].add(key[2])
    attackers = sorted(t for members in alliances.values() if len(members) > 1 for t in members)
    return cells, alliance_of, eqs, known, hidden, zero_totals, true, attackers


def leaks(attack, own: str, *, with_alliance: bool = False) -> tuple[int, list[tuple[Cell, str]]]:
    """(hidden counts attacked, those recovered) by the lead of ``own`` knowing its trust's exact counts (and, to
    show why it never gets them, its alliance's)."""
    cells, alliance_of, eqs, known, hidden, zero_totals, true, _ = attack
    alliance = alliance_of.get(own)
    mine = {
        (key, name): true[(key, name)]
        for key in cells
        if (key[1] == "provider" and key[2] == own) or (with_alliance and key[1] == "alliance" and key[2] == alliance)
        for name in COUNTS
        if true.get((key, name)) is not None
    }
    others = [t for t in hidden if t not in mine]
    derived = difference(eqs, {**known, **mine})
    bounds = interval_audit(cells, eqs, known=mine)
    found = []
    for target in others:
        low, high = bounds[target]
        assert low <= true[target] <= high, (target, low, high, true[target])  # the audit is sound
        if (derived.get(target) == true[target] or low == high) and not (true[target] == 0 and target in zero_totals):
            found.append(target)
    return len(others), found


def test_a_lead_who_knows_its_own_exact_counts_recovers_no_other_organisations_suppressed_count(attack):
    """Secondary suppression allows for a trust's knowledge of its own counts: every total over several organisations
    with trusts among its parts hides none or at least three cells, not counting cells an attacker knows anyway (a
    0, or all patients). Before that rule, on this release, 124 leads recovered 227 of other organisations' hidden
    counts; with only the "three" half of it, 32 (alliances' counts pinned through a neighbour's hidden 0)."""
    attackers = attack[-1]
    assert len(attackers) >= 10
    attacked, recovered = 0, []
    for own in attackers:
        count, found = leaks(attack, own)
        attacked += count
        recovered += [(own, target) for target in found]
    report = f"{len(attackers)} leads attacked {attacked} hidden counts in all: {len(recovered)} recovered"
    print(report)  # noqa: T201 - the figure the issue asks for
    assert not recovered, (report, recovered[:20])


def test_with_the_setting_off_a_lead_sees_exactly_what_the_public_sees(client, release, settings):
    settings.TRUST_TEAMS_SEE_OWN_FIGURES = False
    own = sorted(hidden_trusts(release))[0]
    url = reverse("api:result-list")
    public = every_page(client, url, audit=AUDIT, organisation=own)
    client.force_login(lead_of(own))
    assert every_page(client, url, audit=AUDIT, organisation=own) == public


def test_the_setting_is_on_by_default(settings):
    assert settings.TRUST_TEAMS_SEE_OWN_FIGURES is True  # the test environment leaves it unset


def test_the_same_leads_given_their_alliances_exact_counts_would_recover_neighbours(attack):
    """Why a lead never gets its alliance's exact figures: with them, a total whose hidden cells are the lead's own
    and a neighbour's gives the neighbour back."""
    recovered = [target for own in attack[-1] for target in leaks(attack, own, with_alliance=True)[1]]
    assert recovered
