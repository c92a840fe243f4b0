"""The funnel tool: an analyst's own aggregated table -> funnel plot, table and CSV."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts import roles
from dashboards.pages.funnel_tool import KIND_CHOICES, METHOD_CHOICES, funnel_csv, funnel_tool_output, tool_kind
from dashboards.views.base import _csv, _page
from indicators.funnel_tool import METHODS, OVERDISPERSION, AggregateError, analyse, read_table
from indicators.stats.vocabulary import DEFAULT_METHOD

if TYPE_CHECKING:
    from indicators.stats.analysis import FunnelResult


@login_required
def funnel_tool(request: HttpRequest) -> HttpResponse:
    """An analyst's own aggregated table -> funnel plot, table and CSV, with the `funnel` command's analysis."""
    if not roles.can_use_funnel_tool(request.user):
        raise PermissionDenied("The funnel tool is for the analysts of an audit (of any audit) and for staff.")
    form = {
        "kind": request.POST.get("kind", "proportion"),
        "method": request.POST.get("method", DEFAULT_METHOD),
        "overdispersion": request.POST.get("overdispersion", "auto"),
        "table": request.POST.get("table", ""),
    }
    errors: list[dict[str, Any]] = []
    result: FunnelResult | None = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is not None:
            try:
                form["table"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                errors.append({"line": None, "column": "", "value": "", "message": "the file is not UTF-8 text"})
        if form["kind"] not in METHODS or form["overdispersion"] not in OVERDISPERSION:
            errors.append({"line": None, "column": "", "value": "", "message": "choose a kind and an overdispersion"})
        elif not form["table"].strip() and not errors:
            errors.append({"line": None, "column": "", "value": "", "message": "choose a file or paste a table"})
        if not errors:
            try:
                result = analyse(
                    read_table(form["table"], form["kind"]),
                    method=form["method"],
                    overdispersion=form["overdispersion"],
                )
            except AggregateError as exc:
                errors = exc.errors
    rows: list[dict[str, Any]] = []
    figure: dict[str, Any] | None = None
    summary = ""
    if result is not None:
        rows, figure, summary = funnel_tool_output(result)
        if request.POST.get("download") == "csv":
            return _csv("funnel.csv", funnel_csv(result.kind), rows)
    return _page(
        request,
        "dashboards/funnel_tool.html",
        {
            "form": form,
            "errors": errors,
            "result": result,
            "rows": rows,
            "figure": figure,
            "summary": summary,
            "kind": tool_kind(result) if result is not None else None,
            "kinds": KIND_CHOICES,
            "methods": METHOD_CHOICES,
            "overdispersion_choices": OVERDISPERSION,
        },
    )
