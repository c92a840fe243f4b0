"""The XmR chart of an organisation's quarters (NHS England's "Making Data Count"), and its points' words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboards.figures.layout import LIMIT_COLOUR, base_layout, round_values
from indicators.stats.arrays import finite_or_none
from indicators.stats.vocabulary import COLOURS

SPC_LABELS = {
    "special_cause_improvement": "Special cause: improvement",
    "special_cause_concern": "Special cause: concern",
    "special_cause_neutral": "Special cause: neither better nor worse",
    "common_cause": "Common cause variation",
}


RULE_WORDS = {
    "outside_limits": "Special cause: a point outside the process limits",
    "trend": "Special cause: seven points in a row rising or falling",
    "two_in_three": "Special cause: two of three points near a process limit",
    "shift": "Special cause: seven points in a row on one side of the mean",
    "": "Common cause variation",
}


def _rule_words(rule: str) -> str:
    return RULE_WORDS.get(rule or "", rule)


def xmr_figure(
    *,
    labels: Sequence[str],
    values: Sequence[float | None],
    point_types: Sequence[str],
    rules: Sequence[str],
    mean: float | None,
    lpl: float | None,
    upl: float | None,
    target: float | None,
    percent_axis: bool,
    y_title: str,
    value_texts: Sequence[str],
) -> dict[str, Any]:
    """An XmR chart in the style of NHS England's "Making Data Count".

    Grey line and points for common-cause variation; special-cause points in
    the improvement (blue) or concern (orange) colour, or purple where the
    indicator has no better direction; the mean as a solid line and the
    process limits (mean +/- 2.66 x average moving range) dashed; the target,
    when the audit sets one, dotted. Suppressed points are gaps.
    """
    x = list(labels)
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "Quarterly value",
            "x": x,
            "y": round_values(values),
            "line": {"color": "#aeb7bd", "width": 2},
            "hoverinfo": "skip",
            "connectgaps": False,
            "showlegend": False,
        }
    ]
    for line, name, dash in (
        (mean, "Mean", "solid"),
        (upl, "Upper process limit", "dash"),
        (lpl, "Lower process limit", "dash"),
    ):
        if finite_or_none(line) is not None:
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": name,
                    "x": [x[0], x[-1]],
                    "y": [line, line],
                    "line": {
                        "color": "#212b32" if name == "Mean" else LIMIT_COLOUR,
                        "dash": dash,
                        "width": 2 if name == "Mean" else 1.5,
                    },
                    "hoverinfo": "skip",
                }
            )
    if finite_or_none(target) is not None:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Target",
                "x": [x[0], x[-1]],
                "y": [target, target],
                "line": {"color": "#8a4b00", "dash": "dot", "width": 2},
                "hoverinfo": "skip",
            }
        )
    for kind in ("common_cause", "special_cause_improvement", "special_cause_concern", "special_cause_neutral"):
        index = [i for i, t in enumerate(point_types) if t == kind and finite_or_none(values[i]) is not None]
        if not index:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": SPC_LABELS[kind],
                "x": [x[i] for i in index],
                "y": round_values([values[i] for i in index]),
                "customdata": [[value_texts[i], _rule_words(rules[i])] for i in index],
                "marker": {
                    "color": COLOURS[kind],
                    "size": 9 if kind == "common_cause" else 12,
                    "symbol": "circle" if kind == "common_cause" else "diamond",
                    "line": {"color": "#212b32", "width": 1},
                },
                "hovertemplate": "<b>%{x}</b><br>%{customdata[0]}<br>%{customdata[1]}<extra></extra>",
            }
        )
    layout = base_layout(x_title="Quarter of diagnosis", y_title=y_title, percent_axis=percent_axis, height=420)
    layout["xaxis"]["type"] = "category"
    layout["xaxis"].pop("rangemode", None)
    shown = [v for v in (*values, mean, lpl, upl, target) if v is not None and finite_or_none(v) is not None]
    if shown and percent_axis:
        # A rate cannot leave 0-100%, even when a process limit does (the limits are in the table and text).
        low, high = min(shown), max(shown)
        pad = (high - low) * 0.06 or 0.01
        layout["yaxis"]["range"] = round_values([max(low - pad, 0.0), min(high + pad, 1.0)])
    return {"data": traces, "layout": layout}
