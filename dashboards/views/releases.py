"""An audit's releases: what changed in one, and (for its analysts) data quality and progress."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404

from accounts import roles
from audits.models import ImportJob, Release
from dashboards import selectors
from dashboards.pages.changes import FLAGS_CSV, MOVES_CSV, SPECIAL_CAUSES_CSV, build_changes
from dashboards.pages.data_quality import COLUMNS_CSV, RUNS_CSV, UPLOADS_CSV, releases_csv, trusts_csv
from dashboards.views.base import _csv, _definition, _page
from indicators.changes import compared_runs
from indicators.changes import release_changes as changes_of
from indicators.models import ComputationRun


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
