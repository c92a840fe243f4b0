"""A trust's team sees its own trust's exact figures on every page and download, and nothing more (issue 13, item 4).

The trust's lead for an audit (``accounts.TrustLead``) and clinicians staff link to the trust (``accounts.TrustMember``)
get the trust's own rows and quarters as the audit's analysts do; every other row (other trusts, the trust's
alliance, England) stays as the public sees it, and what one reader is shown never reaches another (the pieces are
built once per run and variant and shared).
"""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from django.urls import reverse

from accounts.models import TrustLead, TrustMember
from audits.models import Trust
from dashboards.models import FigureSpec
from dashboards.services import build_run_pages
from indicators.models import IndicatorResult

pytestmark = pytest.mark.django_db

AUDIT = "bowel"


@pytest.fixture(autouse=True)
def own_figures(settings):
    """Trust teams see their own figures only with the setting on (off by default: docs/adr/0004, "Trust teams")."""
    settings.TRUST_TEAMS_SEE_OWN_FIGURES = True


@pytest.fixture(scope="module")
def demo(demo, django_db_blocker):
    """The shared releases, their pages rebuilt with the setting on: the trusts' own pieces are built only then
    (``build_dashboards --rebuild`` after turning it on)."""
    with override_settings(TRUST_TEAMS_SEE_OWN_FIGURES=True), django_db_blocker.unblock():
        for run in demo["runs"].values():
            FigureSpec.objects.filter(run=run).delete()
            build_run_pages(run)
    return demo


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def by(rows: list[dict[str, str]], key: str) -> dict[str, dict[str, str]]:
    return {row[key]: row for row in rows}


def headline(run, code: str) -> str:
    national = IndicatorResult.objects.filter(run=run, indicator=code, level="national")
    return max(national, key=lambda r: (r.period_end - r.period_start, r.period_end)).period


@pytest.fixture
def trusts(demo) -> tuple[str, str, str]:
    """(indicator, a trust with a row hidden from the public at the indicator's headline period, another trust of the
    same alliance with one too): the cases where exact and public differ most."""
    run = demo["runs"][AUDIT]
    for code in IndicatorResult.objects.filter(run=run).values_list("indicator", flat=True).distinct().order_by():
        period = headline(run, code)
        hidden = list(
            IndicatorResult.objects.filter(
                run=run, indicator=code, period=period, level="provider", suppressed=True, denominator__gt=0
            ).values_list("organisation", flat=True)
        )
        alliance = dict(Trust.objects.filter(code__in=hidden).values_list("code", "alliance_id"))
        for own in hidden:
            neighbour = next((t for t in hidden if t != own and alliance[t] == alliance[own]), None)
            if neighbour:
                return code, own, neighbour
    raise AssertionError("the test release has no alliance with two hidden trusts: these tests would prove nothing")


def person(username: str) -> User:
    return User.objects.create_user(username, password="pw-for-trust-team-tests-only")  # noqa: S106


@pytest.fixture
def lead(demo, trusts) -> User:
    user = person("trust-lead")
    TrustLead.objects.create(user=user, trust_id=trusts[1], audit_id=AUDIT)
    return user


def signed_in(client, user):
    client.force_login(user)
    return client


def test_a_trust_lead_sees_the_trust_page_and_its_csv_exactly_with_the_alliance_and_england_as_published(
    client, demo, trusts, lead
):
    _, own, neighbour = trusts
    url = reverse("trust", args=[own])
    public = by(rows_of(client.get(url, {"download": AUDIT})), "indicator")
    signed_in(client, demo["analyst"])
    exact = by(rows_of(client.get(url, {"download": AUDIT})), "indicator")
    signed_in(client, lead)
    seen = by(rows_of(client.get(url, {"download": AUDIT})), "indicator")
    assert seen.keys() == public.keys() == exact.keys()
    assert any(public[i]["counts"] != exact[i]["counts"] for i in seen)  # there is something to see
    for indicator, row in seen.items():
        for column in ("value", "value_95_lower", "value_95_upper", "counts", "compared_with_expected"):
            assert row[column] == exact[indicator][column], (indicator, column)
        for column in ("cancer_alliance", "england"):  # as the public sees them, never the analysts' figures
            assert row[column] == public[indicator][column], (indicator, column)
    page = client.get(url).content.decode()
    assert "This trust&#x27;s own counts are exact" in page or "This trust's own counts are exact" in page

    # Another trust's page (the neighbour in the same alliance): exactly what the public sees.
    other = reverse("trust", args=[neighbour])
    seen_other = rows_of(client.get(other, {"download": AUDIT}))
    client.logout()
    assert seen_other == rows_of(client.get(other, {"download": AUDIT}))


def test_a_trust_member_sees_its_trust_exactly_but_a_lead_of_another_audit_does_not_see_this_one(client, demo, trusts):
    _, own, _ = trusts
    url = reverse("trust", args=[own])
    signed_in(client, demo["analyst"])
    exact = rows_of(client.get(url, {"download": AUDIT}))
    client.logout()
    public = rows_of(client.get(url, {"download": AUDIT}))

    member = person("trust-member")
    TrustMember.objects.create(user=member, trust_id=own)
    signed_in(client, member)
    assert [r["counts"] for r in rows_of(client.get(url, {"download": AUDIT}))] == [r["counts"] for r in exact]

    lung_lead = person("lung-lead")
    TrustLead.objects.create(user=lung_lead, trust_id=own, audit_id="lung")
    signed_in(client, lung_lead)
    assert rows_of(client.get(url, {"download": AUDIT})) == public


def test_the_indicator_page_gives_the_lead_its_own_row_exactly_and_every_other_row_as_published(
    client, demo, trusts, lead
):
    code, own, neighbour = trusts
    url = reverse("indicator", args=[AUDIT, code])
    tables = ("trusts", "alliances")
    public = {t: by(rows_of(client.get(url, {"download": t})), "code") for t in tables}
    signed_in(client, demo["analyst"])
    exact = {t: by(rows_of(client.get(url, {"download": t})), "code") for t in tables}
    signed_in(client, lead)
    seen = {t: by(rows_of(client.get(url, {"download": t})), "code") for t in tables}

    assert public["trusts"][own] != exact["trusts"][own]
    assert seen["trusts"][own] == exact["trusts"][own]
    assert {k: v for k, v in seen["trusts"].items() if k != own} == {
        k: v for k, v in public["trusts"].items() if k != own
    }
    assert seen["trusts"][neighbour] == public["trusts"][neighbour]
    assert seen["alliances"] == public["alliances"]  # the alliance's row never

    # The page's table too: the trust's row shows its exact counts.
    page = client.get(url).content.decode()
    row = page.split(f'<tr data-code="{own}"')[1].split("</tr>")[0]
    assert exact["trusts"][own]["denominator" if "denominator" in exact["trusts"][own] else "patients"] in row


def test_the_trend_gives_the_lead_its_own_quarters_exactly_and_other_trusts_as_published(client, demo, trusts, lead):
    code, own, neighbour = trusts

    def quarters(trust: str) -> list[dict[str, str]]:
        return rows_of(client.get(reverse("trust-trend", args=[trust, AUDIT, code]), {"download": "quarters"}))

    public = {t: quarters(t) for t in (own, neighbour)}
    signed_in(client, demo["analyst"])
    exact = {t: quarters(t) for t in (own, neighbour)}
    signed_in(client, lead)
    assert quarters(own) == exact[own]
    assert quarters(neighbour) == public[neighbour]
    page = client.get(reverse("trust-trend", args=[own, AUDIT, code])).content.decode()
    assert "exact counts (analyst)" not in page
    client.logout()  # what the lead was shown is not kept for the next reader
    assert quarters(own) == public[own]


def test_the_alliance_grid_gives_the_lead_its_own_row_exactly_and_the_rest_as_published(client, demo, trusts, lead):
    _, own, neighbour = trusts
    alliance = Trust.objects.get(code=own).alliance_id
    url, params = reverse("alliance", args=[alliance]), {"download": f"{AUDIT}:grid"}
    england = {"download": f"{AUDIT}:england"}
    public, public_england = by(rows_of(client.get(url, params)), "trust_code"), rows_of(client.get(url, england))
    signed_in(client, demo["analyst"])
    exact = by(rows_of(client.get(url, params)), "trust_code")
    assert public[own] != exact[own]
    signed_in(client, lead)
    seen = by(rows_of(client.get(url, params)), "trust_code")
    assert seen[own] == exact[own]
    assert {k: v for k, v in seen.items() if k != own} == {k: v for k, v in public.items() if k != own}
    assert rows_of(client.get(url, england)) == public_england  # the alliance against England: as published
    page = client.get(url).content.decode()
    assert page.count("<table") >= 1
    client.logout()
    assert by(rows_of(client.get(url, params)), "trust_code") == public


def test_the_flag_check_gives_the_lead_its_own_years_exactly_and_other_trusts_as_published(client, demo, trusts, lead):
    code, own, neighbour = trusts

    def years(trust: str) -> list[dict[str, str]]:
        return rows_of(client.get(reverse("trust-flag-check", args=[trust, AUDIT, code]), {"download": "years"}))

    public = {t: years(t) for t in (own, neighbour)}
    signed_in(client, demo["analyst"])
    exact = {t: years(t) for t in (own, neighbour)}
    assert public[own] != exact[own]
    signed_in(client, lead)
    assert years(own) == exact[own]
    assert years(neighbour) == public[neighbour]
    client.logout()
    assert years(own) == public[own]


def test_what_a_lead_is_shown_never_reaches_the_public_or_another_trusts_lead(client, demo, trusts, lead):
    code, own, neighbour = trusts
    other_lead = person("other-lead")
    TrustLead.objects.create(user=other_lead, trust_id=neighbour, audit_id=AUDIT)
    pages = [
        (reverse("trust", args=[own]), {"download": AUDIT}),
        (reverse("indicator", args=[AUDIT, code]), {"download": "trusts"}),
        (reverse("trust-trend", args=[own, AUDIT, code]), {"download": "quarters"}),
    ]
    public = [client.get(url, params).content for url, params in pages]
    signed_in(client, lead)
    seen = [client.get(url, params).content for url, params in pages]
    assert all(a != b for a, b in zip(seen, public, strict=True))
    signed_in(client, other_lead)  # sees its own row of the indicator exactly, and the rest as the public does
    theirs = [client.get(url, params).content for url, params in pages]
    assert theirs[0] == public[0] and theirs[2] == public[2]
    mine = by(rows_of(client.get(*pages[1])), "code")
    assert mine[own] == by(list(csv.DictReader(io.StringIO(public[1].decode()))), "code")[own]
    client.logout()
    assert [client.get(url, params).content for url, params in pages] == public


def test_with_the_setting_off_a_lead_sees_what_the_public_sees(client, demo, trusts, lead, settings):
    settings.TRUST_TEAMS_SEE_OWN_FIGURES = False
    code, own, _ = trusts
    pages = [
        (reverse("trust", args=[own]), {"download": AUDIT}),
        (reverse("indicator", args=[AUDIT, code]), {"download": "trusts"}),
        (reverse("trust-trend", args=[own, AUDIT, code]), {"download": "quarters"}),
    ]
    public = [client.get(url, params).content for url, params in pages]
    signed_in(client, lead)
    assert [client.get(url, params).content for url, params in pages] == public
