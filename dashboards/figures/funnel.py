"""The funnel plot: control limits at 95% (alert) and 99.8% (alarm) around the target, a point per unit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dashboards.figures.layout import ENGLAND_COLOUR, LIMIT_COLOUR, STANDARD_COLOUR, base_layout, round_values
from dashboards.text import MEANING_COLOURS, MEANING_LEGEND, MEANING_SYMBOLS
from indicators.stats.arrays import finite_or_none

if TYPE_CHECKING:
    from indicators.stats.analysis import Kind


def funnel_figure(
    *,
    points: Sequence[dict[str, Any]],
    kind: str,
    method: str,
    target: float,
    tau2: float = 0.0,
    phi: float = 1.0,
    overdispersion: str = "none",
    scale: float = 1.0,
    percent_axis: bool = True,
    x_title: str,
    y_title: str,
    target_label: str = "England",
    standard: float | None = None,
    standard_label: str = "",
    curve_points: int = 90,
) -> dict[str, Any]:
    """A funnel plot: control limits at 95% (alert) and 99.8% (alarm) around the target, and one point per unit.

    ``points`` carry ``x`` (denominator, or expected count for a ratio), ``y``
    (on the plotted scale), ``meaning`` (a key of MEANING_LEGEND), and
    ``customdata``: [code, name, value text, interval text, count text,
    flag words], which the hover box and the click-through read. The limits are
    drawn with :func:`indicators.stats.analysis.funnel_curve`, the code that
    flagged the units, using the fit's method and (when applied) its
    overdispersion (Spiegelhalter 2005). ``scale`` multiplies ratio limits
    (O/E) onto a risk-adjusted rate axis (O/E x national rate).
    """
    import numpy as np  # imported here (as the statistics are) so that loading the URLs stays light

    from indicators.stats.analysis import funnel_curve

    xs = [p["x"] for p in points if finite_or_none(p.get("x")) is not None and p["x"] > 0]
    traces: list[dict[str, Any]] = []
    y_low, y_high = [], []
    if len(xs) >= 1:
        x_min, x_max = min(xs), max(xs)
        x_floor = float(np.quantile(xs, 0.1)) if len(xs) >= 10 else x_min
        low_end = max(min(x_min * 0.5, 1.0 if kind == "proportion" else x_min * 0.5), 1e-3)
        kinds: tuple[Kind, ...] = ("proportion", "ratio")
        if kind not in kinds:  # the check funnel_curve makes, which narrows the text to a Kind
            raise ValueError(f"unknown kind {kind!r}")
        curve = funnel_curve(
            kind,
            method,
            target,
            max_denominator=x_max * 1.08,
            points=curve_points,
            tau2=tau2 or 0.0,
            phi=phi or 1.0,
            overdispersion=overdispersion,
            min_denominator=low_end,
            event_rate=scale if method == "isp" else None,  # isp limits need n = E / national rate
        )
        x = curve["denominator"].to_numpy()
        for confidence, name, dash, width in (
            ("998", "99.8% limits (alarm)", "dash", 1.5),
            ("95", "95% limits (alert)", "solid", 1.2),
        ):
            lower = curve[f"lower{confidence}"].to_numpy() * scale
            upper = curve[f"upper{confidence}"].to_numpy() * scale
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": name,
                    "legendgroup": confidence,
                    "x": round_values(np.concatenate([x, [np.nan], x])),
                    "y": round_values(np.concatenate([upper, [np.nan], lower])),
                    "line": {"color": LIMIT_COLOUR, "dash": dash, "width": width},
                    "hoverinfo": "skip",
                    "connectgaps": False,
                }
            )
            # The y range follows the points and the limits where most points are, not the
            # near-vertical start of the funnel at the smallest denominators.
            visible = x >= x_floor
            y_low.extend(lower[visible].tolist())
            y_high.extend(upper[visible].tolist())
        target_name = f"{target_label} ({_fmt(target * scale, percent_axis)})"
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": target_name,
                "x": [0, round_values([x_max * 1.08])[0]],
                "y": [target * scale] * 2,
                "line": {"color": ENGLAND_COLOUR, "width": 2},
                "hoverinfo": "skip",
            }
        )
        if standard is not None:
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": standard_label or "Standard",
                    "x": [0, round_values([x_max * 1.08])[0]],
                    "y": [standard] * 2,
                    "line": {"color": STANDARD_COLOUR, "width": 2, "dash": "dot"},
                    "hoverinfo": "skip",
                }
            )
            y_low.append(standard)
            y_high.append(standard)
    for meaning in ("as_expected", "better", "worse", "higher", "lower"):
        group = [p for p in points if p["meaning"] == meaning and finite_or_none(p.get("y")) is not None]
        if not group:
            continue
        y_low.extend(p["y"] for p in group)
        y_high.extend(p["y"] for p in group)
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": MEANING_LEGEND[meaning],
                "meta": meaning,
                "x": round_values([p["x"] for p in group]),
                "y": round_values([p["y"] for p in group]),
                "customdata": [p["customdata"] for p in group],
                "marker": {
                    "color": MEANING_COLOURS[meaning],
                    "symbol": MEANING_SYMBOLS[meaning],
                    "size": 9 if meaning == "as_expected" else 12,
                    "line": {"color": "#ffffff" if meaning == "as_expected" else "#212b32", "width": 1},
                },
                "hovertemplate": (
                    "<b>%{customdata[1]}</b> (%{customdata[0]})<br>Value: %{customdata[2]}"
                    "<br>95% interval: %{customdata[3]}<br>%{customdata[4]}<br>%{customdata[5]}"
                    "<extra></extra>"
                ),
            }
        )
    layout = base_layout(x_title=x_title, y_title=y_title, percent_axis=percent_axis)
    finite_low = [v for v in y_low if finite_or_none(v) is not None]
    finite_high = [v for v in y_high if finite_or_none(v) is not None]
    if finite_low and finite_high:
        low, high = min(finite_low), max(finite_high)
        pad = (high - low) * 0.06 or 0.01
        low, high = low - pad, high + pad
        if percent_axis and kind == "proportion":
            low, high = max(low, 0.0), min(high, 1.0)
        layout["yaxis"]["range"] = round_values([max(low, 0.0), high])
    if xs:
        layout["xaxis"]["range"] = [0, round_values([max(xs) * 1.08])[0]]
    return {"data": traces, "layout": layout}


def _fmt(value: float, percent_axis: bool) -> str:
    return f"{100 * value:.1f}%" if percent_axis else f"{value:.2f}"
