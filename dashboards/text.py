"""Numbers and plain-English sentences for the dashboards.

Pure: no Django, no database. Pages show what these return; the builder
(dashboards/services.py) calls them once per computation run.
"""

from __future__ import annotations

from typing import Any

from indicators.stats.arrays import finite_or_none
from indicators.stats.flags import flag_label, flag_meaning
from indicators.stats.multiplicity import expected_chance_flags
from indicators.stats.vocabulary import Direction

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


def percent(value: Any, digits: int = 1) -> str:
    """0.4312 -> "43.1%"; missing -> "-"."""
    number = finite_or_none(value)
    return "-" if number is None else f"{100 * number:.{digits}f}%"


def ratio(value: Any) -> str:
    """An observed/expected ratio to two decimals."""
    number = finite_or_none(value)
    return "-" if number is None else f"{number:.2f}"


def count(value: Any) -> str:
    """A whole number with thousands separators."""
    number = finite_or_none(value)
    return "-" if number is None else f"{int(round(number)):,}"


def expected_count(value: Any) -> str:
    number = finite_or_none(value)
    return "-" if number is None else f"{number:,.1f}"


def interval(lower: Any, upper: Any, formatter=percent) -> str:
    if finite_or_none(lower) is None or finite_or_none(upper) is None:
        return "-"
    return f"{formatter(lower)} to {formatter(upper)}"


def interval_ends(written: str) -> tuple[str, str]:
    """The two ends of an interval as :func:`interval` writes it ("a to b"), for a CSV's separate lower and upper
    columns; an unknown interval ("-") gives two empty cells, a hidden one its marker in both."""
    lower, found, upper = written.partition(" to ")
    if found:
        return lower, upper
    return ("", "") if written in ("", "-") else (written, written)


def meaning_of(flag: str, direction: Direction, compared: bool = True) -> str:
    """as_expected, better, worse, higher, lower, or not_compared (too few patients)."""
    if not compared:
        return "not_compared"
    return flag_meaning(flag, direction)


NOT_SHOWN = "Not shown: small numbers"
#: The trusts' funnel of an audit that compares Cancer Alliances: what it says instead.
COMPARED_BY_ALLIANCE = (
    "Trusts are compared by Cancer Alliance, as the audit's definition declares: each trust has too few patients "
    "for a flag of its own, so no trust is flagged by chance and none is left out. The table gives each trust's "
    "figure beside its reliability-adjusted estimate, which pulls the figure towards England's by as much as it "
    "is chance."
)
#: A trust of an audit that compares Cancer Alliances (its definition's ``reporting.comparison_level``).
BY_ALLIANCE = "Not compared: compared by Cancer Alliance"
BY_ALLIANCE_SHORT = "By alliance"


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
    adjective: str = "",
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
    adjusted = f"{adjective} " if adjective else ""
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


def flag_counts_sentence(*, counts: dict[str, int], units: int, unit_word: str, chance: bool = True) -> str:
    """How many units are flagged, and how many alerts and alarms chance alone would give (multiple comparisons:
    ``indicators.stats.multiplicity.expected_chance_flags``), unless ``chance`` is False.

    ``units`` and ``counts`` are the units the reader is shown, and the flags chance would give are for them:
    a hidden unit's flag is not shown, so it is not counted either."""
    alerts = counts.get("alert_high", 0) + counts.get("alert_low", 0)
    alarms = counts.get("alarm_high", 0) + counts.get("alarm_low", 0)
    text = (
        f"{units} {unit_word}{'' if units == 1 else 's'} compared: {alarms} beyond the 99.8% limits (alarm) "
        f"and {alerts} more beyond the 95% limits (alert)."
    )
    if chance:
        text += " " + chance_flags_sentence(units, unit_word)
    return text


def chance_flags_sentence(comparisons: int, unit_word: str) -> str:
    """How many of ``comparisons`` would be flagged by chance alone, were every unit alike: m x 5% beyond the 95%
    limits and m x 0.2% beyond the 99.8% limits (HQIP; Spiegelhalter 2005)."""
    chance = expected_chance_flags(comparisons)
    return (
        f"About {chance.expected_alerts:.1f} would fall outside the 95% limits by chance alone, "
        f"and about {chance.expected_alarms:.1f} outside the 99.8% limits, "
        f"even if every {unit_word} gave the same care."
    )


def period_words(period: str) -> str:
    """A period as the pages say it: an audit year as it is ("2024/25"), audit years pooled as "2022/23 to
    2024/25 pooled" (with what a part-covered period adds: ", to 2 July 2025")."""
    label, _, rest = period.partition(",")
    if "-" not in label:
        return period
    first, last = label.split("-", 1)
    return f"{first} to {last} pooled" + (f",{rest}" if rest else "")


def spread_sentence(*, values_text: dict[str, str], n: int, unit_word: str = "trust") -> str:
    return (
        f"Across {n} {unit_word}s: lowest {values_text['min']}, middle half {values_text['q1']} to "
        f"{values_text['q3']}, highest {values_text['max']}."
    )


# ---------------------------------------------------------------- "could not be computed" and "is this flag real?"

#: What everyone reads when an indicator's risk model could not be fitted (never the model's own words).
NOT_COMPUTED = (
    "This figure could not be computed for this release: the data did not allow a reliable adjustment for "
    "the differences in patients between trusts (for example, too few patients or events in some groups). "
    "No figure is shown rather than an unreliable one."
)

#: A trust's field counts as recorded less fully than England's when it is this many percentage points below.
COMPLETENESS_GAP = 10.0


def signed_events(value: Any) -> str:
    """An excess of events to one decimal, with its sign: "+12.3", "-4.0", "0.0"."""
    number = finite_or_none(value)
    if number is None:
        return "-"
    return "0.0" if abs(number) < 0.05 else f"{number:+,.1f}"


def excess_sentence(excess: float | None, lower: float | None, upper: float | None, *, place: str) -> str:
    """Observed minus expected events in words, with its 95% interval."""
    number, low, high = finite_or_none(excess), finite_or_none(lower), finite_or_none(upper)
    if number is None:
        return f"The number of events at {place} is not shown because of small numbers."
    amount = abs(number)
    if amount < 0.05:
        text = f"{place.capitalize()} had as many events as expected"
    else:
        text = f"{place.capitalize()} had about {amount:,.1f} {'more' if number > 0 else 'fewer'} events than expected"
    if low is None or high is None:
        return text + "."
    text += f" (95% interval {signed_events(low)} to {signed_events(high)})"
    if low <= 0 <= high:
        return text + ": the interval includes no difference at all, so chance alone could explain it."
    return text + ": more than chance alone would usually give."


def years_sentence(years: list[dict[str, Any]]) -> str:
    """How many single audit years carry a flag, and on which side: a flag seen year after year is more telling
    than one seen only when the years are pooled."""
    compared = [y for y in years if y["compared"]]
    hidden = sum(1 for y in years if y.get("label") == NOT_SHOWN)
    unseen = (
        f" {hidden} single year{'s are' if hidden != 1 else ' is'} not shown because of small numbers."
        if hidden
        else ""
    )
    if not compared:
        return "No single year had enough patients shown to compare on its own." + unseen
    flagged = [y for y in compared if y["flag"] != "none"]
    if not flagged:
        which = (
            "The single year compared is not"
            if len(compared) == 1
            else f"None of the {len(compared)} single years compared is"
        )
        return (
            f"{which} flagged on its own: the flag comes from the years together, where more patients give more "
            "certainty." + unseen
        )
    meanings = sorted({y["meaning"] for y in flagged})
    sides = " and ".join(MEANING_LEGEND[m].lower() for m in meanings)
    return (
        f"Flagged in {len(flagged)} of {len(compared)} single years compared "
        f"({', '.join(y['period'] for y in flagged)}): {sides}."
        + (" A flag that recurs year after year is less likely to be chance." if len(flagged) > 1 else "")
        + unseen
    )


def completeness_sentence(rows: list[dict[str, Any]], *, shown: bool) -> str:
    """Whether the fields behind an indicator are recorded at the trust as fully as in England."""
    if not shown:
        return (
            "Completeness at each trust counts its patients, so it is shown to the audit's analysts and the trust's "
            "Cancer Alliance; England's completeness of each field is below."
        )
    low = [r for r in rows if r["gap"]]
    if not low:
        return (
            f"Every field behind this indicator is recorded here about as fully as in England (within "
            f"{COMPLETENESS_GAP:.0f} percentage points)."
        )
    listed = "; ".join(f"{r['column']} {r['trust_text']} here against {r['england_text']} in England" for r in low)
    return (
        f"Recorded less fully here than in England: {listed}. A flag can reflect how data are recorded as well as "
        "the care given: check these fields with the trust's data team first."
    )


VLAD_WORDS = (
    "The line adds up, quarter by quarter, the events seen minus the events expected (a VLAD chart, as cardiac and "
    "surgical audits use). It climbs when there are more events than expected and falls when there are fewer; a "
    "steady climb over several quarters says more than a single jump."
)


def vlad_gap_words(hidden: int) -> str:
    if not hidden:
        return ""
    return (
        f" {hidden} quarter{'s are' if hidden != 1 else ' is'} not shown because of small numbers: the line stops "
        "there and its events are left out of the running total, so the total may differ from the one for all years."
    )
