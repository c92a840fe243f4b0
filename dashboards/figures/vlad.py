"""The VLAD chart of a trust's observed minus expected events, quarter by quarter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboards.figures.layout import LIMIT_COLOUR, base_layout, round_values


def vlad_figure(*, labels: Sequence[str], cumulative: Sequence[float | None], texts: Sequence[str]) -> dict[str, Any]:
    """A VLAD chart (variable life-adjusted display; Lovegrove et al. 1997, Lancet): the running total of
    observed minus expected events by quarter, around a line at zero. A quarter without a published value is a
    gap (``None``): the line is not drawn across it."""
    x = list(labels)
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "No difference from expected",
            "x": [x[0], x[-1]] if x else [],
            "y": [0, 0],
            "line": {"color": LIMIT_COLOUR, "dash": "dash", "width": 1.5},
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Observed minus expected, added up",
            "x": x,
            "y": round_values(cumulative),
            "customdata": [[t] for t in texts],
            "connectgaps": False,
            "line": {"color": "#005eb8", "width": 2},
            "marker": {"color": "#005eb8", "size": 8, "symbol": "circle"},
            "hovertemplate": "<b>%{x}</b><br>%{customdata[0]}<extra></extra>",
        },
    ]
    layout = base_layout(
        x_title="Quarter of diagnosis", y_title="Observed minus expected events (running total)", percent_axis=False
    )
    layout["height"] = 380
    # Quarters in time order (the zero line's two ends would otherwise come first among the categories).
    layout["xaxis"].update({"type": "category", "categoryorder": "array", "categoryarray": x})
    layout["xaxis"].pop("rangemode", None)
    return {"data": traces, "layout": layout}
