"""An attacker's try at recovering suppressed counts from what anyone may download (issue 9, part 2).

A bowel release large enough to have hundreds of suppressed cells is imported and computed for
real. Then, as an anonymous client, the attacker fetches every result of every indicator, level and
period from the API, every organisation's quarterly trend, and the CSV downloads of the indicator
pages and of the trend pages, and tries what the issue describes:

1. rebuild exact counts of the shown rows from the figures published beside them
   (``expected / national_value`` = the denominator of a proportion, ``value x denominator`` = its
   numerator, ``value x expected`` = an O/E's observed count, the 1-decimal percentages of the
   pages' CSVs beside their rounded counts);
2. give back a hidden quarter from a trend's published mean (``mean x n`` minus the shown points);
3. difference every published total: an alliance minus its other trusts, England minus the other
   trusts (and alliances), all years minus the other years, a year minus its other quarters, all
   years minus every other quarter, repeating while anything new is learned;
4. a sound interval audit of the same hierarchies: each shown count lies within 2 of its rounded
   value (a shown 0 is 0), each hidden one is anything from 0, England's counts are exact, and each
   total's bounds tighten its parts' and back until nothing changes (what a linear-programming
   attacker gets, without integrality).

A hidden count is recovered when an attack derives its true value (read from the database, as the
audit's analysts see it). The test asserts that none is, except a 0 inside a total published as 0
(HES shows 0 as 0: the published 0 already says it), and reports how many it attacked. On a
30,000-patient release: 17,602 hidden counts (8,801 hidden cells) attacked, none recovered; the same
attacks recovered 657 of 7,279 on the code before docs/adr/0004.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from accounts.models import TrustLead
from indicators.models import IndicatorResult, TrendSeries
from tests.dashboards import data

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

AUDIT = "bowel"
ENGLAND = "E92000001"
COUNTS = ("numerator", "denominator")
BIG = 1e9  # "no upper bound": a count is far below it

Cell = tuple[str, str, str, str]  # indicator, level, organisation, period or quarter


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


# ------------------------------------------------------------------ what the attacker downloads


def api(client, url: str, **params) -> Any:
    response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return response.json()


def every_page(client, url: str, **params) -> list[dict[str, Any]]:
    rows, page = [], 1
    while True:
        answer = api(client, url, page_size=10_000, page=page, **params)
        rows.extend(answer["results"])
        if not answer["next"]:
            return rows
        page += 1


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def shown_count(text: str) -> int | None:
    text = text.replace(",", "").strip()
    return int(text) if text.isdigit() else None


def shown_percent(text: str) -> float | None:
    text = text.strip()
    return float(text[:-1]) / 100 if text.endswith("%") and text[:-1].replace(".", "").isdigit() else None


def audit_year_of(quarter: str) -> int:
    """The April-March audit year an NHS financial quarter ("2024/25 Q1") belongs to."""
    return int(quarter[:4])


def period_label(start: int) -> str:
    return f"{start}/{(start + 1) % 100:02d}"


@dataclass
class Published:
    """Everything the attacker learned about one cell (an organisation's result in a period or quarter)."""

    counts: dict[str, int | None] = field(default_factory=dict)
    # Each is a test a candidate (numerator, denominator) must pass to explain the published figures.
    checks: list[Any] = field(default_factory=list)


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def download(client) -> tuple[dict[Cell, Published], dict[str, str], dict[str, bool], list[dict[str, Any]]]:
    """Every public figure of the audit: API results, API trends, and the pages' CSVs."""
    alliance_of = {t["code"]: t["alliance"] for t in every_page(client, reverse("api:trust-list"))}
    indicators = api(client, reverse("api:indicator-list", args=[AUDIT]))
    indicators = indicators["results"] if isinstance(indicators, dict) else indicators
    ratio = {i["code"]: bool(i["risk_adjusted"]) for i in indicators}
    cells: dict[Cell, Published] = defaultdict(Published)
    rows = every_page(client, reverse("api:result-list"), audit=AUDIT)
    for r in rows:
        cell = cells[(r["indicator"], r["level"], r["organisation"], r["period"])]
        cell.counts = {k: r[k] for k in COUNTS}
        value, expected, national = r["value"], r["expected"], r["national_value"]
        if value is not None and not ratio[r["indicator"]]:
            cell.checks.append(lambda n, d, v=value: d > 0 and close(n / d, v))
        if expected is not None and national and not ratio[r["indicator"]]:
            cell.checks.append(lambda n, d, e=expected, p=national: close(d * p, e))
        if value is not None and expected and ratio[r["indicator"]]:
            cell.checks.append(lambda n, d, v=value, e=expected: close(n / e, v))
    # Trends of every organisation with results, through the API.
    trends = []
    organisations = {(r["level"], r["organisation"]) for r in rows}
    for code in ratio:
        for level, organisation in sorted(organisations):
            response = client.get(reverse("api:xmr", args=[AUDIT, code, organisation]))
            if response.status_code == 404:
                continue
            assert response.status_code == 200
            trend = response.json()
            trends.append(trend)
            for p in trend["points"]:
                cell = cells[(code, level, organisation, p["quarter"])]
                cell.counts = {k: p[k] for k in COUNTS}
                if p["value"] is not None and not ratio[code]:
                    cell.checks.append(lambda n, d, v=p["value"]: d > 0 and close(n / d, v))
    # The indicator pages' tables (every period, trusts and alliances) as downloaded.
    periods = defaultdict(set)
    for r in rows:
        periods[r["indicator"]].add(r["period"])
    for code in ratio:
        for period in sorted(periods[code]):
            for table, level in (("trusts", "provider"), ("alliances", "alliance")):
                url = reverse("indicator", args=[AUDIT, code])
                for line in csv_rows(client.get(url, {"period": period, "download": table})):
                    key = (code, level, line["code"], period)
                    count_columns = ("observed", "patients") if ratio[code] else COUNTS
                    shown = dict(zip(COUNTS, (shown_count(line[c]) for c in count_columns), strict=True))
                    for name in COUNTS:  # the page shows no more than the API
                        assert shown[name] == cells[key].counts.get(name), (key, name, line)
                    percent = shown_percent(line["value"] if not ratio[code] else "")
                    if percent is not None:
                        cells[key].checks.append(lambda n, d, v=percent: d > 0 and abs(n / d - v) <= 0.0005 + 1e-12)
    # The trend pages' tables of the trusts with a hidden quarter (the ones worth attacking).
    for trend in trends:
        if trend["level"] != "provider" or all(p["numerator"] is not None for p in trend["points"]):
            continue
        url = reverse("trust-trend", args=[trend["organisation"], AUDIT, trend["indicator"]])
        for line in csv_rows(client.get(url, {"download": "quarters"})):
            key = (trend["indicator"], "provider", trend["organisation"], line["quarter"])
            for name in COUNTS:
                assert shown_count(line[name]) == cells[key].counts.get(name), (key, name, line)
            percent = shown_percent(line["value"])
            if percent is not None and not ratio[trend["indicator"]]:
                cells[key].checks.append(lambda n, d, v=percent: d > 0 and abs(n / d - v) <= 0.0005 + 1e-12)
    return dict(cells), alliance_of, ratio, trends


# ------------------------------------------------------------------ the hierarchies of published totals


def equations(cells: dict[Cell, Published], alliance_of: dict[str, str]) -> list[tuple[Cell, list[Cell]]]:
    """(total, its parts) for every published total: a part with no row has no patients (a known 0).

    An indicator that ``requires`` a field (its definition is public) leaves a trust's year with the field recorded
    too rarely out of England's and its alliance's figures and out of the trust's all-years row (README,
    "Indicators"), and a hidden row does not say whether it was left out: of its totals the attacker keeps only
    those that hold whatever was left out, England's over the alliances and an alliance's over its years."""
    from indicators.registry import indicators_for

    partial = {indicator.code for indicator in indicators_for(AUDIT) if indicator.requires}
    return [
        (total, parts)
        for total, parts in _equations(cells, alliance_of)
        if total[0] not in partial or _holds_when_trusts_are_left_out(total, parts)
    ]


def _holds_when_trusts_are_left_out(total: Cell, parts: list[Cell]) -> bool:
    code, level, _, time = total
    over_alliances = level == "national" and all(part[1] == "alliance" and part[3] == time for part in parts)
    over_years = level == "alliance" and "-" in time and all("Q" not in part[3] for part in parts)
    return over_alliances or over_years


def _equations(cells: dict[Cell, Published], alliance_of: dict[str, str]) -> list[tuple[Cell, list[Cell]]]:
    by = defaultdict(set)
    for code, level, organisation, time in cells:
        by[(code, level, time)].add(organisation)
    out = []
    for code, level, time in list(by):
        if level != "national":
            continue
        trusts = sorted(by.get((code, "provider", time), ()))
        alliances = sorted(by.get((code, "alliance", time), ()))
        out.append(((code, level, ENGLAND, time), [(code, "provider", t, time) for t in trusts]))
        out.append(((code, level, ENGLAND, time), [(code, "alliance", a, time) for a in alliances]))
        for alliance in alliances:
            members = [t for t in trusts if alliance_of.get(t) == alliance]
            out.append(((code, "alliance", alliance, time), [(code, "provider", t, time) for t in members]))
    times = defaultdict(set)
    for code, level, organisation, time in cells:
        times[(code, level, organisation)].add(time)
    for (code, level, organisation), known in times.items():
        years = sorted(t for t in known if "/" in t and "-" not in t and "Q" not in t)
        pooled = [t for t in known if "-" in t]
        quarters = sorted(t for t in known if "Q" in t)
        whole = pooled[0] if pooled else (years[0] if len(years) == 1 else None)

        def cell(t: str, code=code, level=level, organisation=organisation) -> Cell:
            return (code, level, organisation, t)

        if pooled:
            out.append((cell(pooled[0]), [cell(y) for y in years]))
        if whole and quarters:
            out.append((cell(whole), [cell(q) for q in quarters]))
        for year in years:
            start = int(year[:4])
            out.append((cell(year), [cell(q) for q in quarters if audit_year_of(q) == start]))
    return out


# ------------------------------------------------------------------ the attacks


def candidates(count: int | None) -> range:
    """The true counts a published count may stand for (rounded to 5; 1-7 never shown)."""
    if count is None:
        return range(0, 0)
    if count == 0:
        return range(0, 1)
    return range(max(8, count - 2), count + 3)


def rebuild(cells: dict[Cell, Published]) -> dict[tuple[Cell, str], int]:
    """Attack 1: exact counts of shown rows from the figures beside them (a unique explaining pair)."""
    exact: dict[tuple[Cell, str], int] = {}
    for key, cell in cells.items():
        if key[1] == "national":
            exact.update({(key, name): cell.counts[name] for name in COUNTS})
            continue
        n_range, d_range = candidates(cell.counts.get("numerator")), candidates(cell.counts.get("denominator"))
        if not cell.checks or not len(n_range) or not len(d_range):
            continue
        pairs = [(n, d) for n in n_range for d in d_range if n <= d and all(check(n, d) for check in cell.checks)]
        if len({n for n, _ in pairs}) == 1:
            exact[(key, "numerator")] = pairs[0][0]
        if len({d for _, d in pairs}) == 1:
            exact[(key, "denominator")] = pairs[0][1]
    return exact


def trend_means(
    trends: list[dict[str, Any]], cells: dict[Cell, Published], ratio: dict[str, bool], exact: dict
) -> dict[tuple[Cell, str], int]:
    """Attack 2: a hidden quarter's value = mean x n - the shown values; its numerator = value x denominator."""
    found = {}
    for trend in trends:
        chart, code = trend["chart"], trend["indicator"]
        if not chart or ratio[code] or chart.get("mean") is None:
            continue
        values = [p["value"] for p in trend["points"] if p["value"] is not None]
        if chart["n_points"] - len(values) != 1:
            continue
        hidden = next(p for p in trend["points"] if p["value"] is None and p["numerator"] is None)
        value = chart["mean"] * chart["n_points"] - sum(values)
        key = (code, trend["level"], trend["organisation"], hidden["quarter"])
        denominators = (
            [exact[(key, "denominator")]]
            if (key, "denominator") in exact
            else list(candidates(cells[key].counts.get("denominator")))
        )
        numerators = {round(value * d) for d in denominators if abs(value * d - round(value * d)) < 1e-6}
        if len(numerators) == 1:
            found[(key, "numerator")] = numerators.pop()
    return found


def difference(eqs: list[tuple[Cell, list[Cell]]], known: dict[tuple[Cell, str], int]) -> dict[tuple[Cell, str], int]:
    """Attack 3: a total with one unknown member gives it back; repeat until nothing new is learned."""
    known = dict(known)
    changed = True
    while changed:
        changed = False
        for name in COUNTS:
            for total, parts in eqs:
                members = [total, *parts]
                unknown = [m for m in members if (m, name) not in known]
                if len(unknown) != 1:
                    continue
                (missing,) = unknown
                parts_sum = sum(known[(p, name)] for p in parts if p != missing)
                known[(missing, name)] = parts_sum if missing == total else known[(total, name)] - parts_sum
                changed = True
    return known


def interval_audit(
    cells: dict[Cell, Published],
    eqs: list[tuple[Cell, list[Cell]]],
    known: dict[tuple[Cell, str], int] | None = None,
) -> dict[tuple[Cell, str], tuple[float, float]]:
    """Attack 4: sound bounds of every count from the rounding and every published total, to a fixed point.

    Also: a numerator is at most its denominator, and (an anonymous attacker, without ``known``) a listed cell has
    at least one patient. With ``known`` (an attacker who knows some counts exactly: a trust's lead its own trust's)
    those counts are exact, and a listed cell may have none: a trust merged mid-year lists quarters with none (its
    patients are its successor's), and a wrong bound would make the audit unsound.
    """
    index = {key: i for i, key in enumerate(cells)}
    lo = {name: np.zeros(len(index)) for name in COUNTS}
    hi = {name: np.full(len(index), BIG) for name in COUNTS}
    if known is None:
        lo["denominator"][:] = 1
    for name in COUNTS:
        for key, i in index.items():
            shown = candidates(cells[key].counts.get(name))
            if known is not None and (key, name) in known:
                lo[name][i] = hi[name][i] = known[(key, name)]
            elif key[1] == "national" and (known is None or cells[key].counts.get(name) is not None):
                lo[name][i] = hi[name][i] = cells[key].counts[name]
            elif len(shown):
                lo[name][i], hi[name][i] = shown.start, shown.stop - 1
    unknown = {name: int(np.isnan(lo[name]).sum() + np.isnan(hi[name]).sum()) for name in COUNTS}
    assert not any(unknown.values()), unknown  # every starting bound is a number
    eq_id, member, sign = [], [], []
    for e, (total, parts) in enumerate(eqs):
        for m, s in ((total, 1.0), *((p, -1.0) for p in parts if p in index)):
            eq_id.append(e)
            member.append(index[m])
            sign.append(s)
    eq, cell, a = np.array(eq_id), np.array(member), np.array(sign)
    for _ in range(200):
        before = [x.copy() for x in (*lo.values(), *hi.values())]
        for name in COUNTS:
            term_lo = np.where(a > 0, lo[name][cell], -hi[name][cell])
            term_hi = np.where(a > 0, hi[name][cell], -lo[name][cell])
            sum_lo = np.bincount(eq, weights=term_lo, minlength=len(eqs))[eq]
            sum_hi = np.bincount(eq, weights=term_hi, minlength=len(eqs))[eq]
            # a_i x_i = -(sum of the other terms)
            other_lo, other_hi = -(sum_hi - term_hi), -(sum_lo - term_lo)
            np.maximum.at(lo[name], cell, np.ceil(np.where(a > 0, other_lo, -other_hi) - 1e-6))
            np.minimum.at(hi[name], cell, np.floor(np.where(a > 0, other_hi, -other_lo) + 1e-6))
        hi["numerator"] = np.minimum(hi["numerator"], hi["denominator"])
        lo["denominator"] = np.maximum(lo["denominator"], lo["numerator"])
        if all(np.array_equal(x, y) for x, y in zip(before, (*lo.values(), *hi.values()), strict=True)):
            break
    return {(key, name): (lo[name][i], hi[name][i]) for key, i in index.items() for name in COUNTS}


# ------------------------------------------------------------------ the test


def truth(release) -> dict[tuple[Cell, str], int]:
    run = release["runs"][AUDIT]
    true = {}
    for r in IndicatorResult.objects.filter(run=run).values("indicator", "level", "organisation", "period", *COUNTS):
        for name in COUNTS:
            true[((r["indicator"], r["level"], r["organisation"], r["period"]), name)] = r[name]
    for t in TrendSeries.objects.filter(run=run).values("indicator", "level", "organisation", "points"):
        for p in t["points"]:
            for name in COUNTS:
                true[((t["indicator"], t["level"], t["organisation"], p["quarter"]), name)] = p[name]
    return true


@pytest.fixture(scope="module")
def public(release, django_db_blocker):
    """Every public figure, downloaded once by an anonymous client, and the truth (what the analysts see): shared
    by the anonymous attacks and the trust leads' below."""
    from django.test import Client
    from rest_framework.views import APIView

    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(APIView, "get_throttles", lambda self: [])  # not stopped by rate limits, only slowed down
        return (*download(Client()), truth(release))


def test_no_suppressed_count_can_be_recovered_from_public_downloads(public):
    cells, alliance_of, ratio, trends, true = public
    hidden = {(key, name) for key, cell in cells.items() for name in COUNTS if cell.counts.get(name) is None}
    eqs = equations(cells, alliance_of)

    rebuilt = rebuild(cells)
    from_means = trend_means(trends, cells, ratio, rebuilt)
    derived = difference(eqs, {**rebuilt, **from_means})
    bounds = interval_audit(cells, eqs)

    recovered = {target for target in hidden if derived.get(target) == true[target]}
    pinned = {target for target in hidden if bounds[target][0] == bounds[target][1]}
    for target in pinned:  # the audit is sound: a pinned count is the true one
        assert bounds[target][0] == true[target], target
    # A hidden count in a total published as 0 is 0: the published 0 says so (HES shows 0 as 0), and
    # hiding the 0 would not help (its own totals would give it back). Nothing else may be pinned.
    zero_totals = {
        (member, name)
        for total, parts in eqs
        for name in COUNTS
        if cells[total].counts.get(name) == 0
        for member in parts
    }
    recovered_nonzero = {t for t in recovered | pinned if true[t] != 0}
    zeros = {t for t in recovered | pinned if true[t] == 0}
    pinned_shown = [k for k in rebuilt if k[0][1] != "national"]
    rebuilt_shown = sum(1 for k in pinned_shown if rebuilt[k] == true[k])
    report = (
        f"{len(hidden)} hidden counts attacked ({sum(1 for t in hidden if 1 <= true[t] <= 7)} of them 1-7) "
        f"in {len(cells)} published cells and {len(eqs)} published totals; the figures beside them explain "
        f"{len(pinned_shown)} shown counts one way only, rightly for {rebuilt_shown}; {len(from_means)} hidden "
        f"quarters from trend means; recovered by differencing "
        f"{len(recovered)}, by the interval audit {len(pinned)} (zeros in a total published as 0: "
        f"{len(zeros & zero_totals)}); any other: {len(recovered_nonzero | (zeros - zero_totals))}"
    )
    print(report)  # noqa: T201 - the figures the issue asks for
    assert len(hidden) >= 300, report
    assert not recovered_nonzero and zeros <= zero_totals, report


# ------------------------------------------------------------------ a trust's team (issue 13, item 4)
#
# A trust's team sees its own trust's exact figures through the API, and a lead who knows them gets back no other
# organisation's suppressed count (issue 13, item 4; docs/adr/0004-disclosure-control-against-differencing.md, "Trust
# teams").
#
# The attacker is a trust's clinical lead. What the lead is shown is the public's figures with the lead's own trust's
# rows and quarters exact (checked first, against the database); beyond that, a lead may know its own trust's exact
# counts from its own records anyway. So the attack gives the attacker every public figure (the anonymous attacks of
# ``tests/api/test_disclosure_attacks.py``: figures beside rounded counts, trend means, differencing, the interval
# audit) plus the lead's own trust's exact counts in every period and quarter, and tries, for every trust with a
# hidden cell, to recover any other organisation's hidden count: its alliance minus itself and its shown
# neighbours, England minus the rest, repeated to a fixed point.
#
# What it found before secondary suppression allowed for it (30,000-patient bowel release): 124 leads recovered 227
# of other organisations' hidden counts. Now every total over several organisations with trusts among its parts
# hides none or at least three cells, a known 0 not counting: none is recovered. The alliance's and England's
# figures stay public for a trust's team: with its alliance's exact counts too a lead would recover some (the last
# test). ``TRUST_TEAMS_SEE_OWN_FIGURES=false`` turns the feature off: a trust's team then reads the public figures.


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
def attack(public):
    """What every lead starts from: the public figures (downloaded anonymously) and what they give by themselves."""
    cells, alliance_of, ratio, trends, true = public
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
