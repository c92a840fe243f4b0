"""What every Plotly figure shares: its font, colours and layout, and numbers rounded for its JSON.

Pure: no Django and no database. The browser draws every chart with one configuration
(``PLOTLY_CONFIG`` in static/dashboards/dashboards.js): plotly.js-basic, scatter and bar traces only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from indicators.stats.arrays import finite_or_none

FONT = {"family": "Arial, 'Helvetica Neue', sans-serif", "size": 14, "color": "#212b32"}
LIMIT_COLOUR = "#4c6272"
ENGLAND_COLOUR = "#212b32"
STANDARD_COLOUR = "#005eb8"


def round_values(values: Iterable[Any], digits: int = 6) -> list[float | None]:
    """Significant-figure rounding keeps the JSON small; None for gaps."""
    out: list[float | None] = []
    for value in values:
        number = finite_or_none(value)
        out.append(None if number is None else float(f"{number:.{digits}g}"))
    return out


def base_layout(*, x_title: str, y_title: str, percent_axis: bool, height: int = 460, **extra: Any) -> dict[str, Any]:
    """The layout every chart starts from: the house font and colours, axis titles, a legend above the plot
    and hover boxes readable on white; ``percent_axis`` labels the y axis in percent; ``extra`` overrides."""
    layout: dict[str, Any] = {
        "font": FONT,
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 30, "b": 60},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hovermode": "closest",
        "hoverlabel": {"bgcolor": "#ffffff", "bordercolor": "#212b32", "font": {"color": "#212b32", "size": 14}},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "font": {"size": 13}},
        "xaxis": {
            "title": {"text": x_title},
            "zeroline": False,
            "gridcolor": "#e8edee",
            "linecolor": "#4c6272",
            "rangemode": "tozero",
        },
        "yaxis": {"title": {"text": y_title}, "zeroline": False, "gridcolor": "#e8edee", "linecolor": "#4c6272"},
    }
    if percent_axis:
        layout["yaxis"]["tickformat"] = ".0%"
    layout.update(extra)
    return layout
