from django.contrib import admin

from alerts.models import Digest, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "code", "created_at")
    list_filter = ("kind",)
    search_fields = ("user__username", "code")


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = ("subscription", "release", "to", "sent_at")
    readonly_fields = ("subscription", "release", "to", "subject", "sent_at")
