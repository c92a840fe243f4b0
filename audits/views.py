"""Pages for analysts: upload an extract, follow the import, read releases and data quality."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import AuditLogEntry
from accounts.services import client_ip, record
from audits import roles
from audits.forms import UploadForm, WithdrawForm
from audits.models import ImportJob, Release, Trust
from audits.permissions import is_audit_analyst
from audits.registry import all_definitions
from audits.selectors import releases_with_current
from audits.services import create_import_job, withdraw_release


def _definition_or_404(audit_code: str):
    definition = all_definitions().get(audit_code)
    if definition is None:
        raise Http404("No such audit")
    return definition


def _require_analyst(request: HttpRequest, audit_code: str) -> None:
    if not is_audit_analyst(request.user, audit_code):
        raise PermissionDenied("Only this audit's analysts can do this.")


@login_required
def release_list(request: HttpRequest, audit_code: str) -> HttpResponse:
    definition = _definition_or_404(audit_code)
    _require_analyst(request, audit_code)
    jobs = ImportJob.objects.filter(audit_id=audit_code).select_related("submitted_by", "release")[:20]
    return render(
        request,
        "audits/release_list.html",
        {
            "definition": definition,
            "releases": releases_with_current(audit_code),
            "jobs": jobs,
        },
    )


@login_required
def upload(request: HttpRequest, audit_code: str) -> HttpResponse:
    definition = _definition_or_404(audit_code)
    _require_analyst(request, audit_code)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = create_import_job(
            audit_code=audit_code,
            upload=form.cleaned_data["file"],
            extract_date=form.cleaned_data["extract_date"],
            origin=Release.Origin.WEB,
            user=request.user,
        )
        record(
            action=AuditLogEntry.Action.UPLOADED,
            actor=request.user,
            via=AuditLogEntry.Via.WEB,
            ip=client_ip(request),
            audit_code=audit_code,
            target=f"import {job.pk}",
            details={
                "file_name": job.file_name,
                "size_bytes": job.bytes_total,
                "extract_date": job.extract_date.isoformat(),
            },
        )
        return redirect("import-job", job_id=job.pk)
    return render(request, "audits/upload.html", {"definition": definition, "form": form})


def _job_for(request: HttpRequest, job_id: int) -> ImportJob:
    job = get_object_or_404(ImportJob.objects.select_related("audit", "release", "submitted_by"), pk=job_id)
    _require_analyst(request, job.audit_id)
    return job


@login_required
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_for(request, job_id)
    return render(request, "audits/import_job.html", {"job": job, "result": job.result})


@login_required
def import_job_status(request: HttpRequest, job_id: int) -> JsonResponse:
    job = _job_for(request, job_id)
    return JsonResponse(
        {
            "status": job.status,
            "status_display": job.get_status_display(),
            "finished": job.finished,
            "percent": job.percent_done,
            "rows": job.rows_done,
            "release": job.release_id,
            "error_count": job.result.get("error_count"),
        }
    )


@login_required
def release_detail(request: HttpRequest, release_id: int) -> HttpResponse:
    release = get_object_or_404(Release.objects.select_related("audit", "uploaded_by", "withdrawn_by"), pk=release_id)
    _require_analyst(request, release.audit_id)
    quality = release.quality_report or {}
    names = dict(
        Trust.objects.filter(code__in=[p["provider_code"] for p in quality.get("providers", [])]).values_list(
            "code", "name"
        )
    )
    optional = quality.get("optional_columns", [])
    providers = [
        {
            "code": p["provider_code"],
            "name": names.get(p["provider_code"], ""),
            "rows": p["rows"],
            "cells": [p["percent_complete"].get(c) for c in optional],
        }
        for p in quality.get("providers", [])
    ]
    by_trust_shown = roles.sees_unsuppressed(request.user, release.audit_id)  # trusts' small counts: analysts only
    if not by_trust_shown:
        providers = []
    current = Release.objects.current(release.audit_id)
    # Indicator runs of this release (the indicators app's related name: no import needed here).
    runs = list(release.runs.order_by("-requested_at", "-pk")[:5]) if hasattr(release, "runs") else []
    return render(
        request,
        "audits/release_detail.html",
        {
            "runs": runs,
            "by_trust_shown": by_trust_shown,
            "release": release,
            "quality": quality,
            "optional": optional,
            "providers": providers,
            "is_current": current is not None and current.pk == release.pk,
            "withdraw_form": WithdrawForm(),
        },
    )


@login_required
@require_POST
def release_withdraw(request: HttpRequest, release_id: int) -> HttpResponse:
    release = get_object_or_404(Release, pk=release_id)
    _require_analyst(request, release.audit_id)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for withdrawing the release.")
        return redirect("release-detail", release_id=release.pk)
    if not release.is_withdrawn:
        withdraw_release(release=release, user=request.user, reason=form.cleaned_data["reason"])
        record(
            action=AuditLogEntry.Action.WITHDREW,
            actor=request.user,
            via=AuditLogEntry.Via.WEB,
            ip=client_ip(request),
            audit_code=release.audit_id,
            target=f"release {release.pk}",
            details={"version": release.version, "reason": form.cleaned_data["reason"]},
        )
    messages.success(request, f"Release {release.version} was withdrawn; the previous release is now current.")
    return redirect("release-list", audit_code=release.audit_id)
