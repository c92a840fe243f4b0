"""The figures that check the data and the model: completeness by column (data quality) and a risk
model's calibration (its model card)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboards.figures.layout import LIMIT_COLOUR, base_layout, round_values
from indicators.stats.arrays import finite_or_none


def calibration_figure(groups: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Observed against mean predicted risk in ten groups of predicted risk, with the line of perfect calibration."""
    predicted = [finite_or_none(g.get("mean_predicted")) for g in groups]
    observed = [finite_or_none(g.get("observed_rate")) for g in groups]
    top = max([v for v in predicted + observed if v is not None] or [1.0]) * 1.08
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "Perfect calibration",
            "x": [0, top],
            "y": [0, top],
            "line": {"color": LIMIT_COLOUR, "dash": "dash"},
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "markers+lines",
            "name": "Groups of predicted risk",
            "x": round_values(predicted),
            "y": round_values(observed),
            "customdata": [
                [g.get("decile"), g.get("n"), g.get("observed_events"), round_values([g.get("expected_events")])[0]]
                for g in groups
            ],
            "marker": {"color": "#005eb8", "size": 10, "symbol": "circle"},
            "line": {"color": "#005eb8", "width": 1},
            "hovertemplate": (
                "Group %{customdata[0]} (%{customdata[1]} patients)<br>Predicted %{x:.1%}<br>"
                "Observed %{y:.1%}<br>%{customdata[2]} events against %{customdata[3]} expected"
                "<extra></extra>"
            ),
        },
    ]
    layout = base_layout(x_title="Mean predicted risk", y_title="Observed rate", percent_axis=True, height=380)
    layout["xaxis"]["tickformat"] = ".0%"
    layout["xaxis"]["range"] = [0, top]
    layout["yaxis"]["range"] = [0, top]
    return {"data": traces, "layout": layout}


def completeness_figure(columns: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Horizontal bars: the share of rows with a value, by column."""
    names = [c["column"] for c in columns][::-1]
    values = [(c.get("percent_complete") or 0) / 100 for c in columns][::-1]
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": values,
        "y": names,
        "name": "Complete",
        "marker": {"color": "#005eb8"},
        "hovertemplate": "%{y}: %{x:.1%} complete<extra></extra>",
    }
    layout = base_layout(
        x_title="Rows with a value",
        y_title="",
        percent_axis=False,
        height=max(240, 26 * len(names) + 90),
        showlegend=False,
    )
    layout["xaxis"].update({"tickformat": ".0%", "range": [0, 1]})
    layout["yaxis"]["automargin"] = True
    layout["margin"]["l"] = 160
    return {"data": [trace], "layout": layout}
