"""Working days: weekdays that are not bank holidays of the trust's country (pure: no Django).

The outlier process counts its deadlines in working days (HQIP, "Detection and management of outliers").
Bank holidays come from the ``holidays`` package, asked for the United Kingdom's *subdivision*: the
country-wide ``GB`` calendar holds only the holidays common to all four nations, so it misses Easter
Monday (not a bank holiday in Scotland). England and Wales share one calendar (gov.uk, "UK bank
holidays", https://www.gov.uk/bank-holidays): New Year's Day, Good Friday, Easter Monday, the early May,
spring and summer bank holidays, Christmas Day and Boxing Day, with a substitute weekday when one falls
on a weekend, plus one-off holidays proclaimed by the King.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

#: The countries a trust may be in, with their subdivision code in ``holidays``' GB calendar.
SUBDIVISIONS = {"England": "ENG", "Wales": "WLS"}


@lru_cache(maxsize=len(SUBDIVISIONS))
def _calendar(country: str) -> holidays.HolidayBase:
    try:
        subdivision = SUBDIVISIONS[country]
    except KeyError:
        raise ValueError(f"unknown country {country!r}; expected one of {', '.join(SUBDIVISIONS)}") from None
    return holidays.country_holidays("GB", subdiv=subdivision)


def is_bank_holiday(day: date, country: str) -> bool:
    return day in _calendar(country)


def is_working_day(day: date, country: str) -> bool:
    """Monday to Friday, not a bank holiday of ``country``."""
    return day.weekday() < 5 and not is_bank_holiday(day, country)


def add_working_days(start: date, n: int, country: str) -> date:
    """The ``n``-th working day after ``start`` (``start`` itself does not count); ``start`` when n is 0."""
    if n < 0:
        raise ValueError("n must be zero or more")
    day = start
    while n:
        day += timedelta(days=1)
        if is_working_day(day, country):
            n -= 1
    return day


def working_days_between(start: date, end: date, country: str) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` is not after ``start``)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_working_day(day, country)
    return count
