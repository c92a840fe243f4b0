"""An indicator's inequality breakdowns for England or a Cancer Alliance ("who is diagnosed late in my alliance")."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from accounts import roles
from audits.models import Alliance
from dashboards.pages.inequality import INEQUALITIES_CSV, csv_rows, sections
from dashboards.views.base import _chart_releases, _csv, _definition, _page
from indicators.inequalities import parse_inequalities
from indicators.inequality_results import breakdown
from indicators.registry import indicators_for
from indicators.selectors import shown_runs


def inequalities(request: HttpRequest, audit_code: str, code: str) -> HttpResponse:
    definition = _definition(audit_code)
    item = next((i for i in indicators_for(audit_code) if i.code == code), None)
    if item is None:
        raise Http404("No such indicator")
    code_asked = (request.GET.get("organisation") or "").strip().upper()
    alliance = get_object_or_404(Alliance, code=code_asked) if code_asked else None
    run = shown_runs().get(audit_code)
    unsuppressed = roles.sees_unsuppressed(request.user, audit_code)
    answers = []
    if run is not None:
        for dimension in parse_inequalities(definition):
            answer = breakdown(run, code, dimension.name, code_asked or None, unsuppressed=unsuppressed)
            if answer is not None:
                answers.append(answer)
    place = alliance.name if alliance else "England"
    if request.GET.get("download") == "csv":
        return _csv(
            f"{audit_code}-{code}-{code_asked or 'england'}-inequalities.csv", INEQUALITIES_CSV, csv_rows(answers)
        )
    return _page(
        request,
        "dashboards/inequalities.html",
        {
            "definition": definition,
            "item": item,
            "alliance": alliance,
            "place": place,
            "run": run,
            "period": answers[0]["period"] if answers else "",
            "sections": sections(answers, place=place, measure=f"the percentage of {item.numerator_text}"),
            "alliances": Alliance.objects.order_by("name"),
            "is_analyst": unsuppressed,
            "chart_releases": _chart_releases(),
        },
    )
