"""Query-string filters (django-filter) for the list endpoints."""
from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from audits.models import Release, Trust
from indicators.models import IndicatorResult, Level


class UpperCharFilter(django_filters.CharFilter):
    """ODS and alliance codes are upper case; accept them in any case."""

    def filter(self, qs, value):
        return super().filter(qs, value.upper() if value else value)


class ResultFilter(django_filters.FilterSet):
    audit = django_filters.CharFilter(field_name="audit_code", help_text="Audit code, e.g. bowel")
    indicator = django_filters.CharFilter(help_text="Indicator code, e.g. mortality_90d")
    level = django_filters.ChoiceFilter(choices=Level.choices)
    organisation = UpperCharFilter(help_text="ODS trust code, Cancer Alliance code, or E92000001 for England")
    alliance = django_filters.CharFilter(method="filter_alliance",
                                         help_text="A Cancer Alliance code: the alliance and its trusts")
    period = django_filters.CharFilter(help_text="Audit year, e.g. 2024/25, or all years, e.g. 2023/24-2025/26")
    flag = django_filters.CharFilter(help_text="Funnel flag, e.g. none, high_alert, low_alarm")
    release = django_filters.NumberFilter(field_name="release_id",
                                          help_text="A release id (default: the current release of each audit)")

    class Meta:
        model = IndicatorResult
        fields: list[str] = []

    def filter_alliance(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        code = value.upper()
        trusts = Trust.objects.filter(alliance_id=code).values("code")
        return queryset.filter(Q(level=Level.ALLIANCE, organisation=code)
                               | Q(level=Level.PROVIDER, organisation__in=trusts))


class ReleaseFilter(django_filters.FilterSet):
    audit = django_filters.CharFilter(field_name="audit_id")
    status = django_filters.ChoiceFilter(choices=Release.Status.choices)

    class Meta:
        model = Release
        fields: list[str] = []


class TrustFilter(django_filters.FilterSet):
    alliance = UpperCharFilter(field_name="alliance_id")
    active = django_filters.BooleanFilter()
    region = django_filters.CharFilter()

    class Meta:
        model = Trust
        fields: list[str] = []
