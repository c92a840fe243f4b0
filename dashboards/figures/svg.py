"""The trust dashboard's small multiples as geometry for inline SVG (no script needed): the spine of a
result among all trusts', the flags' marker shapes, and the sparkline of its quarters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from indicators.stats.arrays import finite_or_none
from indicators.stats.vocabulary import LOWER_IS_BETTER, NO_JUDGEMENT, Direction

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
