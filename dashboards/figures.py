"""Chart specifications: data in, plain dicts out.

Pure: no Django and no database. The Plotly figures are JSON-ready
``{"data": [...], "layout": {...}}`` dicts handed to ``Plotly.newPlot`` in the
browser (plotly.js-basic: scatter and bar traces only), which draws every chart with one
configuration (``PLOTLY_CONFIG`` in static/dashboards/dashboards.js); the small multiples of
the trust dashboard (spread and trend) are geometry for inline SVG, which
needs no script. Built once per computation run (dashboards/services.py),
never per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from dashboards.text import MEANING_COLOURS, MEANING_LEGEND, MEANING_SYMBOLS
from indicators.stats.arrays import finite_or_none
from indicators.stats.vocabulary import COLOURS, LOWER_IS_BETTER, NO_JUDGEMENT, Direction

if TYPE_CHECKING:
    from indicators.stats.analysis import Kind

FONT = {"family": "Arial, 'Helvetica Neue', sans-serif", "size": 14, "color": "#212b32"}
LIMIT_COLOUR = "#4c6272"
ENGLAND_COLOUR = "#212b32"
STANDARD_COLOUR = "#005eb8"
SPC_LABELS = {
    "special_cause_improvement": "Special cause: improvement",
    "special_cause_concern": "Special cause: concern",
    "special_cause_neutral": "Special cause: neither better nor worse",
    "common_cause": "Common cause variation",
}


def _round(values: Iterable[Any], digits: int = 6) -> list[float | None]:
    """Significant-figure rounding keeps the JSON small; None for gaps."""
    out: list[float | None] = []
    for value in values:
        number = finite_or_none(value)
        out.append(None if number is None else float(f"{number:.{digits}g}"))
    return out


def _layout(*, x_title: str, y_title: str, percent_axis: bool, height: int = 460, **extra: Any) -> dict[str, Any]:
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
                    "x": _round(np.concatenate([x, [np.nan], x])),
                    "y": _round(np.concatenate([upper, [np.nan], lower])),
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
                "x": [0, _round([x_max * 1.08])[0]],
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
                    "x": [0, _round([x_max * 1.08])[0]],
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
                "x": _round([p["x"] for p in group]),
                "y": _round([p["y"] for p in group]),
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
    layout = _layout(x_title=x_title, y_title=y_title, percent_axis=percent_axis)
    finite_low = [v for v in y_low if finite_or_none(v) is not None]
    finite_high = [v for v in y_high if finite_or_none(v) is not None]
    if finite_low and finite_high:
        low, high = min(finite_low), max(finite_high)
        pad = (high - low) * 0.06 or 0.01
        low, high = low - pad, high + pad
        if percent_axis and kind == "proportion":
            low, high = max(low, 0.0), min(high, 1.0)
        layout["yaxis"]["range"] = _round([max(low, 0.0), high])
    if xs:
        layout["xaxis"]["range"] = [0, _round([max(xs) * 1.08])[0]]
    return {"data": traces, "layout": layout}


def _fmt(value: float, percent_axis: bool) -> str:
    return f"{100 * value:.1f}%" if percent_axis else f"{value:.2f}"


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
            "y": _round(values),
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
                "y": _round([values[i] for i in index]),
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
    layout = _layout(x_title="Quarter of diagnosis", y_title=y_title, percent_axis=percent_axis, height=420)
    layout["xaxis"]["type"] = "category"
    layout["xaxis"].pop("rangemode", None)
    shown = [v for v in (*values, mean, lpl, upl, target) if v is not None and finite_or_none(v) is not None]
    if shown and percent_axis:
        # A rate cannot leave 0-100%, even when a process limit does (the limits are in the table and text).
        low, high = min(shown), max(shown)
        pad = (high - low) * 0.06 or 0.01
        layout["yaxis"]["range"] = _round([max(low - pad, 0.0), min(high + pad, 1.0)])
    return {"data": traces, "layout": layout}


RULE_WORDS = {
    "outside_limits": "Special cause: a point outside the process limits",
    "trend": "Special cause: seven points in a row rising or falling",
    "two_in_three": "Special cause: two of three points near a process limit",
    "shift": "Special cause: seven points in a row on one side of the mean",
    "": "Common cause variation",
}


def _rule_words(rule: str) -> str:
    return RULE_WORDS.get(rule or "", rule)


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
            "y": _round(cumulative),
            "customdata": [[t] for t in texts],
            "connectgaps": False,
            "line": {"color": "#005eb8", "width": 2},
            "marker": {"color": "#005eb8", "size": 8, "symbol": "circle"},
            "hovertemplate": "<b>%{x}</b><br>%{customdata[0]}<extra></extra>",
        },
    ]
    layout = _layout(
        x_title="Quarter of diagnosis", y_title="Observed minus expected events (running total)", percent_axis=False
    )
    layout["height"] = 380
    # Quarters in time order (the zero line's two ends would otherwise come first among the categories).
    layout["xaxis"].update({"type": "category", "categoryorder": "array", "categoryarray": x})
    layout["xaxis"].pop("rangemode", None)
    return {"data": traces, "layout": layout}


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
            "x": _round(predicted),
            "y": _round(observed),
            "customdata": [
                [g.get("decile"), g.get("n"), g.get("observed_events"), _round([g.get("expected_events")])[0]]
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
    layout = _layout(x_title="Mean predicted risk", y_title="Observed rate", percent_axis=True, height=380)
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
    layout = _layout(
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


# ---------------------------------------------------------------- inline SVG geometry

SPINE_WIDTH = 240.0
SPINE_PAD = 8.0


def spine(
    *,
    values: Sequence[float],
    value: float | None,
    ci: tuple[float | None, float | None],
    england: float | None,
    alliance: float | None,
    direction: Direction,
) -> dict[str, Any] | None:
    """Positions (0 to SPINE_WIDTH) for a Fingertips-style spine: the range of all trusts, their middle half,
    England, the alliance, and this trust with its interval.

    Oriented so that better is on the right when the indicator has a direction
    (Fingertips' polarity); otherwise low is on the left. None without a spread.
    """
    import numpy as np

    spread = np.asarray([v for v in values if finite_or_none(v) is not None], dtype=float)
    if spread.size < 2:
        return None
    extra = [v for v in (value, ci[0], ci[1], england, alliance) if v is not None and finite_or_none(v) is not None]
    low = float(min(spread.min(), *extra)) if extra else float(spread.min())
    high = float(max(spread.max(), *extra)) if extra else float(spread.max())
    if high - low < 1e-12:
        high = low + 1e-6
    flip = direction == LOWER_IS_BETTER

    def place(v: float) -> float:
        share = (float(v) - low) / (high - low)
        if flip:
            share = 1 - share
        return round(SPINE_PAD + share * (SPINE_WIDTH - 2 * SPINE_PAD), 1)

    def at(v: float | None) -> float | None:
        if v is None or finite_or_none(v) is None:
            return None
        return place(v)

    q1, median, q3 = np.percentile(spread, [25, 50, 75])
    ends = sorted([place(float(spread.min())), place(float(spread.max()))])  # the spread is finite
    box = sorted([place(float(q1)), place(float(q3))])
    ci_pos = sorted([p for p in (at(ci[0]), at(ci[1])) if p is not None])
    if direction == NO_JUDGEMENT:
        left, right = "lower", "higher"
    else:
        left, right = "worse", "better"
    return {
        "width": SPINE_WIDTH,
        "min": ends[0],
        "max": ends[1],
        "q1": box[0],
        "q3": box[1],
        "median": at(float(median)),
        "value": at(value),
        "ci_low": ci_pos[0] if len(ci_pos) == 2 else None,
        "ci_high": ci_pos[1] if len(ci_pos) == 2 else None,
        "england": at(england),
        "alliance": at(alliance),
        "box_width": round(box[1] - box[0], 1),
        "left": left,
        "right": right,
        "quantiles": {
            "min": float(spread.min()),
            "q1": float(q1),
            "median": float(median),
            "q3": float(q3),
            "max": float(spread.max()),
        },
        "n": int(spread.size),
    }


def marker_path(meaning: str, x: float, y: float, size: float = 6.0) -> str:
    """An SVG path for a flag's shape (the same shapes as the funnel plot's markers), centred on (x, y)."""
    s = size
    if meaning == "better":  # diamond
        return f"M{x:.1f},{y - s:.1f} L{x + s:.1f},{y:.1f} L{x:.1f},{y + s:.1f} L{x - s:.1f},{y:.1f} Z"
    if meaning == "worse":  # square
        h = s * 0.85
        return f"M{x - h:.1f},{y - h:.1f} H{x + h:.1f} V{y + h:.1f} H{x - h:.1f} Z"
    if meaning == "higher":
        return f"M{x:.1f},{y - s:.1f} L{x + s:.1f},{y + s * 0.8:.1f} L{x - s:.1f},{y + s * 0.8:.1f} Z"
    if meaning == "lower":
        return f"M{x:.1f},{y + s:.1f} L{x + s:.1f},{y - s * 0.8:.1f} L{x - s:.1f},{y - s * 0.8:.1f} Z"
    r = s * 0.8  # circle, as two arcs
    return f"M{x - r:.1f},{y:.1f} a{r:.1f},{r:.1f} 0 1,0 {2 * r:.1f},0 a{r:.1f},{r:.1f} 0 1,0 {-2 * r:.1f},0 Z"


SPARK_WIDTH = 120.0
SPARK_HEIGHT = 32.0


def sparkline(values: Sequence[float | None]) -> dict[str, Any] | None:
    """Polyline segments (gaps where a value is missing or suppressed) for a small quarterly trend."""
    finite_values = [finite_or_none(v) for v in values]
    known = [v for v in finite_values if v is not None]
    if len(known) < 2:
        return None
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = SPARK_WIDTH / max(len(values) - 1, 1)
    segments: list[list[tuple[float, float]]] = [[]]
    last = None
    for i, v in enumerate(finite_values):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        point = (round(i * step, 1), round(SPARK_HEIGHT - 3 - (v - low) / span * (SPARK_HEIGHT - 6), 1))
        segments[-1].append(point)
        last = point
    paths = [" ".join(f"{x},{y}" for x, y in seg) for seg in segments if len(seg) >= 2]
    dots = [seg[0] for seg in segments if len(seg) == 1]
    return {"width": SPARK_WIDTH, "height": SPARK_HEIGHT, "paths": paths, "dots": dots, "last": last}
