"""Trusts' contacts, kept by staff; cases and their history are read here (they change through the services)."""

from __future__ import annotations

from django.contrib import admin

from accounts import roles
from outliers.models import CaseEvent, OutlierCase, TrustContact


@admin.register(TrustContact)
class TrustContactAdmin(admin.ModelAdmin):
    list_display = ["trust", "role", "name", "email"]
    list_filter = ["role"]
    search_fields = ["trust__code", "trust__name", "name", "email"]

    def has_module_permission(self, request) -> bool:
        return roles.is_staff(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return roles.is_staff(request.user)

    def has_add_permission(self, request) -> bool:
        return roles.is_staff(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return roles.is_staff(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return roles.is_staff(request.user)


class ReadOnly(admin.ModelAdmin):
    def has_module_permission(self, request) -> bool:
        return roles.is_staff(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return roles.is_staff(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutlierCase)
class OutlierCaseAdmin(ReadOnly):
    list_display = ["pk", "audit", "indicator", "organisation", "period", "level", "direction", "stage", "status"]
    list_filter = ["audit", "status", "level", "direction"]
    search_fields = ["organisation", "indicator"]
    exclude = ["result"]  # unsuppressed figures: the audit's analysts only, not every member of staff


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnly):
    list_display = ["at", "case", "action", "actor_name", "from_stage", "to_stage", "outcome"]
    list_filter = ["action"]
