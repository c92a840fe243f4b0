"""Alert/alarm outlier flags and their plain-English meaning.

HQIP's outlier guidance for national clinical audits ("Detection and
management of outliers", 2011, updated 2017/2024/2025): a result outside the
95% control limit (about 2 SD) is an *alert*, outside the 99.8% limit
(about 3 SD) an *alarm*. Both directions count. Whether "high" is better or
worse depends on the indicator, so the words are derived from its declared
direction rather than stored.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .arrays import as_float
from .vocabulary import DIRECTIONS, Direction

__all__ = [
    "FLAGS",
    "outlier_flags",
    "flag_meaning",
    "flag_label",
    "exact_test_guard",
]

#: Ordered from lowest to highest.
FLAGS = ("alarm_low", "alert_low", "none", "alert_high", "alarm_high")


def outlier_flags(
    value: ArrayLike,
    lower95: ArrayLike,
    upper95: ArrayLike,
    lower998: ArrayLike,
    upper998: ArrayLike,
) -> np.ndarray:
    """Classify each value against its 95% and 99.8% control limits.

    Strictly beyond a 99.8% limit -> ``alarm_low``/``alarm_high``; else
    strictly beyond a 95% limit -> ``alert_low``/``alert_high``; otherwise
    ``none`` (HQIP alert/alarm levels; values exactly on a limit are not
    flagged, as FunnelPlotR ``outliers_func``). A missing value, or a missing
    limit on that side, never produces a flag. Returns an object array of
    strings from :data:`FLAGS`.
    """
    v, lo95, hi95, lo998, hi998 = np.broadcast_arrays(
        as_float(value), as_float(lower95), as_float(upper95), as_float(lower998), as_float(upper998)
    )
    # Comparisons with NaN are False, which gives "none" for missing inputs.
    with np.errstate(invalid="ignore"):
        conditions = [v < lo998, v > hi998, v < lo95, v > hi95]
    choices = ["alarm_low", "alarm_high", "alert_low", "alert_high"]
    return np.select(conditions, choices, default="none").astype(object)


def exact_test_guard(flags: ArrayLike, observed: ArrayLike, count: ArrayLike, target: float, kind: str) -> np.ndarray:
    """Drop a flag on a count at the edge of what is possible unless chance really rules it out.

    Continuous funnel limits treat counts as continuous: FunnelPlotR's
    chi-square Poisson limits put the 99.8% lower limit above zero for any
    expected count E > 0, so a unit with no deaths and E = 0.4 (where no
    deaths has probability exp(-0.4) = 0.67) would read as an alarm. For a
    unit with O = 0 (or, for a proportion, x = n) a flag is kept only if the
    exact probability of so extreme a count is below 0.025 (alert) or 0.001
    (alarm): exp(-target x E) for ratios, (1 - target)^n or target^n for
    proportions. Other units keep the flags their limits give, so results
    away from the boundary match FunnelPlotR exactly. It only ever lowers a flag.
    """
    f = np.asarray(flags, dtype=object).copy()
    o = as_float(observed)
    c = as_float(count)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if kind == "ratio":
            p_low = np.exp(-target * c)
            p_high = np.full_like(c, np.nan)
            at_top = np.zeros(c.shape, bool)
        else:
            p_low = (1.0 - target) ** c
            p_high = target**c
            at_top = o == c
        at_bottom = o == 0
    for side, p, edge in (("low", p_low, at_bottom), ("high", p_high, at_top)):
        alarm = (f == f"alarm_{side}") & edge
        f[alarm & ~(p < 0.001) & (p < 0.025)] = f"alert_{side}"
        f[alarm & ~(p < 0.025)] = "none"
        alert = (f == f"alert_{side}") & edge
        f[alert & ~(p < 0.025)] = "none"
    return f


def _check(flag: str, direction: str) -> None:
    if flag not in FLAGS:
        raise ValueError(f"unknown flag {flag!r}; expected one of {FLAGS}")
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; expected one of {DIRECTIONS}")


def flag_meaning(flag: str, direction: Direction) -> str:
    """One word for what a flag means given the indicator's direction.

    ``"as_expected"`` for ``none``; for high/low flags ``"better"`` or
    ``"worse"`` when the indicator has a direction, otherwise ``"higher"`` or
    ``"lower"`` (NCIN's principle that better-than-expected results are
    reported alongside worse ones).
    """
    _check(flag, direction)
    if flag == "none":
        return "as_expected"
    high = flag.endswith("_high")
    if direction == "no_judgement":
        return "higher" if high else "lower"
    good_when_high = direction == "higher_is_better"
    return "better" if high == good_when_high else "worse"


def flag_label(flag: str, direction: Direction) -> str:
    """Plain-English label for a flag, e.g. ``"Alert: higher than expected
    (worse)"``, ``"Alarm: lower than expected"`` (no judgement) or
    ``"Within expected range"``. Wording follows the HQIP alert (95%) /
    alarm (99.8%) levels.
    """
    _check(flag, direction)
    if flag == "none":
        return "Within expected range"
    level = "Alarm" if flag.startswith("alarm") else "Alert"
    side = "higher" if flag.endswith("_high") else "lower"
    text = f"{level}: {side} than expected"
    meaning = flag_meaning(flag, direction)
    if meaning in ("better", "worse"):
        text += f" ({meaning})"
    return text
