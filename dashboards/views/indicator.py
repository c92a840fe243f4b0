"""An indicator's page, an organisation's trend in it, and "is this flag real?" beside a trust's flag."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.text import slugify

from accounts import roles
from audits.models import Alliance, Trust
from dashboards import selectors
from dashboards.pages.flag_check import YEARS_CSV
from dashboards.pages.indicator import indicator_csv
from dashboards.pages.model_card import CALIBRATION_CSV, COEFFICIENTS_CSV, ModelCard
from dashboards.pages.trend import QUARTERS_CSV, spc_icons
from dashboards.text import MEANING_LEGEND, completeness_sentence
from dashboards.views.base import _building, _chart_releases, _csv, _definition, _page
from indicators.levels import PROVIDER


@_building
def indicator(request: HttpRequest, audit_code: str, code: str) -> HttpResponse:
    definition = _definition(audit_code)
    page = selectors.indicator_page(request.user, audit_code, code, request.GET.get("period"))
    if page.period is None:
        return _page(
            request,
            "dashboards/indicator_unavailable.html",
            {
                "definition": definition,
                "item": page.item,
                "run": page.run,
                "card": page.card,
                "under_review": page.under_review,
                "review_note": page.review_note,
            },
        )
    table = request.GET.get("download")
    name = f"{audit_code}-{code}"
    if table in ("trusts", "alliances"):
        schema = indicator_csv(table, page.item.kind)
        return _csv(f"{name}-{slugify(page.period)}-{table}.csv", schema, page.rows(table))
    if table == "calibration" and isinstance(page.card, ModelCard):
        return _csv(f"{name}-calibration.csv", CALIBRATION_CSV, page.card.calibration)
    if table == "coefficients" and isinstance(page.card, ModelCard):
        return _csv(f"{name}-coefficients.csv", COEFFICIENTS_CSV, page.card.coefficients)
    context = page.context(request.GET.get("highlight", "").strip().upper())
    return _page(request, "dashboards/indicator.html", {"definition": definition, **context})


@login_required
def false_discoveries(request: HttpRequest, audit_code: str, code: str) -> HttpResponse:
    """For the audit's analysts (and staff): the false-discovery-rate view of an indicator's funnel."""
    definition = _definition(audit_code)
    if not roles.can_manage_releases(request.user, audit_code):
        raise PermissionDenied("Only this audit's analysts (and staff) can see the false-discovery-rate view.")
    level = request.GET.get("level", PROVIDER)
    page = selectors.false_discoveries_page(audit_code, code, level, request.GET.get("period"))
    return _page(request, "dashboards/indicator_fdr.html", {"definition": definition, "code": code, "page": page})


@_building
def trend(request: HttpRequest, code: str, audit_code: str, indicator_code: str, level: str = PROVIDER) -> HttpResponse:
    model = Trust if level == PROVIDER else Alliance
    organisation = get_object_or_404(model, code=code)
    definition = _definition(audit_code)
    item, data, variant = selectors.trend_page(request.user, level, code, audit_code, indicator_code)
    if request.GET.get("download") == "quarters":
        return _csv(f"{code}-{audit_code}-{indicator_code}-quarters.csv", QUARTERS_CSV, data.rows)
    return _page(
        request,
        "dashboards/trend.html",
        {
            "organisation": organisation,
            "level": level,
            "definition": definition,
            "item": item,
            "data": data,
            "icons": spc_icons(data),
            "chart_releases": _chart_releases(),
            "is_analyst": variant == "analyst",
        },
    )


def flag_check(request: HttpRequest, code: str, audit_code: str, indicator_code: str) -> HttpResponse:
    """Beside a trust's flag: completeness of the fields behind it, the flag in each year, the excess events and
    (risk-adjusted) their course by quarter. Derived from the run's stored, published figures."""
    if code != code.upper():
        return redirect("trust-flag-check", code=code.upper(), audit_code=audit_code, indicator_code=indicator_code)
    organisation = get_object_or_404(Trust, code=code)
    definition = _definition(audit_code)
    data, completeness, shown, variant = selectors.flag_check_page(request.user, code, definition, indicator_code)
    if request.GET.get("download") == "years":
        return _csv(f"{code}-{audit_code}-{indicator_code}-years.csv", YEARS_CSV, data.years)
    return _page(
        request,
        "dashboards/flag_check.html",
        {
            "trust": organisation,
            "definition": definition,
            "data": data,
            "completeness": completeness,
            "completeness_text": completeness_sentence([r.to_json() for r in completeness], shown=shown),
            "is_analyst": variant == "analyst",
            "legend": MEANING_LEGEND,
            "chart_releases": _chart_releases(),
        },
    )
