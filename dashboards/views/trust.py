"""A trust's page, its print pack, its page for patients, and its improvement plan's form."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_POST

from accounts.models import AuditLogEntry
from accounts.services import Actor
from audits.models import Trust
from dashboards import selectors
from dashboards.pages.trust import TRUST_CSV
from dashboards.views.base import _building, _csv, _page
from outliers import plans
from outliers.models import ImprovementAction, OutlierCase


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
def trust_print(request: HttpRequest, code: str) -> HttpResponse:
    """The trust's page laid out for paper: every table with its words, nothing cut off (the board pack)."""
    if code != code.upper():
        return redirect("trust-print", code=code.upper())
    organisation = get_object_or_404(Trust.objects.select_related("alliance"), code=code)
    page = selectors.trust_page(request.user, organisation)
    return _page(request, "dashboards/print_trust.html", {**page.context(), "print_pack": True})


@_building
def for_patients(request: HttpRequest, code: str) -> HttpResponse:
    """The trust's page in plain words, for patients and the public: the public figures whoever reads it."""
    if code != code.upper():
        return redirect("trust-for-patients", code=code.upper())
    organisation = get_object_or_404(Trust, code=code)
    page = selectors.for_patients_page(organisation)
    return _page(request, "dashboards/for_patients.html", page.context())


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
