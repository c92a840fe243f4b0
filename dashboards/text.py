"""Numbers and plain-English sentences for the dashboards.

Pure: no Django, no database. Pages show what these return; the builder
(dashboards/services.py) calls them once per computation run.
"""

from __future__ import annotations

import math
from typing import Any

from indicators.stats.flags import Direction, flag_label, flag_meaning

#: Colour-blind-safe (blue/orange, never red/green), each at least 3:1 against white
#: (WCAG 2.2 non-text contrast), and always paired with a shape and words.
MEANING_COLOURS = {
    "as_expected": "#768692",
    "better": "#005eb8",
    "worse": "#b35900",
    "higher": "#6c2c8f",
    "lower": "#6c2c8f",
    "not_compared": "#4c6272",
}
MEANING_SYMBOLS = {
    "as_expected": "circle",
    "better": "diamond",
    "worse": "square",
    "higher": "triangle-up",
    "lower": "triangle-down",
    "not_compared": "circle-open",
}
MEANING_LEGEND = {
    "as_expected": "Within expected range",
    "better": "Better than expected",
    "worse": "Worse than expected",
    "higher": "Higher than expected",
    "lower": "Lower than expected",
}


def finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def percent(value: Any, digits: int = 1) -> str:
    """0.4312 -> "43.1%"; missing -> "-"."""
    number = finite(value)
    return "-" if number is None else f"{100 * number:.{digits}f}%"


def ratio(value: Any) -> str:
    """An observed/expected ratio to two decimals."""
    number = finite(value)
    return "-" if number is None else f"{number:.2f}"


def count(value: Any) -> str:
    """A whole number with thousands separators."""
    number = finite(value)
    return "-" if number is None else f"{int(round(number)):,}"


def expected_count(value: Any) -> str:
    number = finite(value)
    return "-" if number is None else f"{number:,.1f}"


def interval(lower: Any, upper: Any, formatter=percent) -> str:
    if finite(lower) is None or finite(upper) is None:
        return "-"
    return f"{formatter(lower)} to {formatter(upper)}"


def meaning_of(flag: str, direction: Direction, compared: bool = True) -> str:
    """as_expected, better, worse, higher, lower, or not_compared (too few patients)."""
    if not compared:
        return "not_compared"
    return flag_meaning(flag, direction)


NOT_SHOWN = "Not shown: small numbers"


def label_of(flag: str, direction: Direction, compared: bool = True, shown: bool = True) -> str:
    """The flag in words; a result hidden by small-number suppression has no flag to show."""
    if not shown:
        return NOT_SHOWN
    if not compared:
        return "Not compared: too few patients"
    return flag_label(flag, direction)


def short_label(flag: str, direction: Direction, compared: bool = True, shown: bool = True) -> str:
    """A few words for a grid cell (text in every cell, not colour alone): "Alert: worse", "Within range"."""
    if not shown:
        return "Not shown"
    if not compared:
        return "Too few patients"
    if flag == "none":
        return "Within range"
    level = "Alarm" if flag.startswith("alarm") else "Alert"
    return f"{level}: {flag_meaning(flag, direction)}"


def flag_phrase(flag: str, direction: Direction) -> str:
    """The "so what?" half of an indicator's sentence (HQIP wording; NCIN: learn from better results)."""
    if flag == "none":
        return "within the range expected from chance variation alone"
    level = "alarm, beyond the 99.8% limit" if flag.startswith("alarm") else "alert, beyond the 95% limit"
    side = "higher" if flag.endswith("_high") else "lower"
    meaning = flag_meaning(flag, direction)
    if meaning == "better":
        return f"{side} than expected ({level}), which is better: a chance to learn and share what works"
    if meaning == "worse":
        return f"{side} than expected ({level}), which is worse: a prompt for review, not a judgement"
    return f"{side} than expected ({level}); there is no right rate for this indicator"


def indicator_sentence(
    *,
    place: str,
    value_text: str,
    england_text: str,
    flag: str,
    direction: Direction,
    compared: bool,
    shown: bool,
    denominator_text: str = "",
    minimum: int = 1,
    risk_adjusted: bool = False,
) -> str:
    """One plain-English sentence for one organisation and indicator.

    ``shown`` is False when small-number suppression hides the value;
    ``compared`` is False when the denominator is below the indicator's minimum.
    """
    if not shown:
        return (
            f"{place.capitalize()}: not shown because of small numbers (a count of 1 to 7 patients, or one "
            f"that would let such a count be worked out), to protect confidentiality; England {england_text}."
        )
    adjusted = "risk-adjusted " if risk_adjusted else ""
    if not compared:
        return (
            f"{adjusted.capitalize()}{value_text} at {place} against {england_text} in England; too few patients "
            f"({denominator_text}, fewer than {minimum}) to compare reliably."
        )
    text = (
        f"{adjusted.capitalize()}{value_text} at {place} against {england_text} in England: "
        f"{flag_phrase(flag, direction)}."
    )
    return text[0].upper() + text[1:]


def flag_counts_sentence(*, counts: dict[str, int], units: int, expected_flags: float | None, unit_word: str) -> str:
    """How many units are flagged, and how many alerts chance alone would give (multiple comparisons).

    ``units`` and ``counts`` are the units the reader is shown, and ``expected_flags`` is for them:
    a hidden unit's flag is not shown, so it is not counted either."""
    alerts = counts.get("alert_high", 0) + counts.get("alert_low", 0)
    alarms = counts.get("alarm_high", 0) + counts.get("alarm_low", 0)
    text = (
        f"{units} {unit_word}{'' if units == 1 else 's'} compared: {alarms} beyond the 99.8% limits (alarm) "
        f"and {alerts} more beyond the 95% limits (alert)."
    )
    if expected_flags is not None:
        text += (
            f" About {expected_flags:.1f} would fall outside the 95% limits by chance alone, "
            f"even if every {unit_word} gave the same care."
        )
    return text


def spread_sentence(*, values_text: dict[str, str], n: int, unit_word: str = "trust") -> str:
    return (
        f"Across {n} {unit_word}s: lowest {values_text['min']}, middle half {values_text['q1']} to "
        f"{values_text['q3']}, highest {values_text['max']}."
    )
