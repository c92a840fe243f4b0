"""The outlier process (issue 13): the cases, a case, its outcomes, response, files and patient rows."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.services import Actor
from audits.csvfile import csv_text
from audits.services import read_patient_rows
from dashboards.pages import outliers as outlier_pages
from dashboards.views.base import _csv, _page
from outliers.responses import publish_response
from outliers.services import CaseError, advance


@login_required
def outlier_cases(request: HttpRequest) -> HttpResponse:
    """The cases the reader may see, across audits (``?audit=`` one audit, ``?show=all`` closed ones too)."""
    show = request.GET.get("show", "open")
    if show not in ("open", "all"):
        raise Http404("No such view")
    page = outlier_pages.case_list(request.user, request.GET.get("audit", ""), show)
    if request.GET.get("download") == "csv":
        return _csv("outlier-cases.csv", outlier_pages.CASES_CSV, page.rows)
    return _page(request, "dashboards/outliers.html", {"page": page})


@login_required
def outlier_case(request: HttpRequest, case_id: int) -> HttpResponse:
    page = outlier_pages.case_page(request.user, case_id)
    return _page(request, "dashboards/outliers_case.html", page.context())


@login_required
@require_POST
def outlier_case_advance(request: HttpRequest, case_id: int) -> HttpResponse:
    """Record an outcome of the case's stage (the service decides who may: 403 otherwise), with a note and a file."""
    case = outlier_pages.visible_case(request.user, case_id)
    upload = request.FILES.get("attachment")
    problem = outlier_pages.attachment_problem(upload)
    if problem:
        messages.error(request, problem)
        return redirect("outlier-case", case_id=case.pk)
    outcome = request.POST.get("outcome", "")
    try:
        case = advance(
            case,
            outcome,
            Actor.from_request(request, via="web"),
            note=request.POST.get("note", "").strip(),
            attachment=upload,
        )
    except CaseError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Recorded: {outlier_pages.words(outcome)}.")
    return redirect("outlier-case", case_id=case.pk)


@login_required
@require_POST
def outlier_case_response(request: HttpRequest, case_id: int) -> HttpResponse:
    """Publish the trust's response (the audit team; the service refuses anyone else: 403)."""
    case = outlier_pages.visible_case(request.user, case_id)
    try:
        publish_response(case, request.POST.get("response", ""), Actor.from_request(request, via="web"))
    except CaseError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The response is published; it shows on the trust's page once the case is closed.")
    return redirect("outlier-case", case_id=case.pk)


@login_required
def outlier_attachment(request: HttpRequest, case_id: int, event_id: int) -> FileResponse:
    event = outlier_pages.attachment_of(request.user, case_id, event_id)
    name = outlier_pages.attachment_name(event)
    response = FileResponse(event.attachment.open("rb"), as_attachment=True, filename=name)
    response["Content-Type"] = "application/octet-stream"  # never rendered by the browser on this site
    response["Cache-Control"] = "no-store"
    return response


@login_required
def outlier_case_rows(request: HttpRequest, case_id: int) -> HttpResponse:
    """The trust's patient rows of the case's release: that trust's only, each read in the audit log."""
    case, release = outlier_pages.rows_case(request.user, case_id)
    actor = Actor.from_request(request, via="web")
    if request.GET.get("download") == "csv":
        columns, rows = outlier_pages.all_trust_rows(read_patient_rows, release, actor, case.organisation)
        response = HttpResponse(
            csv_text([name for name, _ in columns], [[row[name] for name, _ in columns] for row in rows]),
            content_type="text/csv; charset=utf-8",
        )
        filename = f"{case.audit_id}-release-{release.version}-{case.organisation}-patient-rows.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        try:
            after = max(0, int(request.GET.get("after", "0")))
        except ValueError:
            raise Http404("No such page") from None
        columns, rows = read_patient_rows(
            release=release,
            actor=actor,
            after_line=after,
            limit=outlier_pages.ROWS_PER_PAGE + 1,
            organisation=case.organisation,
        )
        more = len(rows) > outlier_pages.ROWS_PER_PAGE
        rows = rows[: outlier_pages.ROWS_PER_PAGE]
        response = _page(
            request,
            "dashboards/outliers_rows.html",
            {
                "case": case,
                "release": release,
                "columns": [name for name, _ in columns],
                "rows": [[row[name] for name, _ in columns] for row in rows],
                "after": after,
                "next_after": rows[-1]["line"] if more and rows else None,
            },
        )
    response["Cache-Control"] = "no-store"
    return response
