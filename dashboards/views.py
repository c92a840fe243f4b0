"""Dashboard pages: short views that validate their parameters, call one selector and render.

No view computes a statistic: results, flags and limits come from the
computation runs, and the numbers, sentences and figure specifications from
the pieces built once per run (one module per page in dashboards/pages/, built by
dashboards/services.py, read by dashboards/selectors.py). Every table can be
downloaded as CSV with ``?download=<table>`` (its schema beside the piece it
lists), with the same suppression as the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.models import AuditLogEntry
from accounts.services import Actor
from audits.csvfile import csv_text
from audits.models import Alliance, ImportJob, Release, Trust
from audits.registry import all_definitions
from audits.services import read_patient_rows
from dashboards import selectors, services
from dashboards.pages import outliers as outlier_pages
from dashboards.pages.act_first import CONTRIBUTORS_CSV, OPPORTUNITIES_CSV, act_first_page, contributor_rows
from dashboards.pages.alliance import ENGLAND_CSV, GRID_CSV, grid_cells
from dashboards.pages.audit import INDICATORS_CSV
from dashboards.pages.changes import FLAGS_CSV, MOVES_CSV, SPECIAL_CAUSES_CSV, build_changes
from dashboards.pages.data_quality import COLUMNS_CSV, RUNS_CSV, UPLOADS_CSV, releases_csv, trusts_csv
from dashboards.pages.flag_check import YEARS_CSV
from dashboards.pages.funnel_tool import KIND_CHOICES, METHOD_CHOICES, funnel_csv, funnel_tool_output, tool_kind
from dashboards.pages.indicator import indicator_csv
from dashboards.pages.model_card import CALIBRATION_CSV, COEFFICIENTS_CSV, ModelCard
from dashboards.pages.piece import CsvSchema
from dashboards.pages.trend import QUARTERS_CSV, spc_icons
from dashboards.pages.trust import TRUST_CSV
from dashboards.text import MEANING_LEGEND, completeness_sentence
from indicators.changes import compared_runs
from indicators.changes import release_changes as changes_of
from indicators.funnel_tool import METHODS, OVERDISPERSION, AggregateError, analyse, read_table
from indicators.levels import PROVIDER
from indicators.models import ComputationRun
from indicators.stats.vocabulary import DEFAULT_METHOD
from outliers import plans
from outliers.models import ImprovementAction, OutlierCase
from outliers.responses import publish_response
from outliers.services import CaseError, advance

if TYPE_CHECKING:
    from indicators.stats.analysis import FunnelResult


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


# ------------------------------------------------------------------ home and search


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
    """Find a trust or alliance by code or name (the type-ahead's fallback without script)."""
    query = request.GET.get("q", "").strip()
    organisations = selectors.organisations()
    matches: list[dict[str, str]] = []
    if query:
        for item in organisations:
            if query.upper() == item["code"].upper():
                return redirect(item["url"])
        words = query.lower().split()
        matches = [
            item for item in organisations if all(word in f"{item['name']} {item['code']}".lower() for word in words)
        ]
        if len(matches) == 1:
            return redirect(matches[0]["url"])
    return _page(
        request, "dashboards/search.html", {"query": query, "matches": matches, "organisations": organisations}
    )


# ------------------------------------------------------------------ audit and indicator pages


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


@_building
def audit(request: HttpRequest, audit_code: str) -> HttpResponse:
    definition = _definition(audit_code)
    run, data, variant = selectors.audit_page(request.user, audit_code)
    if request.GET.get("download") == "indicators":
        return _csv(f"{audit_code}-indicators.csv", INDICATORS_CSV, data.indicators)
    return _page(
        request,
        "dashboards/audit.html",
        {"definition": definition, "data": data, "run": run, "is_analyst": variant == "analyst"},
    )


def release_changes(request: HttpRequest, audit_code: str, release_id: int) -> HttpResponse:
    """What changed in a release against the previous published one (flags, moves, England, special causes).

    Public under the usual suppression for a published release; a release not published (a draft, a withdrawn
    one) is the audit's analysts' only: 404 for everyone else."""
    definition = _definition(audit_code)
    release = get_object_or_404(Release, pk=release_id, audit_id=audit_code)
    analyst = roles.sees_unsuppressed(request.user, audit_code)
    published = Release.objects.accepted().filter(pk=release.pk).exists()
    if not published and not analyst:
        raise Http404("No such release")
    runs = compared_runs(release)
    # Derived from two runs' stored results when first asked for, and kept as the trend panels are.
    key = ("changes", *((run.pk, run.requested_at) if run else None for run in (runs[0], runs[2])), analyst)
    piece = selectors.DERIVED.get([key]).get(key)
    if piece is None:
        changes = changes_of(release, unsuppressed=analyst, runs=runs)
        piece = build_changes(changes) if changes is not None else None
        if piece is not None:
            selectors.DERIVED.put({key: piece})
    download = request.GET.get("download")
    if download and piece is not None:
        name = f"{audit_code}-release-{release.version}-changes"
        if download == "flags":
            return _csv(f"{name}-flags.csv", FLAGS_CSV, piece.flags)
        if download == "moves":
            return _csv(f"{name}-moves.csv", MOVES_CSV, piece.moves)
        if download == "england":
            return _csv(f"{name}-england.csv", MOVES_CSV, piece.england)
        if download == "special-causes":
            return _csv(f"{name}-special-causes.csv", SPECIAL_CAUSES_CSV, piece.special_causes)
        raise Http404("No such table")
    return _page(
        request,
        "dashboards/changes.html",
        {"definition": definition, "release": release, "published": published, "data": piece, "is_analyst": analyst},
    )


@_building
def indicator(request: HttpRequest, audit_code: str, code: str) -> HttpResponse:
    definition = _definition(audit_code)
    page = selectors.indicator_page(request.user, audit_code, code, request.GET.get("period"))
    if page.period is None:
        return _page(
            request,
            "dashboards/indicator_unavailable.html",
            {"definition": definition, "item": page.item, "run": page.run, "card": page.card},
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


# ------------------------------------------------------------------ trust and alliance pages


@_building
def trust(request: HttpRequest, code: str) -> HttpResponse:
    if code != code.upper():
        return redirect("trust", code=code.upper())
    organisation = get_object_or_404(Trust.objects.select_related("alliance"), code=code)
    page = selectors.trust_page(request.user, organisation)
    download = request.GET.get("download")
    if download:
        section = next((s for s in page.sections if s.piece.audit == download), None)
        if section is None:
            raise Http404("No such table")
        return _csv(f"{code}-{download}.csv", TRUST_CSV, section.piece.cards)
    plan = selectors.plan_section(request.user, [organisation]) if request.user.is_authenticated else None
    return _page(request, "dashboards/trust.html", {**page.context(), "plan": plan, "plan_back": "trust"})


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
def trust_print(request: HttpRequest, code: str) -> HttpResponse:
    """The trust's page laid out for paper: every table with its words, nothing cut off (the board pack)."""
    if code != code.upper():
        return redirect("trust-print", code=code.upper())
    organisation = get_object_or_404(Trust.objects.select_related("alliance"), code=code)
    page = selectors.trust_page(request.user, organisation)
    return _page(request, "dashboards/print_trust.html", {**page.context(), "print_pack": True})


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


@require_POST
@login_required
def plan(request: HttpRequest, code: str) -> HttpResponse:
    """Add an action to a trust's improvement plan, or update one (``action``: its id); back to the trust's page
    or its alliance's (``back``). Who may is decided by ``outliers.plans`` (403 otherwise)."""
    trust = get_object_or_404(Trust, code=code)
    actor = Actor.from_request(request, via=AuditLogEntry.Via.WEB)
    data = request.POST
    due_text = data.get("due", "").strip()
    try:
        due = parse_date(due_text) if due_text else None
    except ValueError:
        due = None
    try:
        if due_text and due is None:
            raise ValidationError("The due date is a date: YYYY-MM-DD.")
        if data.get("action"):
            action = get_object_or_404(ImprovementAction, pk=data["action"], organisation=trust.code)
            changes: dict[str, Any] = {"status": data.get("status", action.status), "due": due or action.due}
            if data.get("evidence", "").strip():
                changes["evidence"] = data["evidence"]
            plans.update_action(action, actor, **changes)
            messages.success(request, "The action is updated.")
        else:
            case_id = data.get("case", "").strip()
            audit_code, _, indicator = data.get("indicator", "").partition(":")  # "<audit>:<indicator>"
            plans.add_action(
                actor,
                audit_code=audit_code,
                indicator=indicator,
                organisation=trust.code,
                what=data.get("what", ""),
                who=data.get("who", ""),
                due=due,
                status=data.get("status") or ImprovementAction.Status.PLANNED,
                evidence=data.get("evidence", ""),
                case=get_object_or_404(OutlierCase, pk=case_id) if case_id.isdigit() else None,
            )
            messages.success(request, "The action is added to the plan.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    if data.get("back") == "alliance":
        return redirect(reverse("alliance", args=[trust.alliance_id]) + "#plan")
    return redirect(reverse("trust", args=[trust.code]) + "#plan")


# ------------------------------------------------------------------ trend page


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


# ------------------------------------------------------------------ "is this flag real?"


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


# ------------------------------------------------------------------ data quality (analysts)


def _require_manager(request: HttpRequest, audit_code: str) -> None:
    if not roles.can_manage_releases(request.user, audit_code):
        raise PermissionDenied("Only this audit's analysts (and staff) can see its releases and data quality.")


@login_required
def data_quality(request: HttpRequest, audit_code: str) -> HttpResponse:
    """Completeness by column and trust of the current release, the release history, import and computation
    progress (read from what the import and the runs stored; nothing is computed here)."""
    definition = _definition(audit_code)
    _require_manager(request, audit_code)
    page = selectors.data_quality_page(request.user, audit_code)
    download, current = request.GET.get("download"), page.current
    if current is not None and download == "columns":
        name = f"{audit_code}-release-{current.version}-completeness-by-column.csv"
        return _csv(name, COLUMNS_CSV, page.quality.get("columns", []))
    if current is not None and download == "trusts":
        name = f"{audit_code}-release-{current.version}-completeness-by-trust.csv"
        return _csv(name, trusts_csv(page.optional), page.providers)
    if download == "releases":
        return _csv(f"{audit_code}-releases.csv", releases_csv(current), page.releases)
    if download == "uploads":
        return _csv(f"{audit_code}-uploads.csv", UPLOADS_CSV, page.jobs)
    if download == "runs":
        return _csv(f"{audit_code}-computation-runs.csv", RUNS_CSV, page.runs)
    return _page(request, "dashboards/data_quality.html", {"definition": definition, **page.context()})


@login_required
def data_quality_status(request: HttpRequest, audit_code: str) -> JsonResponse:
    """Progress of the audit's imports and runs, polled by the data-quality page while something runs."""
    _definition(audit_code)
    _require_manager(request, audit_code)
    runs = ComputationRun.objects.filter(release__audit_id=audit_code).order_by("-requested_at", "-pk")[:10]
    jobs = ImportJob.objects.filter(audit_id=audit_code)[:10]
    working = (ComputationRun.Status.QUEUED, ComputationRun.Status.RUNNING)
    return JsonResponse(
        {
            "runs": [
                {
                    "id": r.pk,
                    "status": r.status,
                    "progress": r.progress_text,
                    "completed": r.completed,
                    "total": r.total,
                }
                for r in runs
            ],
            "jobs": [{"id": j.pk, "status": j.status, "percent": j.percent_done} for j in jobs],
            "busy": any(r.status in working for r in runs) or any(not j.finished for j in jobs),
        }
    )


# ------------------------------------------------------------------ funnel tool


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


# ------------------------------------------------------------------ the outlier process (issue 13)


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
