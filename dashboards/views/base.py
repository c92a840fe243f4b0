"""What every page shares: rendering with the navigation, the one CSV writer, the audit looked up, the
releases behind charts' PNGs, and the first visit that builds a run's pieces."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import roles
from audits.csvfile import csv_text
from audits.models import Release
from audits.registry import all_definitions
from dashboards import selectors, services
from dashboards.pages.piece import CsvSchema


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    # Resolve the lazy user here, so the template itself never runs a query.
    context.setdefault("signed_in", request.user.is_authenticated)
    context.setdefault("nav", roles.navigation(request.user))  # the links this user may open
    return render(request, template, context)


def _csv(filename: str, schema: CsvSchema[Any], items: Iterable[Any]) -> HttpResponse:
    # The one CSV writer: text a spreadsheet would run as a formula (file names, reasons, unit names) is neutralised.
    response = HttpResponse(csv_text(schema.header, schema.rows(items)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _chart_releases() -> dict[str, Release]:
    """The release each audit's pages show, by audit, for the source line of their charts' PNGs ({% chart_source %})."""
    return {code: run.release for code, run in selectors.shown_runs().items()}


def _definition(audit_code: str):
    definition = all_definitions().get(audit_code)
    if definition is None:
        raise Http404("No such audit")
    return definition


def _building(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The first visit after a run whose pieces nobody has built yet builds them (ADR 0003; usually the task
    at the end of the run has), then reads them: the one write a page's GET may make."""

    @wraps(view)
    def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except selectors.PiecesNotBuilt as unbuilt:
            for run in unbuilt.runs:
                services.build_run_pages(run)
            return view(request, *args, **kwargs)

    return page
