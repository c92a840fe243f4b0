"""Working days skip the bank holidays of England and Wales.

Every expected date below is taken from the published calendar (gov.uk, "UK bank holidays",
https://www.gov.uk/bank-holidays, England and Wales), not from the code:

- 2025: 18 Apr Good Friday, 21 Apr Easter Monday, 25 Dec Christmas Day (Thu), 26 Dec Boxing Day (Fri);
- 2026: 1 Jan New Year's Day (Thu), 3 Apr Good Friday, 6 Apr Easter Monday, 25 Dec Christmas Day (Fri),
  28 Dec Boxing Day (substitute day: 26 Dec is a Saturday);
- 2027: 1 Jan New Year's Day (Fri), 26 Mar Good Friday, 29 Mar Easter Monday, 27 Dec Christmas Day and
  28 Dec Boxing Day (substitute days: 25 and 26 Dec are a Saturday and Sunday);
- 2022: 3 Jan New Year's Day (substitute day: 1 Jan is a Saturday).
"""

from datetime import date

import pytest

from outliers.workdays import SUBDIVISIONS, add_working_days, is_working_day, working_days_between

COUNTRIES = ("England", "Wales")

# gov.uk's bank holidays of England and Wales (the same calendar for both).
PUBLISHED = [
    date(2025, 4, 18),
    date(2025, 4, 21),
    date(2025, 12, 25),
    date(2025, 12, 26),
    date(2026, 1, 1),
    date(2026, 4, 3),
    date(2026, 4, 6),
    date(2026, 12, 25),
    date(2026, 12, 28),
    date(2027, 1, 1),
    date(2027, 3, 26),
    date(2027, 3, 29),
    date(2027, 12, 27),
    date(2027, 12, 28),
    date(2022, 1, 3),
]


@pytest.mark.parametrize("country", COUNTRIES)
@pytest.mark.parametrize("day", PUBLISHED)
def test_published_bank_holidays_are_not_working_days(country, day):
    assert day.weekday() < 5  # a weekday, so only the holiday makes it a day off
    assert not is_working_day(day, country)


@pytest.mark.parametrize("country", COUNTRIES)
def test_ordinary_weekdays_and_weekends(country):
    assert is_working_day(date(2026, 4, 7), country)  # the Tuesday after Easter Monday
    assert is_working_day(date(2026, 12, 29), country)
    assert not is_working_day(date(2026, 12, 26), country)  # Saturday: Boxing Day moves to Monday 28th
    assert not is_working_day(date(2026, 4, 4), country)


@pytest.mark.parametrize("country", COUNTRIES)
def test_deadline_across_christmas_and_new_year_2026(country):
    # Thursday 24 Dec 2026: Fri 25 (Christmas), Sat, Sun, Mon 28 (Boxing Day substitute) are not working days.
    assert add_working_days(date(2026, 12, 24), 1, country) == date(2026, 12, 29)
    # ... then 29, 30, 31 Dec, (Fri 1 Jan 2027 New Year's Day), Mon 4 Jan.
    assert add_working_days(date(2026, 12, 24), 4, country) == date(2027, 1, 4)
    assert working_days_between(date(2026, 12, 24), date(2027, 1, 4), country) == 4


@pytest.mark.parametrize("country", COUNTRIES)
def test_deadline_across_christmas_2027_with_two_substitute_days(country):
    # Friday 24 Dec 2027: Sat 25, Sun 26, Mon 27 and Tue 28 (substitutes) are off; Wed 29 is the first working day.
    assert add_working_days(date(2027, 12, 24), 1, country) == date(2027, 12, 29)


@pytest.mark.parametrize("country", COUNTRIES)
def test_deadline_across_easter_2026(country):
    # Thursday 2 Apr 2026: Good Friday 3 Apr and Easter Monday 6 Apr are off.
    assert add_working_days(date(2026, 4, 2), 1, country) == date(2026, 4, 7)
    assert add_working_days(date(2026, 4, 2), 5, country) == date(2026, 4, 13)


def test_easter_monday_needs_the_subdivision():
    """Without a subdivision the United Kingdom's calendar lacks Easter Monday (not a bank holiday in Scotland)."""
    import holidays

    assert date(2026, 4, 6) not in holidays.country_holidays("GB")
    assert not is_working_day(date(2026, 4, 6), "England")


def test_zero_days_and_unknown_country():
    assert add_working_days(date(2026, 4, 3), 0, "England") == date(2026, 4, 3)
    assert working_days_between(date(2026, 4, 8), date(2026, 4, 1), "England") == 0
    with pytest.raises(ValueError, match="unknown country"):
        add_working_days(date(2026, 1, 1), 1, "Scotland")
    assert set(SUBDIVISIONS) == set(COUNTRIES)
