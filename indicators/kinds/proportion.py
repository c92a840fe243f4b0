"""A proportion: numerator patients out of denominator patients (the default without a risk model).

Value x/n with Wilson 95% and 99.8% intervals (Wilson 1927, as PHEindicatormethods); expected
events are the denominator at the national rate; the funnel is binomial around the national
proportion; XmR limits stay within 0 to 1.
"""

from __future__ import annotations

from typing import Any

from indicators.kinds.base import Kind, shrunken_fields


class Proportion(Kind):
    name = "proportion"
    risk_adjusted = False
    funnel = "proportion"
    limits_within = (0.0, 1.0)

    shown_field = "value"
    has_expected = False
    adjective = ""
    value_title = "Percentage"
    statistic_title = "Proportion"
    statistic_percent = True
    x_title = "Patients (denominator)"
    count_titles = ("Numerator", "Denominator")
    result_columns = (
        ("numerator", "Numerator", "numerator"),
        ("denominator", "Denominator", "denominator"),
        ("value", "Percentage", "value_text"),
        ("value_95_interval", "95% interval", "ci_text"),
        # Beside the crude figure, the reliability-adjusted (shrunken) one and how reliable the crude one is.
        ("shrunken_value", "Reliability-adjusted percentage", "shrunken_text"),
        ("shrunken_95_interval", "Its 95% interval", "shrunken_ci_text"),
        ("reliability", "Reliability", "reliability_text"),
    )
    limits_words = "{method} binomial limits"
    shrunken_name = "reliability-adjusted percentage"
    shrinkage_model = "beta-binomial"
    shrunken_towards = "the figure of all trusts"
    excess_words = (
        "Observed minus expected events: the trust's count minus its patients x England's rate. The interval is "
        "the 95% interval of the trust's percentage (Wilson), less England's rate, multiplied by its patients."
    )

    def expected(self, denominator: Any, summed: Any, rate: float) -> Any:
        return denominator * rate

    def expected_variance(self, summed: Any) -> Any:
        return float("nan")

    def counts(self, denominator: Any, expected: Any) -> Any:
        return denominator

    def interval(self, observed: Any, counts: Any, confidence: float) -> tuple[Any, Any]:
        from indicators.stats.intervals import wilson_interval

        return wilson_interval(observed, counts, confidence)

    def adjusted_rate(self, value: Any, rate: Any) -> Any:
        return value

    def target(self, rate: float) -> float:
        return rate

    def funnel_patients(self, patients: Any, variance: Any) -> tuple[None, None]:
        return None, None

    def public_expected(self, expected: Any) -> None:
        """None: the denominator at the national rate would give the exact denominator back."""
        return None

    def shrink(self, numerator: Any, counts: Any) -> dict[str, Any]:
        """The beta-binomial model of the units' numerators out of their denominators (the prior by the method of
        moments; indicators.stats.shrinkage.shrink_proportions), on the proportion's scale."""
        from indicators.stats.shrinkage import shrink_proportions

        return shrunken_fields(shrink_proportions(numerator, counts))

    def rounded_value(self, value: float | None, numerator: int, rounded: tuple[Any, Any]) -> float | None:
        rounded_numerator, rounded_denominator = rounded
        return rounded_numerator / rounded_denominator if rounded_denominator else None


KIND = Proportion()
