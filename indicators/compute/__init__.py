"""Compute one indicator from a release's rows: every level, every audit year, with trends.

Pure: pandas/numpy and indicators.stats only, no Django, no database. The job
(indicators/services.py) loads the rows and stores what this returns.

- ``indicator``: ``compute_indicator``, the cohort and the assembly of its results;
- ``periods``: audit years, quarters, their labels and coverage;
- ``years``: one period's results at every level, with its funnel;
- ``refusals``: the trusts' years refused for a field recorded too rarely;
- ``trends``: quarterly trends and their XmR charts;
- ``output``: what it returns (``IndicatorOutput``, ``RESULT_COLUMNS``).
"""

from indicators.compute.indicator import compute_indicator
from indicators.compute.output import RESULT_COLUMNS, IndicatorOutput
from indicators.compute.periods import audit_year, coverage, followed_up_until, period_label, quarter_label
from indicators.compute.trends import trend_chart

__all__ = [
    "RESULT_COLUMNS",
    "IndicatorOutput",
    "audit_year",
    "compute_indicator",
    "coverage",
    "followed_up_until",
    "period_label",
    "quarter_label",
    "trend_chart",
]
