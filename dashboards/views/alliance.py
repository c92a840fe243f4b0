"""An alliance's page, where to act first, and its print pack."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect

from audits.models import Alliance, Trust
from dashboards import selectors
from dashboards.pages.act_first import CONTRIBUTORS_CSV, OPPORTUNITIES_CSV, act_first_page, contributor_rows
from dashboards.pages.alliance import ENGLAND_CSV, GRID_CSV, grid_cells
from dashboards.views.base import _building, _chart_releases, _csv, _page


@_building
def alliance(request: HttpRequest, code: str) -> HttpResponse:
    if code != code.upper():
        return redirect("alliance", code=code.upper())
    organisation = get_object_or_404(Alliance, code=code)
    sections = selectors.alliance_page(request.user, code)
    download = request.GET.get("download", "")
    if download:
        audit_code, _, table = download.partition(":")
        section = next((s for s in sections if s.piece.audit == audit_code), None)
        if section is None or table not in ("grid", "england"):
            raise Http404("No such table")
        filename = f"{code}-{audit_code}-{table}.csv"
        if table == "grid":
            return _csv(filename, GRID_CSV, grid_cells(section.piece))
        return _csv(filename, ENGLAND_CSV, section.piece.rows)
    plan = None
    if request.user.is_authenticated:
        members = list(Trust.objects.filter(alliance=organisation, active=True).order_by("name"))
        plan = selectors.plan_section(request.user, members)
    return _page(
        request,
        "dashboards/alliance.html",
        {
            "alliance": organisation,
            "sections": sections,
            "chart_releases": _chart_releases(),
            "plan": plan,
            "plan_back": "alliance",
        },
    )


def alliance_act_first(request: HttpRequest, code: str) -> HttpResponse:
    """Where to act first: the alliance's indicators by the patients who would have had a better outcome had every
    trust matched England, with the member trusts that contribute most (published results only)."""
    if code != code.upper():
        return redirect("alliance-act-first", code=code.upper())
    organisation = get_object_or_404(Alliance, code=code)
    page = act_first_page(request.user, organisation)
    download = request.GET.get("download")
    if download == "opportunities":
        return _csv(f"{code}-act-first.csv", OPPORTUNITIES_CSV, page.items)
    if download == "trusts":
        return _csv(f"{code}-act-first-trusts.csv", CONTRIBUTORS_CSV, contributor_rows(page.items))
    if download:
        raise Http404("No such table")
    return _page(request, "dashboards/act_first.html", {"alliance": organisation, "data": page})


@_building
def alliance_print(request: HttpRequest, code: str) -> HttpResponse:
    """The alliance's page laid out for paper: each audit's tables, every funnel with its words, and where to act
    first (the board pack)."""
    if code != code.upper():
        return redirect("alliance-print", code=code.upper())
    organisation = get_object_or_404(Alliance, code=code)
    sections = selectors.alliance_page(request.user, code)
    return _page(
        request,
        "dashboards/print_alliance.html",
        {
            "alliance": organisation,
            "sections": sections,
            "act_first": act_first_page(request.user, organisation),
            "chart_releases": _chart_releases(),
            "print_pack": True,
        },
    )
