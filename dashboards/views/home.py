"""The home page, finding an organisation, and an audit's overview."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts import roles
from audits.registry import all_definitions
from dashboards import selectors
from dashboards.pages.audit import INDICATORS_CSV
from dashboards.views.base import _building, _csv, _definition, _page


def home(request: HttpRequest) -> HttpResponse:
    runs = selectors.shown_runs()
    audits = [
        {
            "definition": d,
            "run": runs.get(code),
            "release": runs[code].release if code in runs else None,
            "is_analyst": roles.can_manage_releases(request.user, code),
        }
        for code, d in sorted(all_definitions().items(), key=lambda item: item[1].name)
    ]
    return _page(request, "dashboards/home.html", {"audits": audits, "organisations": selectors.organisations()})


def search(request: HttpRequest) -> HttpResponse:
    """Find a trust or alliance by code or name (the type-ahead's fallback without script): opened only when
    what was typed is exactly its code, name or other name; otherwise the list of matches."""
    query = request.GET.get("q", "").strip()
    found = selectors.find_organisations(query)
    if found.exact is not None:
        if found.exact.aka:
            messages.info(request, f"Found by another name: {found.exact.name}, {found.exact.aka}.")
        return redirect(found.exact.url)
    return _page(
        request,
        "dashboards/search.html",
        {"query": query, "matches": found.matches, "organisations": found.organisations},
    )


@_building
def audit(request: HttpRequest, audit_code: str) -> HttpResponse:
    definition = _definition(audit_code)
    try:
        run, data, variant = selectors.audit_page(request.user, audit_code)
    except selectors.NoRelease:
        if request.GET.get("download"):
            raise  # no table to download: a 404
        return _page(
            request,
            "dashboards/audit_no_release.html",
            {
                "definition": definition,
                "indicators": selectors.definitions_in_words(audit_code),
                "is_analyst": roles.can_manage_releases(request.user, audit_code),
            },
        )
    if request.GET.get("download") == "indicators":
        return _csv(f"{audit_code}-indicators.csv", INDICATORS_CSV, data.indicators)
    return _page(
        request,
        "dashboards/audit.html",
        {
            "definition": definition,
            "data": data,
            "run": run,
            "is_analyst": variant == "analyst",
            "under_review": selectors.under_review(audit_code),
        },
    )
