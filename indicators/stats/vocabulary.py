"""The words the statistics accept, as plain data: funnel methods, overdispersion modes, directions.

Kept apart from the formulas (standard library only) so that checking a definition file, the funnel
command's help and the funnel tool's form need no numpy or scipy, and so that every list has one owner:
:mod:`.funnel` and :mod:`.analysis` check against these, :mod:`indicators.definitions` and
:mod:`indicators.funnel_tool` offer them (docs/glossary.md).
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "COLOURS",
    "DEFAULT_METHOD",
    "DIRECTIONS",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "NO_JUDGEMENT",
    "Direction",
    "LIMITS",
    "NEEDS_PATIENTS",
    "OVERDISPERSION_CHOICES",
    "OVERDISPERSION_MODES",
    "Overdispersion",
    "PROPORTION_METHODS",
    "RATIO_METHODS",
    "TAIL_METHODS",
]

#: The calibrated default, first of each list below: flags from one-sided mid-p tails (:mod:`.tails`).
DEFAULT_METHOD = "midp"
#: Proportion limits (:func:`.funnel.proportion_limits`): the default, then the peers' methods.
PROPORTION_METHODS = ("midp", "exact", "wilson", "normal", "arcsine")
#: O/E ratio limits (:func:`.funnel.ratio_limits`): the default, the peers' methods (FunnelPlotR exact
#: Poisson, SHMI log scale, CQC square-root scale), and the indirectly standardised proportion.
RATIO_METHODS = ("midp", "exact", "shmi", "cqc", "isp")
#: Methods whose flags are decided by a tail probability (the published z is its normal score).
TAIL_METHODS = ("midp", "isp")
#: Methods that need each unit's number of patients besides O and E (Spiegelhalter 2005, Stat Med
#: 24:1185, §2.3.2): an aggregate table of unit, observed, expected cannot use them.
NEEDS_PATIENTS = ("isp",)

#: How limits are widened for overdispersion (Spiegelhalter 2005, Qual Saf Health Care 14:347).
OVERDISPERSION_MODES = ("none", "additive", "multiplicative")
Overdispersion = Literal["auto", "none", "additive", "multiplicative"]
#: What an analysis accepts: "auto" applies the additive form when φ > 1 (FunnelPlotR's default).
OVERDISPERSION_CHOICES: tuple[Overdispersion, ...] = ("auto", "none", "additive", "multiplicative")

#: An indicator's declared direction: which way is better decides what a flag means (:mod:`.flags`).
HIGHER_IS_BETTER: Final = "higher_is_better"
LOWER_IS_BETTER: Final = "lower_is_better"
NO_JUDGEMENT: Final = "no_judgement"
DIRECTIONS = (HIGHER_IS_BETTER, LOWER_IS_BETTER, NO_JUDGEMENT)
Direction = Literal["higher_is_better", "lower_is_better", "no_judgement"]
#: The funnel limits at a unit's denominator, as a unit's figures and an indicator result name them: 95% and
#: 99.8%, risk-adjusted (overdispersion included), then unadjusted.
LIMITS = (
    "limit_lower_95",
    "limit_upper_95",
    "limit_lower_998",
    "limit_upper_998",
    "limit_lower_95_unadjusted",
    "limit_upper_95_unadjusted",
    "limit_lower_998_unadjusted",
    "limit_upper_998_unadjusted",
)

#: SPC charts: the colour of each point type, with Making Data Count's meanings (NHS England, "Making data count",
#: 2019; NHSRplotthedots R/ptd_spc_colours.R): blue improvement, orange concern, purple neutral, grey common
#: cause. The peer's shades (#00b0f0, #e46c0a, #490092, #a6a6a6) are replaced by darker ones of the same
#: hues, each at least 3:1 against white (WCAG 2.2 SC 1.4.11, non-text contrast; the peer's grey is 2.4:1),
#: the NHS identity's blue and grey among them. The pages and the API both show these.
COLOURS: dict[str, str] = {
    "special_cause_improvement": "#005eb8",
    "special_cause_concern": "#b35900",
    "special_cause_neutral": "#6c2c8f",
    "common_cause": "#768692",
}
