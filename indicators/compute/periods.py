"""Periods: audit years (April to March), all years together and NHS financial quarters; their labels, and how
much of a period the extract's follow-up covers."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from indicators.definitions import IndicatorDefinition

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def audit_year(dates: pd.Series) -> pd.Series:
    """Audit year (April to March) starting year of each date; NaN where the date is missing."""
    years = dates.dt.year - (dates.dt.month < 4).astype("Int64")
    return years.astype("float64")


def period_label(start_year: int, last_year: int | None = None, end: date | None = None) -> str:
    """ "2024/25"; all years "2021/22-2024/25"; a period covered only up to ``end`` (before the last
    year's 31 March) says so: "2025/26, April to June 2025", "2021/22-2025/26, to 2 July 2025"."""
    last = start_year if last_year is None else last_year
    label = f"{start_year}/{(start_year + 1) % 100:02d}"
    if last != start_year:
        label += f"-{last}/{(last + 1) % 100:02d}"
    if end is None or end >= date(last + 1, 3, 31):
        return label
    if last != start_year:
        return f"{label}, to {_day(end)} {end.year}"
    return f"{label}, {_span_text(date(last, 4, 1), end)}"


def _day(day: date, whole_month: bool = False) -> str:
    return MONTHS[day.month - 1] if whole_month else f"{day.day} {MONTHS[day.month - 1]}"


def _span_text(start: date, end: date) -> str:
    """ "April to June 2025" when the span is whole months, else "1 April to 2 July 2025"."""
    whole = start.day == 1 and (end + pd.Timedelta(days=1)).day == 1
    first = _day(start, whole) + ("" if start.year == end.year else f" {start.year}")
    if whole and (start.year, start.month) == (end.year, end.month):
        return f"{_day(end, True)} {end.year}"
    return f"{first} to {_day(end, whole)} {end.year}"


def followed_up_until(indicator: IndicatorDefinition, extract_date: date) -> date:
    """The last date of the period column whose patients are fully followed up at the extract date, as the
    denominator requires (``indicators.conditions``); an indicator requiring none is complete up to the
    extract date."""
    return indicator.conditions.denominator.followed_up_until(indicator.period_column, extract_date) or extract_date


def coverage(start: date, end: date, complete_until: date) -> tuple[date, float]:
    """The last date the period ``start``-``end`` really covers, and the fraction of its days covered."""
    covered_end = min(end, complete_until)
    days = max((covered_end - start).days + 1, 0)
    return covered_end, days / ((end - start).days + 1)


def period_of(indicator: IndicatorDefinition, year: int, last_year: int | None, complete_until: date) -> dict[str, Any]:
    """A period's label, its real first and last dates, the share of its days covered, and why it has
    no funnel flags when it covers less than the definition's ``minimum_coverage``."""
    last = year if last_year is None else last_year
    start, end = date(year, 4, 1), date(last + 1, 3, 31)
    covered_end, share = coverage(start, end, complete_until)
    label = period_label(year, last_year, covered_end)
    note = ""
    flaggable = share >= indicator.minimum_coverage
    if share < 1:
        note = (
            f"Covers {_span_text(start, covered_end)} only ({share:.0%} of the period): "
            f"{indicator.period_column} up to {covered_end.isoformat()} is followed up at the extract date."
        )
        if not flaggable:
            note += f" No funnel flags: the indicator needs at least {indicator.minimum_coverage:.0%} of the period."
    return {
        "period": label,
        "period_start": start,
        "period_end": covered_end,
        "coverage": share,
        "partial": share < 1,
        "note": note,
        "flaggable": flaggable,
    }


def pooled_window(indicator: IndicatorDefinition, span: list[int], complete_until: date) -> list[int]:
    """The audit years the headline period pools: every year of ``span`` (the years with patients), or the latest
    ``reporting.pool_years`` of them when the definition declares a window. A latest year too little followed up
    to be judged (below ``minimum_coverage``) is left out of a declared window, which then ends a year earlier."""
    pool = indicator.reporting.pool_years
    if pool is None:
        return span
    years = list(span)
    if len(years) > 1 and not period_of(indicator, years[-1], None, complete_until)["flaggable"]:
        years = years[:-1]
    return [year for year in years if year > years[-1] - pool]


def quarter_label(quarter: int) -> tuple[str, date]:
    """An NHS financial quarter numbered audit year x 4 + (0 for April-June ... 3 for January-March):
    its label ("2024/25 Q1") and first day."""
    year, index = divmod(quarter, 4)
    month = 4 + 3 * index
    return f"{period_label(year)} Q{index + 1}", date(year + (month > 12), (month - 1) % 12 + 1, 1)
