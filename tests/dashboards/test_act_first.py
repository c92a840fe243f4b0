"""Where to act first, against a known truth: hand-made results of one alliance with two planted trusts.

England's rates are 20% (emergency presentation, lower is better) and 85% (MDT discussion, higher is better);
every trust has 200 patients, the alliance its members' 800:

==========  ============================  =======================  ===========================================
trust       emergency presentation        MDT discussion           part in the story
==========  ============================  =======================  ===========================================
PLANTED_A   70 (expected 40: +30)         150 (expected 170: +20)  the largest named contributor
PLANTED_B   60 (expected 40: +20)         170 (as expected)        the second
LEVEL       40 (as expected)              170                      at England's rate: never named
HIDDEN      90 (expected 40: +50)         170                      its rows hidden from the public
==========  ============================  =======================  ===========================================

The alliance: 260 emergency presentations against 160 expected (100 patients; interval from its 95% limits
29% to 36%: 72 to 128), 660 discussed against 680 expected (20 patients). ``major_resection`` has no
direction: it is not listed.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from audits.models import Alliance, Trust
from audits.organisations import load_organisations
from audits.registry import get_definition
from audits.services.imports import sync_audit
from dashboards.pages.act_first import CONTRIBUTORS_CSV, OPPORTUNITIES_CSV, opportunity
from dashboards.selectors import DERIVED
from indicators.levels import ALLIANCE, ENGLAND_CODE, NATIONAL, PROVIDER
from indicators.models import ComputationRun, IndicatorResult
from indicators.registry import indicators_for
from tests.alerts import world

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-act-first-tests-only-0123"  # noqa: S105 - a test user's password
PERIOD = ("2023/24-2025/26", date(2023, 4, 1), date(2026, 3, 31))
ENGLAND = {"emergency_presentation": 0.20, "mdt_discussed": 0.85, "major_resection": 0.5}
# numerators per trust role and indicator (of 200 patients each)
STORY = {
    "PLANTED_A": {"emergency_presentation": 70, "mdt_discussed": 150},
    "PLANTED_B": {"emergency_presentation": 60, "mdt_discussed": 170},
    "LEVEL": {"emergency_presentation": 40, "mdt_discussed": 170},
    "HIDDEN": {"emergency_presentation": 90, "mdt_discussed": 170},
}
INTERVALS = {"emergency_presentation": (0.29, 0.36), "mdt_discussed": (0.80, 0.85)}


def _row(run, code, level, organisation, numerator, denominator, *, interval=None, hidden=False, flag="none"):
    value = numerator / denominator
    lower, upper = interval or (value - 0.05, value + 0.05)
    figures = {"numerator": numerator, "denominator": denominator, "observed": numerator, "value": value}
    figures |= {"ci_lower": lower, "ci_upper": upper}
    return IndicatorResult(
        run=run,
        release=run.release,
        audit_code="bowel",
        indicator=code,
        level=level,
        organisation=organisation,
        period=PERIOD[0],
        period_start=PERIOD[1],
        period_end=PERIOD[2],
        numerator=numerator,
        denominator=denominator,
        observed=numerator,
        value=value,
        ci_lower=lower,
        ci_upper=upper,
        national_value=ENGLAND[code],
        flag=flag,
        eligible=True,
        suppressed=hidden,
        public=None if level == NATIONAL or hidden else figures,
        method_version="test",
    )


@pytest.fixture
def story():
    load_organisations()
    DERIVED.clear()
    audit = sync_audit(get_definition("bowel"))
    release = world.make_release(audit, 1)
    run = ComputationRun.objects.create(
        release=release,
        status=ComputationRun.Status.DONE,
        is_current=True,
        method_version="test",
        finished_at=timezone.now(),
    )
    alliance = next(a for a in Alliance.objects.order_by("code") if a.trusts.count() >= 4)
    members = list(Trust.objects.filter(alliance=alliance).order_by("code"))
    trusts = dict(zip(STORY, members[:4], strict=True))
    rows = []
    for code, rate in ENGLAND.items():
        rows.append(_row(run, code, NATIONAL, ENGLAND_CODE, round(rate * 10_000), 10_000))
        if code == "major_resection":
            rows.append(_row(run, code, ALLIANCE, alliance.code, 600, 800, flag="alarm_high"))
            continue
        for role, trust in trusts.items():
            rows.append(_row(run, code, PROVIDER, trust.code, STORY[role][code], 200, hidden=role == "HIDDEN"))
        total = sum(STORY[role][code] for role in STORY)
        rows.append(_row(run, code, ALLIANCE, alliance.code, total, 800, interval=INTERVALS[code]))
    IndicatorResult.objects.bulk_create(rows)
    return {"alliance": alliance, "trusts": trusts, "run": run}


def analyst() -> User:
    user = User.objects.create_user("act-analyst", password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name="analysts:bowel")[0])
    return user


def test_the_excess_is_turned_to_the_worse_direction():
    definitions = {d.code: d for d in indicators_for("bowel")}
    row = {"numerator": 150, "denominator": 200, "national_value": 0.85, "expected": None}
    row |= {"ci_lower": 0.70, "ci_upper": 0.80}
    # higher is better: E - O = 170 - 150, and the interval's ends swap: 200 x (0.85 - 0.80) to 200 x (0.85 - 0.70)
    assert opportunity(row, definitions["mdt_discussed"]) == pytest.approx((20, 10, 30))
    row = {"numerator": 70, "denominator": 200, "national_value": 0.20, "expected": None}
    row |= {"ci_lower": 0.30, "ci_upper": 0.40}
    assert opportunity(row, definitions["emergency_presentation"]) == pytest.approx((30, 20, 40))
    assert opportunity(None, definitions["emergency_presentation"]) == (None, None, None)


def test_indicators_are_ordered_by_opportunity_with_the_planted_trusts_named(client, story):
    url = reverse("alliance-act-first", args=[story["alliance"].code])
    response = client.get(url)
    assert response.status_code == 200
    items = response.context["data"].items
    assert [i.code for i in items] == ["emergency_presentation", "mdt_discussed"]  # no direction: not listed
    first, second = items
    assert (first.excess, first.lower, first.upper) == pytest.approx((100, 72, 128))
    assert (second.excess, second.lower, second.upper) == pytest.approx((20, 0, 40))
    t = story["trusts"]
    assert [(c.code, round(c.excess, 6)) for c in first.contributors] == [
        (t["PLANTED_A"].code, 30),
        (t["PLANTED_B"].code, 20),
    ]
    assert [c.code for c in second.contributors] == [t["PLANTED_A"].code]
    assert first.sentence == (
        "If every trust in the alliance had matched England's rate, there would have been about 100.0 fewer "
        "patients diagnosed after an emergency presentation (95% interval +72.0 to +128.0); most of the difference "
        f"is at {t['PLANTED_A'].name} and {t['PLANTED_B'].name}."
    )
    assert "about 20.0 more patients recorded as discussed" in second.sentence
    assert "chance alone could explain it" in second.sentence  # its interval reaches no difference
    page = response.content.decode()
    assert page.index("Diagnosed after an emergency presentation") < page.index("Discussed at a multidisciplinary")
    assert "<h1>Where to act first" in page and "<caption" in page
    # The alliance page links to it.
    assert url in client.get(reverse("alliance", args=[story["alliance"].code])).content.decode()


def test_a_hidden_trust_is_never_named_and_no_remainder_is_shown(client, story):
    hidden = story["trusts"]["HIDDEN"]
    code = story["alliance"].code
    page = client.get(reverse("alliance-act-first", args=[code])).content.decode()
    assert hidden.name not in page and hidden.code not in page
    assert "other trusts" not in page.lower().replace("no figure is given for the trusts not named", "")
    for table in ("opportunities", "trusts"):
        body = client.get(reverse("alliance-act-first", args=[code]), {"download": table}).content.decode()
        assert hidden.name not in body and hidden.code not in body
    # The audit's analysts see every trust exactly: the hidden trust, the largest, is named first for them.
    client.force_login(analyst())
    response = client.get(reverse("alliance-act-first", args=[code]))
    first = response.context["data"].items[0]
    assert [c.code for c in first.contributors][:1] == [hidden.code]
    assert len(first.contributors) == 3


def test_the_csvs_are_tidy(client, story):
    code = story["alliance"].code
    response = client.get(reverse("alliance-act-first", args=[code]), {"download": "opportunities"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == OPPORTUNITIES_CSV.header
    assert {"indicator", "excess", "lower", "upper", "direction", "period", "release"} <= set(rows[0])
    assert [(r["indicator_code"], float(r["excess"]), float(r["lower"]), float(r["upper"])) for r in rows] == [
        ("emergency_presentation", 100.0, 72.0, 128.0),
        ("mdt_discussed", 20.0, 0.0, 40.0),
    ]
    assert {r["direction"] for r in rows} == {"lower_is_better", "higher_is_better"}
    assert {(r["period"], r["release"]) for r in rows} == {(PERIOD[0], "1")}
    response = client.get(reverse("alliance-act-first", args=[code]), {"download": "trusts"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == CONTRIBUTORS_CSV.header
    assert [(r["indicator_code"], r["trust_code"], float(r["excess"])) for r in rows] == [
        ("emergency_presentation", story["trusts"]["PLANTED_A"].code, 30.0),
        ("emergency_presentation", story["trusts"]["PLANTED_B"].code, 20.0),
        ("mdt_discussed", story["trusts"]["PLANTED_A"].code, 20.0),
    ]
    assert client.get(reverse("alliance-act-first", args=[code]), {"download": "nope"}).status_code == 404


def test_an_interval_splits_into_its_two_ends_for_the_csvs():
    from dashboards import text

    assert text.interval_ends(text.interval(0.1, 0.25)) == ("10.0%", "25.0%")
    assert text.interval_ends(text.interval(0.8, 1.2, text.ratio)) == (text.ratio(0.8), text.ratio(1.2))
    assert text.interval_ends("-") == ("", "")  # unknown
    assert text.interval_ends("*") == ("*", "*")  # not shown: both ends hidden
