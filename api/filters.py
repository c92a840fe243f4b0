"""Query-string filters (django-filter) for the list endpoints."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema_field

from accounts import roles
from audits.models import Release, Trust
from audits.registry import all_definitions
from indicators.disclosure import shown_to_public
from indicators.levels import ENGLAND_CODE
from indicators.models import IndicatorResult, Level


@extend_schema_field({"type": "string", "pattern": "^[^\\x00]*$"})
class TextFilter(django_filters.CharFilter):
    """Text without NUL characters (the form field refuses them; the schema says so)."""


class UpperCharFilter(TextFilter):
    """ODS and alliance codes are upper case; accept them in any case."""

    def filter(self, qs, value):
        return super().filter(qs, value.upper() if value else value)


@extend_schema_field({"type": "integer", "minimum": 1})
class IdFilter(django_filters.NumberFilter):
    """A whole-number id (django-filter's NumberFilter takes decimals)."""

    field_class = forms.IntegerField  # type: ignore[assignment]  # the stubs pin NumberFilter to DecimalField


class ResultFilter(django_filters.FilterSet):
    audit = TextFilter(field_name="audit_code", help_text="Audit code, e.g. bowel")
    indicator = TextFilter(help_text="Indicator code, e.g. mortality_90d")
    level = django_filters.ChoiceFilter(choices=Level.choices)
    organisation = UpperCharFilter(help_text=f"ODS trust code, Cancer Alliance code, or {ENGLAND_CODE} for England")
    alliance = UpperCharFilter(
        method="filter_alliance", help_text="A Cancer Alliance code: the alliance and its trusts"
    )
    period = TextFilter(help_text="Audit year, e.g. 2024/25, or all years, e.g. 2023/24-2025/26")
    flag = TextFilter(
        method="filter_flag",
        help_text="Funnel flag, e.g. none, alert_high, alarm_low (a result not shown to you has no flag to match)",
    )
    release = IdFilter(
        field_name="release_id",
        help_text="A release id: its latest completed run (default: each audit's results the dashboards show, "
        "the latest completed run of its newest release that has one)",
    )

    class Meta:
        model = IndicatorResult
        fields: list[str] = []

    def filter_flag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """A hidden result publishes no flag, so a filter on it must not find the result either."""
        user = getattr(self.request, "user", None)
        exact = [code for code in all_definitions() if roles.sees_unsuppressed(user, code)]
        return queryset.filter(flag=value).filter(shown_to_public() | Q(audit_code__in=exact))

    def filter_alliance(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        code = value.upper()
        trusts = Trust.objects.filter(alliance_id=code).values("code")
        return queryset.filter(
            Q(level=Level.ALLIANCE, organisation=code) | Q(level=Level.PROVIDER, organisation__in=trusts)
        )


class ReleaseFilter(django_filters.FilterSet):
    audit = TextFilter(field_name="audit_id")
    status = django_filters.ChoiceFilter(choices=Release.Status.choices)

    class Meta:
        model = Release
        fields: list[str] = []


class TrustFilter(django_filters.FilterSet):
    alliance = UpperCharFilter(field_name="alliance_id")
    active = django_filters.BooleanFilter()
    region = TextFilter()

    class Meta:
        model = Trust
        fields: list[str] = []
