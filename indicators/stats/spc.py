"""XmR (individuals / moving-range) statistical process control charts.

The calculation follows NHS England's "Making Data Count" (MDC) guidance as the
NHS-R Community package NHSRplotthedots v0.2.2 implements it:

* ``R/ptd_spc_standard.R``: mean, moving ranges, moving-range screening, process
  limits (mean ± 2.66·AMR) and near limits (mean ± (2/3)·2.66·AMR);
* ``R/ptd_calculate_point_type.R``: the four special-cause rules, the order in
  which a point's rule is named, and improvement/concern/neutral point types;
* ``R/ptd_calculate_assurance_type.R``: the assurance icon from the target and the
  latest process limits;
* ``R/ptd_add_short_group_warnings.R``: fewer than 13 points means trial limits;
* ``R/ptd_spc_colours.R``: the point colours.

Pure numpy/pandas; callers aggregate their series (for example by quarter) first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from .arrays import finite_or_none
from .vocabulary import COLOURS

__all__ = [
    "COLOURS",
    "LIMIT_MULTIPLIER",
    "NEAR_LIMIT_MULTIPLIER",
    "MR_SCREEN_MULTIPLIER",
    "TRIAL_LIMITS_MIN_POINTS",
    "XmrResult",
    "xmr_chart",
]

# 2.66 = 3 / d2 with d2 = 1.128, the bias constant for moving ranges of two points.
LIMIT_MULTIPLIER: float = 2.66
# The "near" (2-sigma) limits that the two-in-three rule uses.
NEAR_LIMIT_MULTIPLIER: float = 2.0 * LIMIT_MULTIPLIER / 3.0
# D4 for n = 2: a moving range at or above 3.267·AMR is itself out of control, so
# the peer drops it before recomputing the AMR (its default, screen_outliers=TRUE).
MR_SCREEN_MULTIPLIER: float = 3.267
# The peer flags groups with n < 13 (option ptd_spc.warning_threshold, default 13).
TRIAL_LIMITS_MIN_POINTS: int = 13


_DIRECTION_SIGN: dict[str, int] = {"increase": 1, "decrease": -1, "neutral": 0}


@dataclass(frozen=True)
class XmrResult:
    """An XmR chart: process statistics, per-point table and the two MDC icons.

    ``points`` has one row per input value with columns ``x`` (0-based position),
    ``label`` (the input Series' index, or ``x`` again), ``value``,
    ``moving_range`` (|x_i − x_{i−1}|, NaN for the first point),
    ``moving_range_used`` (whether that moving range entered the AMR after
    baseline fixing and screening), ``special_cause_rule`` (``"outside_limits"``,
    ``"trend"``, ``"two_in_three"``, ``"shift"`` or ``""``),
    ``special_cause_flag``, ``side`` (``"high"``, ``"low"`` or ``""``: the
    direction of the signal), ``point_type`` and ``colour``.
    """

    mean: float
    amr: float
    lpl: float
    upl: float
    near_lpl: float
    near_upl: float
    n_points: int
    n_baseline_points: int
    trial_limits: bool
    improvement_direction: str
    target: float | None
    columns: dict[str, np.ndarray]
    variation_icon: str
    assurance_icon: str | None

    @property
    def points(self) -> pd.DataFrame:
        """The per-point table (built on demand: a job builds one chart per trust and indicator and
        serialises it with ``as_dict``, which reads the columns without a DataFrame)."""
        return pd.DataFrame(self.columns)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary (non-finite numbers become None)."""

        # Column by column rather than DataFrame.to_dict: a job builds one chart per trust and indicator.
        columns = {name: np.asarray(array) for name, array in self.columns.items()}
        for name in ("value", "moving_range"):
            values = columns[name].astype(float)
            columns[name] = np.where(np.isfinite(values), values, np.nan).astype(object)
            columns[name][~np.isfinite(values)] = None
        plain = {
            name: [_plain(v) for v in array] if array.dtype == object else array.tolist()
            for name, array in columns.items()
        }
        rows = [dict(zip(plain, values, strict=True)) for values in zip(*plain.values(), strict=True)]
        return {
            "mean": finite_or_none(self.mean),
            "amr": finite_or_none(self.amr),
            "lpl": finite_or_none(self.lpl),
            "upl": finite_or_none(self.upl),
            "near_lpl": finite_or_none(self.near_lpl),
            "near_upl": finite_or_none(self.near_upl),
            "n_points": self.n_points,
            "n_baseline_points": self.n_baseline_points,
            "trial_limits": self.trial_limits,
            "improvement_direction": self.improvement_direction,
            "target": self.target,
            "variation_icon": self.variation_icon,
            "assurance_icon": self.assurance_icon,
            "points": rows,
        }


def _members_of_runs(ends: np.ndarray, run_length: int) -> np.ndarray:
    """Mark every point that belongs to a run, given where runs end.

    A point is in a run when a run of ``run_length`` ends at it or at one of the
    ``run_length − 1`` points after it (the peer's ``ptd_part_of_seven_trend``).
    """
    n = ends.size
    counts = np.concatenate(([0], np.cumsum(ends, dtype=np.int64)))
    idx = np.arange(n)
    return (counts[np.minimum(idx + run_length, n)] - counts[idx]) > 0


def _run_ends(condition: np.ndarray, window: int, offset: int) -> np.ndarray:
    """Boolean array of length ``condition.size + offset``: True at ``i`` when the
    ``window`` consecutive entries of ``condition`` ending at ``i − offset`` all hold."""
    n_out = condition.size + offset
    ends = np.zeros(n_out, dtype=bool)
    if condition.size >= window:
        full = sliding_window_view(condition, window).all(axis=1)
        ends[window - 1 + offset :] = full
    return ends


def _process_limits(y: np.ndarray, n_baseline: int, screen_outliers: bool) -> tuple[float, float, np.ndarray]:
    """Mean, AMR and the mask of moving ranges used, from the first ``n_baseline`` points.

    A gap (NaN) is not a point: the mean is over the values, and a moving range is taken only
    between two adjacent values, never across a gap."""
    base = y[:n_baseline]
    mean = float(base[np.isfinite(base)].mean())
    used = np.zeros(y.size, dtype=bool)
    mr = np.abs(np.diff(base))
    adjacent = np.isfinite(mr)
    if not adjacent.any():
        return mean, float("nan"), used
    amr = float(mr[adjacent].mean())
    keep = adjacent.copy()
    # The peer keeps a moving range only when it is strictly below 3.267·AMR. When
    # every baseline point is equal the AMR is 0 and that test would drop every range
    # (the peer then returns NaN limits); keeping the zero AMR is the useful answer.
    if screen_outliers and amr > 0:
        keep = adjacent & (mr < MR_SCREEN_MULTIPLIER * amr)
        amr = float(mr[keep].mean())
    used[1:n_baseline] = keep
    return mean, amr, used


def _plain(value: Any) -> Any:
    """A JSON-safe scalar: numpy to Python, Period/Timestamp labels to text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def xmr_chart(
    values: Any,
    *,
    improvement_direction: str = "neutral",
    target: float | None = None,
    fix_after_n_points: int | None = None,
    screen_outliers: bool = True,
    trend_points: int = 7,
    shift_points: int = 7,
    gaps: bool = False,
    limits_within: tuple[float | None, float | None] = (None, None),
) -> XmrResult:
    """Compute an MDC XmR chart, its special-cause signals and icons.

    Method: NHS England "Making Data Count" as implemented by NHSRplotthedots
    v0.2.2 (``ptd_spc_standard``, ``ptd_calculate_point_type``,
    ``ptd_calculate_assurance_type``). Process limits are mean ± 2.66·AMR and near
    limits mean ± (2/3)·2.66·AMR; with ``screen_outliers`` moving ranges
    ≥ 3.267·AMR are dropped and the AMR recomputed; ``fix_after_n_points`` takes the
    mean and AMR from the first n points only. A point is special cause when it is
    outside the limits, part of a trend of ``trend_points`` strictly increasing or
    decreasing values, one of two-in-three consecutive points beyond the same near
    limit (all three on the same side of the mean), or part of a run of
    ``shift_points`` on one side of the mean. When several rules apply the rule named
    is the first in that order. ``variation_icon`` describes the latest point;
    ``assurance_icon`` compares ``target`` with the latest limits.

    ``values`` is a 1-D sequence or Series of finite numbers in time order; a
    Series' index is kept in ``points["label"]``. Raises ValueError on empty or
    non-finite input or invalid options.

    With ``gaps=True`` a NaN (or None) is a period with no data, kept as a point with
    no value: the mean is over the values, moving ranges are taken only between adjacent
    values (never across a gap: Wheeler and Chambers, Understanding Statistical Process
    Control, 2nd ed. 1992, compute a moving range from successive observations), and a
    gap breaks every run (trend, shift, two-in-three), as a point on the mean does in the
    peer. The icons describe the last value. ``limits_within`` clamps the process and
    near limits to the range the measure can take, e.g. (0, 1) for a proportion: an XmR
    limit outside it is not a value the process can produce (the rules are unchanged,
    because no value lies beyond the clamped bound).
    """
    if improvement_direction not in _DIRECTION_SIGN:
        raise ValueError(
            f"improvement_direction must be 'increase', 'decrease' or 'neutral', not {improvement_direction!r}"
        )
    if trend_points < 2 or shift_points < 2:
        raise ValueError("trend_points and shift_points must be at least 2")
    if fix_after_n_points is not None and fix_after_n_points < 2:
        raise ValueError("fix_after_n_points must be at least 2 (one moving range)")
    if target is not None and not np.isfinite(target):
        raise ValueError("target must be a finite number or None")

    labels = values.index if isinstance(values, pd.Series) else None
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError("values must be one-dimensional")
    n = y.size
    if n == 0:
        raise ValueError("values is empty")
    finite = np.isfinite(y)
    if gaps:
        if np.isinf(y).any() or not finite.any():
            raise ValueError("values must be finite numbers or NaN gaps, with at least one number")
    elif not finite.all():
        # A gap would silently change the moving ranges; callers must say gaps=True
        # to keep missing periods as gaps.
        raise ValueError("values must all be finite (no missing periods), or pass gaps=True")

    n_baseline = n if fix_after_n_points is None else min(n, fix_after_n_points)
    mean, amr, mr_used = _process_limits(y, n_baseline, screen_outliers)
    lpl = mean - LIMIT_MULTIPLIER * amr
    upl = mean + LIMIT_MULTIPLIER * amr
    near_lpl = mean - NEAR_LIMIT_MULTIPLIER * amr
    near_upl = mean + NEAR_LIMIT_MULTIPLIER * amr
    low_bound, high_bound = limits_within
    if low_bound is not None:
        lpl, upl, near_lpl, near_upl = (max(v, low_bound) for v in (lpl, upl, near_lpl, near_upl))
    if high_bound is not None:
        lpl, upl, near_lpl, near_upl = (min(v, high_bound) for v in (lpl, upl, near_lpl, near_upl))

    # Rule inputs, exactly as ptd_spc_standard defines them (strict inequalities).
    outside = (y > upl) | (y < lpl)
    relative = np.where(finite, np.sign(np.where(finite, y - mean, 0.0)), 0).astype(np.int8)  # a gap: 0
    close = ~outside & ((y < near_lpl) | (y > near_upl))

    # Trend: trend_points values whose trend_points − 1 successive differences all
    # have the same strict sign; equal neighbours break a trend.
    step = np.sign(np.nan_to_num(np.diff(y), nan=0.0)).astype(np.int8)  # no step across a gap
    inc_member = _members_of_runs(_run_ends(step == 1, trend_points - 1, 1), trend_points)
    dec_member = _members_of_runs(_run_ends(step == -1, trend_points - 1, 1), trend_points)
    trend = inc_member | dec_member

    # Two in three: a window of three consecutive points, all on the same side of the
    # mean, with at least two beyond the near limit; only the near-limit points of
    # such a window are flagged (the third point is not), as in ptd_part_of_two_in_three.
    two_in_three = np.zeros(n, dtype=bool)
    if n >= 3:
        close_w = sliding_window_view(close, 3).sum(axis=1) >= 2
        side_w = np.abs(sliding_window_view(relative.astype(np.int64), 3).sum(axis=1)) == 3
        window_ok = np.concatenate(([False, False], close_w & side_w, [False, False]))
        two_in_three = close & (window_ok[:n] | window_ok[1 : n + 1] | window_ok[2 : n + 2])

    # Shift: shift_points consecutive points strictly on one side of the mean (a
    # point exactly on the mean breaks the run).
    shift_ends = _run_ends(relative == 1, shift_points, 0) | _run_ends(relative == -1, shift_points, 0)
    shift = _members_of_runs(shift_ends, shift_points)

    # Side of each signal. For a trend the side is the trend's direction, not the
    # side of the mean (peer issue #171). A turning point shared by an increasing and
    # a decreasing trend takes the direction of the trend that starts there (the
    # peer's "use right side" rule).
    right_step = np.concatenate((step, [0])).astype(np.int8)
    trend_side = np.where(inc_member & dec_member, right_step, np.where(inc_member, 1, -1)).astype(np.int8)
    mean_side = np.where(relative > 0, 1, -1).astype(np.int8)

    rule = np.select(
        [outside, trend, two_in_three, shift],
        ["outside_limits", "trend", "two_in_three", "shift"],
        default="",
    )
    flag = rule != ""
    side_sign = np.select([outside, trend, two_in_three | shift], [mean_side, trend_side, mean_side], default=0).astype(
        np.int8
    )

    direction = _DIRECTION_SIGN[improvement_direction]
    if direction == 0:
        point_type = np.where(flag, "special_cause_neutral", "common_cause")
    else:
        oriented = side_sign * direction
        point_type = np.select(
            [flag & (oriented > 0), flag & (oriented < 0)],
            ["special_cause_improvement", "special_cause_concern"],
            default="common_cause",
        )
    side = np.select([side_sign > 0, side_sign < 0], ["high", "low"], default="")

    moving_range = np.concatenate(([np.nan], np.abs(np.diff(y))))
    columns = {
        "x": np.arange(n),
        "label": labels if labels is not None else np.arange(n),
        "value": y,
        "moving_range": moving_range,
        "moving_range_used": mr_used,
        "special_cause_rule": rule.astype(object),
        "special_cause_flag": flag,
        "side": side.astype(object),
        "point_type": point_type.astype(object),
        "colour": np.array([COLOURS[t] for t in point_type], dtype=object),
    }

    last = int(np.flatnonzero(finite)[-1])
    last_type = str(point_type[last])
    last_side = str(side[last])
    if last_type == "common_cause":
        variation_icon = "common_cause"
    else:
        # MDC icon names say what kind of signal it is and whether values went high
        # or low, e.g. concern_low when falling values are bad news.
        kind = last_type.removeprefix("special_cause_")
        variation_icon = f"{kind}_{last_side}"

    assurance_icon: str | None = None
    if target is not None and direction != 0 and np.isfinite(upl):
        if target > upl:
            assurance_icon = "consistent_fail" if direction > 0 else "consistent_pass"
        elif target < lpl:
            assurance_icon = "consistent_pass" if direction > 0 else "consistent_fail"
        else:
            assurance_icon = "inconsistent"

    return XmrResult(
        mean=mean,
        amr=amr,
        lpl=lpl,
        upl=upl,
        near_lpl=near_lpl,
        near_upl=near_upl,
        n_points=int(finite.sum()),
        n_baseline_points=int(finite[:n_baseline].sum()),
        trial_limits=int(finite.sum()) < TRIAL_LIMITS_MIN_POINTS,
        improvement_direction=improvement_direction,
        target=None if target is None else float(target),
        columns=columns,
        variation_icon=variation_icon,
        assurance_icon=assurance_icon,
    )
