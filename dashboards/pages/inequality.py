"""The page "who is diagnosed late in my alliance": an indicator's breakdowns by deprivation, age band, sex (and
ethnicity where the extract has it) for England or a Cancer Alliance, from the run's stored, published figures
(``indicators.inequality_results.breakdown``). A table per dimension, a bar chart with the same numbers, the
slope index of inequality in plain words, and one CSV of every table.

Pure: no database; the view hands over the breakdowns as the reader may see them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dashboards import text
from dashboards.figures.layout import ENGLAND_COLOUR, FONT, LIMIT_COLOUR, round_values
from dashboards.pages.piece import CsvSchema, columns

DIMENSION_TITLES = {
    "deprivation": "By deprivation (Index of Multiple Deprivation quintile)",
    "age": "By age at diagnosis",
    "sex": "By sex",
    "ethnicity": "By ethnic group",
}
HIDDEN = "not shown: small numbers"
BAR_COLOUR = "#005eb8"


@dataclass
class Section:
    dimension: str
    title: str
    rows: list[dict[str, Any]]
    sentence: str
    figure: str = ""
    has_chart: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _row(row: dict[str, Any]) -> dict[str, Any]:
    shown = row["value"] is not None
    return {
        **row,
        "value_text": text.percent(row["value"]) if shown else HIDDEN,
        "ci_text": text.interval(row["ci_lower"], row["ci_upper"]) if shown else "",
        "counts_text": f"{text.count(row['numerator'])} of {text.count(row['denominator'])}"
        if row["numerator"] is not None
        else HIDDEN,
    }


def sii_sentence(answer: dict[str, Any], *, place: str, measure: str) -> str:
    """The slope index of inequality and the gap in plain words (deprivation only)."""
    sii, lower, upper = answer.get("sii"), answer.get("sii_lower"), answer.get("sii_upper")
    if sii is None or lower is None or upper is None:
        return (
            f"The slope index of inequality is not shown for {place}: a deprivation group has no patients, none or "
            "all of them with the outcome, or small numbers hidden."
        )
    points = abs(100 * sii)
    direction = "higher" if sii > 0 else "lower"
    words = (
        f"In {place}, {measure} is {points:.1f} percentage points {direction} among the least deprived than among "
        f"the most deprived, once every quintile is taken into account (slope index of inequality {100 * sii:+.1f} "
        f"points, 95% interval {100 * lower:+.1f} to {100 * upper:+.1f})."
    )
    if lower <= 0 <= upper:
        words += " The interval includes 0: the data do not show a clear gradient."
    else:
        words += " The interval does not include 0: the gradient is unlikely to be chance alone."
    gap = answer.get("gap")
    if gap is not None:
        words += f" The most deprived fifth minus the least deprived: {100 * gap:+.1f} points."
    return words


def _figure(section_rows: list[dict[str, Any]], title: str) -> str:
    shown = [r for r in section_rows if r["value"] is not None]
    if not shown:
        return ""
    values = round_values(r["value"] for r in shown)
    lower = round_values(r["value"] - r["ci_lower"] if r["ci_lower"] is not None else None for r in shown)
    upper = round_values(r["ci_upper"] - r["value"] if r["ci_upper"] is not None else None for r in shown)
    figure = {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [r["group"] for r in shown],
                "x": values,
                "marker": {"color": BAR_COLOUR},
                "error_x": {"type": "data", "array": upper, "arrayminus": lower, "color": ENGLAND_COLOUR},
                "hovertemplate": "%{y}: %{x:.1%}<extra></extra>",
                "name": title,
            }
        ],
        "layout": {
            "font": FONT,
            "height": 120 + 40 * len(shown),
            "margin": {"l": 160, "r": 20, "t": 20, "b": 50},
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "showlegend": False,
            "xaxis": {
                "title": {"text": "Percentage (95% interval)"},
                "tickformat": ".0%",
                "rangemode": "tozero",
                "gridcolor": "#e8edee",
                "linecolor": LIMIT_COLOUR,
            },
            "yaxis": {"autorange": "reversed", "linecolor": LIMIT_COLOUR},
        },
    }
    return json.dumps(figure)


def sections(answers: list[dict[str, Any]], *, place: str, measure: str) -> list[Section]:
    """One section per dimension answered (``breakdown`` dicts), in the audit's order."""
    out = []
    for answer in answers:
        rows = [_row(row) for row in answer["rows"]]
        figure = _figure(rows, answer["dimension"])
        sentence = sii_sentence(answer, place=place, measure=measure) if answer["dimension"] == "deprivation" else ""
        out.append(
            Section(
                dimension=answer["dimension"],
                title=DIMENSION_TITLES.get(answer["dimension"], answer["dimension"]),
                rows=rows,
                sentence=sentence,
                figure=figure,
                has_chart=bool(figure),
            )
        )
    return out


INEQUALITIES_CSV: CsvSchema[dict[str, Any]] = columns(
    ("dimension", lambda r: r["dimension"]),
    ("group", lambda r: r["group"]),
    ("numerator", lambda r: "" if r["numerator"] is None else r["numerator"]),
    ("denominator", lambda r: "" if r["denominator"] is None else r["denominator"]),
    ("value", lambda r: "" if r["value"] is None else r["value"]),
    ("ci_lower", lambda r: "" if r["ci_lower"] is None else r["ci_lower"]),
    ("ci_upper", lambda r: "" if r["ci_upper"] is None else r["ci_upper"]),
    ("suppressed", lambda r: "yes" if r["suppressed"] else "no"),
    ("sii", lambda r: "" if r["sii"] is None else r["sii"]),
    ("sii_lower", lambda r: "" if r["sii_lower"] is None else r["sii_lower"]),
    ("sii_upper", lambda r: "" if r["sii_upper"] is None else r["sii_upper"]),
)


def csv_rows(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **row,
            "dimension": a["dimension"],
            "sii": a.get("sii"),
            "sii_lower": a.get("sii_lower"),
            "sii_upper": a.get("sii_upper"),
        }
        for a in answers
        for row in a["rows"]
    ]
