"""What a computation run produced: results (published by role), XmR trends and model cards."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from indicators import result_fields
from indicators.disclosure import publish_results, publish_trend
from indicators.levels import PROVIDER
from indicators.models import IndicatorResult, Level


class ServedRunSerializer(serializers.Serializer):
    """The computation run whose results an answer holds: by default the run the dashboards show, the latest
    completed run of the audit's newest release that has one (a newer run still computing, or one that failed,
    leaves it in place); with ``?release=``, that release's latest completed run."""

    id = serializers.IntegerField(source="pk")
    audit = serializers.CharField(source="release.audit_id")
    release = serializers.IntegerField(source="release_id")
    release_version = serializers.IntegerField(source="release.version")
    method_version = serializers.CharField()
    completed_at = serializers.DateTimeField(source="finished_at", allow_null=True)


class ModelCardSerializer(serializers.Serializer):
    audit = serializers.CharField()
    indicator = serializers.CharField()
    release = serializers.IntegerField()
    run = serializers.IntegerField(help_text="The computation run the model was fitted in")
    method_version = serializers.CharField()
    model_card = serializers.JSONField(help_text="The fitted case-mix model: coefficients, c-statistic, calibration")


def _trust(row: dict[str, Any]) -> str | None:
    """The trust a result row is of (None for an alliance's or England's): a trust's own team sees its rows exactly."""
    return row["organisation"] if row["level"] == PROVIDER else None


class ResultListSerializer(serializers.ListSerializer):
    """Publishes the whole page at once: exact counts for the audit's analysts, suppressed for everyone else."""

    def to_representation(self, data):
        rows = super().to_representation(data)
        unsuppressed_for = self.context["unsuppressed_for"]
        chosen = [unsuppressed_for(r["audit"], _trust(r)) for r in rows]
        exact = [i for i, c in enumerate(chosen) if c]
        published = [i for i, c in enumerate(chosen) if not c]
        out: list[Any] = [None] * len(rows)
        for indexes, unsuppressed in ((exact, True), (published, False)):
            published_rows = publish_results([rows[i] for i in indexes], unsuppressed=unsuppressed)
            for i, row in zip(indexes, published_rows, strict=True):
                out[i] = row
        return out


class ResultSerializer(serializers.ModelSerializer):
    audit = serializers.CharField(source="audit_code")
    organisation_name = serializers.SerializerMethodField()
    release_version = serializers.IntegerField(source="release.version")
    run = serializers.IntegerField(source="run_id", help_text="The computation run the result comes from")
    numerator = serializers.IntegerField(allow_null=True)
    denominator = serializers.IntegerField(allow_null=True)
    suppressed = serializers.BooleanField(
        help_text="Not shown: small numbers. A count is 1-7, or would let one be worked out from a published total: "
        "for everyone but the audit's analysts the counts, rate, intervals, limits, z-score, flag and eligibility "
        "are null. A shown trust's or alliance's counts are rounded to 5 and its figures computed from them"
    )
    flag = serializers.CharField(allow_null=True, help_text="Funnel flag (of the exact counts); null when not shown")
    eligible = serializers.BooleanField(
        allow_null=True, help_text="Denominator at least the indicator's minimum; null when not shown"
    )

    class Meta:
        model = IndicatorResult
        list_serializer_class = ResultListSerializer
        fields = [
            "audit",
            "indicator",
            "level",
            "organisation",
            "organisation_name",
            *result_fields.PERIOD,
            *result_fields.FIGURES,
            *result_fields.JUDGEMENT,
            "suppressed",
            "release",
            "release_version",
            "run",
            "method_version",
        ]

    def get_organisation_name(self, result) -> str:
        return self.context["names"].get(result.organisation, "")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["public"] = instance.public  # what the public sees; publish_results takes it off
        if not isinstance(self.parent, ResultListSerializer):  # a single result is published on its own
            data = publish_results([data], unsuppressed=self.context["unsuppressed_for"](data["audit"], _trust(data)))[
                0
            ]
        return data


class XmrChartSerializer(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True)
    amr = serializers.FloatField(allow_null=True, help_text="Average moving range")
    lpl = serializers.FloatField(allow_null=True, help_text="Lower process limit")
    upl = serializers.FloatField(allow_null=True, help_text="Upper process limit")
    near_lpl = serializers.FloatField(allow_null=True)
    near_upl = serializers.FloatField(allow_null=True)
    n_points = serializers.IntegerField()
    n_baseline_points = serializers.IntegerField()
    trial_limits = serializers.BooleanField()
    improvement_direction = serializers.CharField()
    target = serializers.FloatField(allow_null=True)
    variation_icon = serializers.CharField()
    assurance_icon = serializers.CharField(allow_null=True)


class TrendPointSerializer(serializers.Serializer):
    quarter = serializers.CharField()
    start = serializers.DateField()
    numerator = serializers.IntegerField(allow_null=True)
    denominator = serializers.IntegerField(allow_null=True)
    value = serializers.FloatField(allow_null=True)
    suppressed = serializers.BooleanField()
    moving_range = serializers.FloatField(allow_null=True)
    special_cause_rule = serializers.CharField(allow_blank=True)
    special_cause_flag = serializers.BooleanField(allow_null=True)
    side = serializers.CharField(allow_blank=True)
    point_type = serializers.CharField(allow_blank=True)
    colour = serializers.CharField(allow_blank=True)


class TrendSerializer(serializers.Serializer):
    """Quarterly values of one indicator for one organisation, with its XmR chart (null with too few quarters).

    For everyone but the audit's analysts, a trust's or alliance's quarter that is not shown (small numbers) has
    no counts or value, shown quarters have counts rounded to 5 and the value computed from them, and the chart
    (mean, limits, signals) is of the shown values only."""

    audit = serializers.CharField()
    indicator = serializers.CharField()
    level = serializers.ChoiceField(choices=Level.choices)
    organisation = serializers.CharField()
    organisation_name = serializers.CharField()
    release = serializers.IntegerField()
    run = ServedRunSerializer()
    chart = XmrChartSerializer(allow_null=True)
    points = TrendPointSerializer(many=True)

    def to_representation(self, trend):
        points, xmr = publish_trend(
            level=trend.level,
            points=trend.points,
            xmr=trend.xmr,
            public=trend.public,
            unsuppressed=self.context["unsuppressed"],
        )
        chart_points = iter((xmr or {}).get("points", []))
        merged = []
        for point in points:
            # The chart was drawn from the (published) quarters that have a value, in order.
            chart_point: dict[str, Any] = next(chart_points, {}) if point.get("value") is not None else {}
            merged.append(
                {
                    **point,
                    **{
                        k: chart_point.get(k)
                        for k in (
                            "moving_range",
                            "special_cause_rule",
                            "special_cause_flag",
                            "side",
                            "point_type",
                            "colour",
                        )
                    },
                }
            )
        return super().to_representation(
            {
                "audit": trend.run.release.audit_id,
                "indicator": trend.indicator,
                "level": trend.level,
                "organisation": trend.organisation,
                "organisation_name": self.context["names"].get(trend.organisation, ""),
                "release": trend.run.release_id,
                "run": trend.run,
                "chart": None if xmr is None else {k: v for k, v in xmr.items() if k != "points"},
                "points": [
                    {
                        **p,
                        "special_cause_rule": p["special_cause_rule"] or "",
                        "side": p["side"] or "",
                        "point_type": p["point_type"] or "",
                        "colour": p["colour"] or "",
                    }
                    for p in merged
                ],
            }
        )


class InequalityRowSerializer(serializers.Serializer):
    """One group of a breakdown; the counts and figures are null where hidden from the reader."""

    group = serializers.CharField()
    numerator = serializers.IntegerField(allow_null=True)
    denominator = serializers.IntegerField(allow_null=True)
    value = serializers.FloatField(allow_null=True, help_text="Proportion numerator / denominator (crude)")
    ci_lower = serializers.FloatField(allow_null=True, help_text="Wilson 95% interval")
    ci_upper = serializers.FloatField(allow_null=True)
    suppressed = serializers.BooleanField(help_text="Hidden from everyone but the audit's analysts")


class InequalitySerializer(serializers.Serializer):
    """An indicator's breakdown by one dimension for England or a Cancer Alliance, in its headline period."""

    audit = serializers.CharField()
    indicator = serializers.CharField()
    dimension = serializers.CharField()
    level = serializers.CharField()
    organisation = serializers.CharField()
    period = serializers.CharField()
    run = serializers.IntegerField()
    release = serializers.IntegerField()
    sii = serializers.FloatField(allow_null=True, help_text="Slope index of inequality (deprivation only)")
    sii_lower = serializers.FloatField(allow_null=True)
    sii_upper = serializers.FloatField(allow_null=True)
    gap = serializers.FloatField(allow_null=True, help_text="Most deprived group's value minus the least deprived's")
    rows = InequalityRowSerializer(many=True)
