"""Pages for analysts: upload an extract, follow the import, read releases and data quality.

Views translate: the services check the role and write the audit log; reads ask ``accounts.roles``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.models import AuditLogEntry
from accounts.services import Actor
from audits.forms import UploadForm, WithdrawForm
from audits.models import ImportJob, Release, Trust
from audits.registry import all_definitions
from audits.selectors import import_failure, import_report, quality_by_trust, releases_with_current
from audits.services import (
    AlreadyWithdrawn,
    NotPublishable,
    authorise_publish,
    authorise_upload,
    authorise_withdraw,
    create_import_job,
    publish_release,
    withdraw_release,
)

WEB = AuditLogEntry.Via.WEB


def _definition_or_404(audit_code: str):
    definition = all_definitions().get(audit_code)
    if definition is None:
        raise Http404("No such audit")
    return definition


def _require_manager(request: HttpRequest, audit_code: str) -> None:
    if not roles.can_manage_releases(request.user, audit_code):
        raise PermissionDenied("Only this audit's analysts (and staff) can see its releases and uploads.")


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    context.setdefault("nav", roles.navigation(request.user))  # decided here: templates run no queries
    return render(request, template, context)


@login_required
def release_list(request: HttpRequest, audit_code: str) -> HttpResponse:
    definition = _definition_or_404(audit_code)
    _require_manager(request, audit_code)
    jobs = ImportJob.objects.filter(audit_id=audit_code).select_related("submitted_by", "release")[:20]
    return _render(
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
    actor = Actor.from_request(request, via=WEB)
    authorise_upload(actor, audit_code)  # the form is shown to those who may use it
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = create_import_job(
            audit_code=audit_code,
            upload=form.cleaned_data["file"],
            extract_date=form.cleaned_data["extract_date"],
            actor=actor,
            publish=form.cleaned_data["publish"],
        )
        return redirect("import-job", job_id=job.pk)
    return _render(request, "audits/upload.html", {"definition": definition, "form": form})


def _job_for(request: HttpRequest, job_id: int) -> ImportJob:
    job = get_object_or_404(ImportJob.objects.select_related("audit", "release", "submitted_by"), pk=job_id)
    _require_manager(request, job.audit_id)
    return job


@login_required
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_for(request, job_id)
    return _render(
        request,
        "audits/import_job.html",
        {
            "job": job,
            "result": import_report(job, request.user),  # values for the audit's analysts only
            "failure": import_failure(job, request.user),
            "values_shown": roles.can_see_values_in_error_reports(request.user, job.audit_id),
        },
    )


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
    _require_manager(request, release.audit_id)
    quality = release.quality_report or {}
    optional = quality.get("optional_columns", [])
    # Only exact counts can be shown here (published counts are made by indicators.disclosure, on the
    # data-quality page and in the API); of those who may open this page, the audit's analysts get them.
    by_trust = quality_by_trust(request.user, release)
    by_trust_shown = by_trust is not None and by_trust.exact
    shown = by_trust.providers if by_trust is not None and by_trust.exact else []
    names = dict(Trust.objects.filter(code__in=[p["provider_code"] for p in shown]).values_list("code", "name"))
    providers = [
        {
            "code": p["provider_code"],
            "name": names.get(p["provider_code"], ""),
            "rows": p["rows"],
            "cells": [p["percent_complete"].get(c) for c in optional],
        }
        for p in shown
    ]
    current = Release.objects.current(release.audit_id)
    # Indicator runs of this release (the indicators app's related name: no import needed here).
    runs = list(release.runs.order_by("-requested_at", "-pk")[:5]) if hasattr(release, "runs") else []
    not_computed = _not_computed(runs[0]) if runs else []
    return _render(
        request,
        "audits/release_detail.html",
        {
            "runs": runs,
            "not_computed": not_computed,
            "by_trust_shown": by_trust_shown,
            "release": release,
            "quality": quality,
            "optional": optional,
            "providers": providers,
            "is_current": current is not None and current.pk == release.pk,
            # Those who may open this page may publish a draft (the audit's analysts and staff).
            "can_publish": release.is_draft and roles.can_manage_releases(request.user, release.audit_id),
            "newer_published": current is not None and current.version > release.version,
            "withdraw_form": WithdrawForm(),
        },
    )


def _not_computed(run) -> list[dict[str, str]]:
    """The indicators of a run that have no results, and why, in the model card's words (or the run's note):
    a risk model that could not be fitted or did not converge, or an indicator that failed."""
    out = []
    for entry in run.indicators.order_by("indicator"):  # the indicators app's related name: no import needed
        card = entry.model_card or {}
        failed_model = card.get("fitted") is False or card.get("converged") is False
        if not failed_model and entry.status != entry.Status.FAILED:
            continue
        reason = str(card.get("reason") or "").strip() if failed_model else ""
        if not reason:
            reason = entry.failure.split(": ", 1)[-1] if entry.failure else "the risk model could not be fitted"
        out.append(
            {
                "indicator": entry.indicator,
                "what": "Risk model not fitted: no results" if failed_model else "Failed",
                "reason": reason,
            }
        )
    return out


@login_required
@require_POST
def release_withdraw(request: HttpRequest, release_id: int) -> HttpResponse:
    release = get_object_or_404(Release, pk=release_id)
    actor = Actor.from_request(request, via=WEB)
    authorise_withdraw(actor, release)  # the role before the form: 403, then the message
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for withdrawing the release.")
        return redirect("release-detail", release_id=release.pk)
    was_draft = release.is_draft
    try:
        withdraw_release(release=release, actor=actor, reason=form.cleaned_data["reason"])
    except AlreadyWithdrawn:
        pass  # withdrawn before: the page says the same
    if was_draft:
        messages.success(request, f"Draft release {release.version} was withdrawn; it was never published.")
    else:
        messages.success(request, f"Release {release.version} was withdrawn; the previous release is now current.")
    return redirect("release-list", audit_code=release.audit_id)


@login_required
@require_POST
def release_publish(request: HttpRequest, release_id: int) -> HttpResponse:
    release = get_object_or_404(Release, pk=release_id)
    actor = Actor.from_request(request, via=WEB)
    authorise_publish(actor, release)
    try:
        publish_release(release, actor)
    except NotPublishable as exc:
        messages.error(request, str(exc))
        return redirect("release-detail", release_id=release.pk)
    messages.success(
        request,
        f"Release {release.version} is published: the public pages show its results once its computation is done.",
    )
    return redirect("release-detail", release_id=release.pk)
