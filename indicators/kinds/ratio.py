"""A risk-adjusted ratio: observed over expected events (the default with a ``risk_model``).

A logistic model is fitted on every patient in the denominator, all years together, with the
audit year as a term recalibrated each year, so that England's O/E is 1 in every year as well as
over all years (ADR 0005; indicators.stats.risk). Expected events = the sum of predicted risks;
value O/E with exact Poisson limits (the expected count held fixed, PHEindicatormethods
``calculate_ISRatio``); the value shown is the risk-adjusted rate O/E x the national rate. The
funnel is centred on 1 and is given each organisation's patients and Var(O) = sum of p(1 - p), so
that where events are common the default analyses O/E as an indirectly standardised proportion
with binomial variance (Spiegelhalter 2005, Stat Med 24:1185). XmR limits stay at or above 0.
Beside the crude O/E each trust or alliance gets a reliability-adjusted one: the gamma-Poisson
empirical Bayes model of the units' observed and expected events (Clayton & Kaldor 1987;
indicators.stats.shrinkage.shrink_ratios).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from indicators.kinds.base import Cohort, Kind, shrunken_fields

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from indicators.definitions import IndicatorDefinition


class Ratio(Kind):
    name = "ratio"
    risk_adjusted = True
    funnel = "ratio"
    limits_within = (0.0, None)

    shown_field = "adjusted_rate"
    has_expected = True
    adjective = "risk-adjusted"
    value_title = "Risk-adjusted rate"
    statistic_title = "Observed / expected"
    statistic_percent = False
    x_title = "Expected events (from the risk model)"
    count_titles = ("Observed", "Expected")
    result_columns = (
        ("patients", "Patients", "denominator"),
        ("observed", "Observed", "numerator"),
        ("expected", "Expected", "expected_text"),
        ("observed_over_expected", "Observed / expected", "ratio_text"),
        ("oe_95_interval", "", "ratio_ci_text"),
        # Beside the crude O/E, the reliability-adjusted (shrunken) one and how reliable the crude one is (at the
        # end of the downloads' rows: dashboards.pages.indicator.ADDED_COLUMNS).
        ("shrunken_observed_over_expected", "Reliability-adjusted O/E", "shrunken_text"),
        ("shrunken_oe_95_interval", "Its 95% interval", "shrunken_ci_text"),
        ("reliability", "Reliability", "reliability_text"),
        ("risk_adjusted_rate", "Risk-adjusted rate", "value_text"),
        ("rate_95_interval", "95% interval", "ci_text"),
    )
    limits_words = "exact Poisson limits for observed over expected"
    shrunken_name = "reliability-adjusted O/E (observed over expected)"
    shrinkage_model = "gamma-Poisson"
    shrunken_towards = "1, England's observed / expected"
    excess_words = (
        "Observed minus expected events: observed deaths or events minus the sum of each patient's predicted risk "
        "from the risk model. The interval is the 95% interval of observed/expected (exact Poisson), multiplied by "
        "the expected events and less them."
    )

    def cohort(
        self,
        indicator: IndicatorDefinition,
        frame: pd.DataFrame,
        numerator: np.ndarray,
        denominator: np.ndarray,
        *,
        years: np.ndarray,
        groups: np.ndarray,
    ) -> Cohort:
        """The denominator's patients with a predicted risk (those excluded for a missing case-mix
        field are named on the card); too few patients or events, or no convergence, give no
        cohort but a card that says so rather than a guess."""
        import numpy as np

        from indicators.stats.risk import fit_risk_model
        from indicators.stats.risk_spec import DEFAULT_MINIMUM_COMPLETENESS

        model = indicator.risk_model
        assert model is not None  # a ratio's definition has a risk model (indicators.definitions)
        patients = frame.loc[denominator].copy()
        patients["_outcome"] = numerator[denominator]
        try:
            fit = fit_risk_model(
                patients,
                "_outcome",
                model["covariates"],
                model.get("interactions") or (),
                year=years[denominator],
                groups=groups[denominator],
                minimum_completeness=model.get("minimum_completeness", DEFAULT_MINIMUM_COMPLETENESS),
            )
        except ValueError as exc:
            card = {
                "fitted": False,
                "reason": str(exc),
                "n_patients": int(denominator.sum()),
                "n_events": int(numerator.sum()),
            }
            return Cohort(numerator, denominator, card=card)
        predicted = np.full(len(frame), np.nan)
        predicted[np.flatnonzero(denominator)] = fit.predicted
        denominator = denominator & np.isfinite(predicted)  # patients excluded for missing covariates (see the card)
        numerator = numerator & denominator
        expected = np.where(denominator, predicted, 0.0)
        # Var(O) under the model, the sum of p(1 - p): the binomial variance of an indirectly
        # standardised proportion (Spiegelhalter 2005, Stat Med 24:1185), used where events are common.
        return Cohort(numerator, denominator, expected, expected * (1 - expected), {"fitted": True, **fit.card})

    def expected(self, denominator: Any, summed: Any, rate: float) -> Any:
        return summed

    def expected_variance(self, summed: Any) -> Any:
        return summed

    def counts(self, denominator: Any, expected: Any) -> Any:
        return expected

    def interval(self, observed: Any, counts: Any, confidence: float) -> tuple[Any, Any]:
        from indicators.stats.intervals import ratio_interval

        return ratio_interval(observed, counts, confidence, method="exact")

    def adjusted_rate(self, value: Any, rate: Any) -> Any:
        return value * rate

    def target(self, rate: float) -> float:
        return 1.0

    def funnel_patients(self, patients: Any, variance: Any) -> tuple[Any, Any]:
        return patients, variance

    def public_expected(self, expected: Any) -> Any:
        """Expected events are not a count of patients: published as given (the pages show one decimal)."""
        return expected

    def shrink(self, numerator: Any, counts: Any) -> dict[str, Any]:
        """The gamma-Poisson model of the units' observed events given their expected events, on the O/E scale
        (indicators.stats.shrinkage.shrink_ratios). The prior's mean is the funnel's target, 1: the risk model is
        calibrated so that England's O/E is 1 in every year (ADR 0005), so it is known, not estimated; its spread is
        estimated by Clayton & Kaldor's method of moments. Known, it stays right when the units given are only those
        disclosure control shows (indicators.disclosure), among which the hidden ones (1 to 7 events) are missing
        and trusts with no event over-represented."""
        from indicators.stats.shrinkage import shrink_ratios

        return shrunken_fields(shrink_ratios(numerator, counts, mean=self.target(1.0)))

    def rounded_value(self, value: float | None, numerator: int, rounded: tuple[Any, Any]) -> float | None:
        """O / E x the national rate with the same E: the exact value scaled by the rounded O."""
        if value is None:
            return None
        return value * rounded[0] / numerator if numerator else value


KIND = Ratio()
