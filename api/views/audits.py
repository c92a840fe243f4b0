"""Audits and their indicators, as their definition files state them."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from api.selectors import current_release_ids
from api.serializers.audits import AuditDetailSerializer, AuditSerializer, IndicatorSerializer
from api.views.base import ListView, RetrieveView
from audits.registry import all_definitions
from indicators.registry import indicators_for


def definition_or_404(audit_code: str):
    definition = all_definitions().get(audit_code)
    if definition is None:
        raise Http404(f"No audit {audit_code!r}")
    return definition


def indicator_or_404(audit_code: str, code: str):
    definition_or_404(audit_code)
    for indicator in indicators_for(audit_code):
        if indicator.code == code:
            return indicator
    raise Http404(f"No indicator {code!r} in {audit_code}")


class AuditList(ListView):
    """Every audit: its definition's name and description, and its current release."""

    serializer_class = AuditSerializer
    filter_backends: list = []
    csv_filename = "audits"

    def get_queryset(self):
        return sorted(all_definitions().values(), key=lambda d: (d.name, d.code))

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "current_releases": current_release_ids()}


class AuditDetail(RetrieveView):
    """One audit, with the columns of its extract."""

    serializer_class = AuditDetailSerializer
    filter_backends: list = []

    def get_object(self):
        return definition_or_404(self.kwargs["audit_code"])

    def get_serializer_context(self) -> dict[str, Any]:
        return {
            **super().get_serializer_context(),
            "current_releases": current_release_ids(self.kwargs.get("audit_code")),
        }


class IndicatorList(ListView):
    """An audit's indicators with their full definitions."""

    serializer_class = IndicatorSerializer
    filter_backends: list = []
    csv_filename = "indicators"

    def get_queryset(self):
        definition_or_404(self.kwargs["audit_code"])
        return indicators_for(self.kwargs["audit_code"])  # in definition-file order

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "audit_code": self.kwargs.get("audit_code")}


class IndicatorDetail(RetrieveView):
    serializer_class = IndicatorSerializer
    filter_backends: list = []

    def get_object(self):
        return indicator_or_404(self.kwargs["audit_code"], self.kwargs["indicator"])

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "audit_code": self.kwargs.get("audit_code")}
