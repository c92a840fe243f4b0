"""The admin site: the audit log (read only, staff), tokens (revoke only), alliance leads, trusts' leads and
members, and user roles.

Every role change made here is written to the audit log, with the admin's IP address.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts import roles
from accounts.models import AllianceLead, ApiToken, AuditLogEntry, TrustLead, TrustMember
from accounts.services import (
    account_roles,
    client_ip,
    record,
    record_account_changes,
    revoke_token,
    set_alliance_lead,
)

Via = AuditLogEntry.Via
User = get_user_model()


class StaffViewMixin:
    """Visible to every member of staff, whatever their model permissions (``roles.is_staff``)."""

    def has_module_permission(self, request) -> bool:
        return roles.is_staff(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return roles.is_staff(request.user)


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(StaffViewMixin, admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "via", "ip", "audit_code", "target"]
    list_filter = ["action", "via", "audit_code"]
    search_fields = ["actor_name", "target", "ip"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditLogEntry._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(StaffViewMixin, admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # keys are created by their owner (API or command) and shown to them once

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        for token in queryset.select_related("user"):
            revoke_token(token=token, by=request.user, via=Via.ADMIN, ip=client_ip(request))
        messages.success(request, f"Revoked {queryset.count()} token(s).")


@admin.register(AllianceLead)
class AllianceLeadAdmin(admin.ModelAdmin):
    list_display = ["user", "alliance", "since"]
    list_filter = ["alliance"]
    autocomplete_fields = ["user"]
    fields = ["user", "alliance"]

    def save_model(self, request, obj, form, change) -> None:
        if change and "user" in form.changed_data:  # moving the role to another user: the old one loses it
            previous = AllianceLead.objects.get(pk=obj.pk)
            set_alliance_lead(user=previous.user, alliance=None, by=request.user, via=Via.ADMIN, ip=client_ip(request))
        set_alliance_lead(user=obj.user, alliance=obj.alliance, by=request.user, via=Via.ADMIN, ip=client_ip(request))
        obj.pk = AllianceLead.objects.get(user=obj.user).pk

    def delete_model(self, request, obj) -> None:
        set_alliance_lead(user=obj.user, alliance=None, by=request.user, via=Via.ADMIN, ip=client_ip(request))

    def delete_queryset(self, request, queryset) -> None:
        for lead in queryset.select_related("user"):
            self.delete_model(request, lead)


class TrustRoleAdmin(admin.ModelAdmin):
    """Trusts' leads and members, given by staff: each grant and removal is written to the audit log."""

    role = ""
    autocomplete_fields = ["user"]

    def has_module_permission(self, request) -> bool:
        return roles.is_staff(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return roles.is_staff(request.user)

    def has_add_permission(self, request) -> bool:
        return roles.is_staff(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # remove and add again: each is logged

    def has_delete_permission(self, request, obj=None) -> bool:
        return roles.is_staff(request.user)

    def _log(self, request, obj, granted: bool) -> None:
        audit = getattr(obj, "audit_id", "") or ""
        record(
            action=AuditLogEntry.Action.ROLE_CHANGED,
            actor=request.user,
            via=Via.ADMIN,
            ip=client_ip(request),
            audit_code=audit,
            target=f"user {obj.user.get_username()}",
            details={"role": self.role, "trust": obj.trust_id, "audit": audit or None, "granted": granted},
        )

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        self._log(request, obj, granted=True)

    def delete_model(self, request, obj) -> None:
        self._log(request, obj, granted=False)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset.select_related("user"):
            self.delete_model(request, obj)


@admin.register(TrustLead)
class TrustLeadAdmin(TrustRoleAdmin):
    role = "trust_lead"
    list_display = ["user", "trust", "audit", "since"]
    list_filter = ["audit"]
    search_fields = ["user__username", "trust__code", "trust__name"]
    fields = ["user", "trust", "audit"]


@admin.register(TrustMember)
class TrustMemberAdmin(TrustRoleAdmin):
    role = "trust_member"
    list_display = ["user", "trust", "since"]
    search_fields = ["user__username", "trust__code", "trust__name"]
    fields = ["user", "trust"]


class RoleLoggingUserAdmin(UserAdmin):
    """The usual user admin, with every change of staff status or analyst groups written to the audit log."""

    def save_model(self, request, obj, form, change) -> None:
        # Read the stored roles before the form's values are saved (groups are saved in save_related).
        request._account_roles_before = account_roles(User.objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        record_account_changes(
            user=form.instance,
            before=getattr(request, "_account_roles_before", {}),
            after=account_roles(form.instance),
            by=request.user,
            via=Via.ADMIN,
            ip=client_ip(request),
        )


admin.site.unregister(User)
admin.site.register(User, RoleLoggingUserAdmin)
