"""The fields of one indicator result (``models.IndicatorResult``), in the order they are published: one owner,
pure, so the engine's table, the disclosure rules, the API, the pages and the analysts' command name them alike.

Each list below is a group of the model's fields; the users join the groups they give (docs/domain.md §2.4 for
what the public sees of a trust's or alliance's row).
"""

from __future__ import annotations

# The funnel limits at the result's denominator are the statistics' words (a unit's figures name them alike).
from indicators.stats.vocabulary import LIMITS

#: Where a result belongs in time: the period's label, then its first and last day.
PERIOD = ("period", "period_start", "period_end")
#: The counts: patients meeting the indicator, patients eligible, observed and expected events.
COUNTS = ("numerator", "denominator", "observed", "expected")
#: The estimate with its 95% interval: proportion or O/E, and the risk-adjusted rate.
ESTIMATE = ("value", "adjusted_rate", "ci_lower", "ci_upper")
#: The 99.8% interval of the estimate.
INTERVAL_998 = ("ci_lower_998", "ci_upper_998")
#: The reliability-adjusted (shrunken) estimate of a proportion or O/E, its 95% interval and the reliability of the
#: crude figure (indicators.stats.shrinkage; indicators.kinds ``Kind.shrink``): a trust's or alliance's only;
#: England is not shrunk.
SHRUNKEN = ("shrunken_value", "shrunken_lower", "shrunken_upper", "reliability")
#: Every figure of a result, England's value among them, as the API and the CSV order them.
FIGURES = (*COUNTS, *ESTIMATE, *INTERVAL_998, *SHRUNKEN, "national_value", *LIMITS, "z")
#: The figures computed from a trust's or alliance's own counts: all but England's value.
OWN_FIGURES = tuple(name for name in FIGURES if name != "national_value")
#: What the funnel says of a result: its flag and whether its denominator is large enough to be flagged.
JUDGEMENT = ("flag", "eligible")
#: How complete the data behind a result is: the share of the period followed up, whether the period is
#: covered only in part, and the share of patients with the required field recorded.
COMPLETENESS = ("coverage", "partial", "field_completeness")
