"""The funnel tool: an analyst's own aggregated table, analysed (indicators.funnel_tool), as a funnel plot,
a table and its CSV."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dashboards import figures
from dashboards.pages.piece import CsvSchema, columns
from dashboards.text import flag_counts_sentence, interval, label_of, meaning_of, percent, ratio
from indicators.funnel_tool import COLUMNS, METHODS, as_json
from indicators.funnel_tool import KINDS as TOOL_KINDS
from indicators.kinds import KINDS, Kind
from indicators.stats.vocabulary import NO_JUDGEMENT

if TYPE_CHECKING:
    from indicators.stats.analysis import FunnelResult

#: The words the form shows for each limits method (docs/glossary.md, "funnel method"; indicators.stats.funnel).
METHOD_LABELS = {
    "midp": "Mid-p (exact tails, calibrated flags; recommended)",
    "exact": "Exact (binomial or Poisson)",
    "wilson": "Wilson (PHE; proportions)",
    "normal": "Normal approximation (proportions)",
    "arcsine": "Arcsine (FunnelPlotR; proportions)",
    "shmi": "SHMI (log scale; ratios)",
    "cqc": "CQC (square-root scale; ratios)",
}
#: The words the form shows for each kind of table it takes (indicators.funnel_tool.KINDS).
KIND_LABELS = {"proportion": "Proportions", "ratio": "Observed over expected"}
#: The form's choice of table: (kind, its words, its columns), in the tool's order.
KIND_CHOICES = [(kind, KIND_LABELS[kind], ",".join(COLUMNS[kind])) for kind in TOOL_KINDS]
#: The form's choice of limits: every method the tool accepts for either kind, once, the default first.
METHOD_CHOICES = [(method, METHOD_LABELS[method]) for method in dict.fromkeys(m for ms in METHODS.values() for m in ms)]


def funnel_csv(kind: str) -> CsvSchema[dict[str, Any]]:
    """The download of the analysed table: its units' two counts named as the table of the ``kind`` names them
    (a proportion's numerator and denominator, a ratio's observed and expected)."""
    _, counted, against = COLUMNS[kind]
    return columns(
        ("unit", lambda r: r["unit"]),
        (counted, lambda r: r["numerator"]),
        (against, lambda r: r["denominator"]),
        *(
            (name, lambda r, name=name: r[name])
            for name in (
                "value",
                "ci_lower",
                "ci_upper",
                "limit_lower_95",
                "limit_upper_95",
                "limit_lower_998",
                "limit_upper_998",
                "z",
                "flag",
            )
        ),
    )


def tool_kind(result: FunnelResult) -> Kind:
    """The kind of indicator whose table the tool analysed: the tool's kinds (proportion, ratio) are the
    indicator kinds of the same names, whose words the page uses."""
    return KINDS[result.kind]


def funnel_tool_output(result: FunnelResult) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    """The analysed units in words, the funnel plot's specification and its summary."""
    data = as_json(result)
    kind = tool_kind(result)
    fmt = percent if kind.statistic_percent else ratio
    rows, points = [], []
    counts: dict[str, int] = {}
    for unit in data["units"]:
        unit["value_text"] = fmt(unit["value"])
        unit["ci_text"] = interval(unit["ci_lower"], unit["ci_upper"], fmt)
        unit["label"] = label_of(unit["flag"], NO_JUDGEMENT)
        counts[unit["flag"]] = counts.get(unit["flag"], 0) + 1
        rows.append(unit)
        if unit["value"] is not None:
            points.append(
                {
                    "x": unit["denominator"],
                    "y": unit["value"],
                    "meaning": meaning_of(unit["flag"], NO_JUDGEMENT),
                    "customdata": [
                        unit["unit"],
                        unit["unit"],
                        unit["value_text"],
                        unit["ci_text"],
                        f"{kind.count_titles[1]} {unit['denominator']:g}",
                        unit["label"],
                    ],
                }
            )
    figure = figures.funnel_figure(
        points=points,
        kind=result.kind,
        method=result.method,
        target=result.target,
        tau2=result.tau2,
        phi=result.phi,
        overdispersion=result.overdispersion,
        percent_axis=kind.statistic_percent,
        x_title=kind.count_titles[1],
        y_title=kind.statistic_title,
        target_label="Target",
    )
    summary = (
        f"Funnel plot of {len(rows)} units around a target of {fmt(result.target)}. "
        + flag_counts_sentence(counts=counts, units=len(rows), unit_word="unit")
        + (
            f" Limits widened for overdispersion ({result.overdispersion}, φ = {result.phi:.2f}, "
            f"τ² = {result.tau2:.3g})."
            if result.overdispersion_applied
            else f" No overdispersion adjustment (φ = {result.phi:.2f})."
        )
    )
    return rows, figure, summary
