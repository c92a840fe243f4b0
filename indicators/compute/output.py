"""What the computation of one indicator returns: its results table (one row per level, organisation and
period, in ``RESULT_COLUMNS``), the funnel fits, the quarterly trends and the risk model's card."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from indicators import result_fields

RESULT_COLUMNS = (
    "level",
    "organisation",
    *result_fields.PERIOD,
    *result_fields.FIGURES,
    *result_fields.JUDGEMENT,
    *result_fields.COMPLETENESS,
    "expected_variance",
    "note",
)


@dataclass
class IndicatorOutput:
    results: pd.DataFrame
    funnels: list[dict[str, Any]] = field(default_factory=list)
    trends: list[dict[str, Any]] = field(default_factory=list)
    model_card: dict[str, Any] | None = None
    #: The inequality breakdowns of the headline period (indicators.compute.inequalities), and its label.
    inequalities: pd.DataFrame | None = None
    inequality_period: str = ""
