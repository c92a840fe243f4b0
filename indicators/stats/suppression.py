"""Statistical disclosure control for published counts.

Default policy is NHS Digital's HES/ECDS rule (HES Analysis Guide, disclosure
control, from September 2018; docs/domain.md §2.4): at sub-national level 0 is shown as 0, counts of 1-7 are
suppressed (shown as ``*``), and every other count is rounded to the nearest
5. Totals are computed from the *unrounded* counts and then rounded;
rates, percentages and statistics are computed from unrounded numbers (a
percentage is suppressed when its numerator or denominator is suppressed).
Apply suppression only to what is published or exported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .arrays import as_float

__all__ = [
    "SuppressionPolicy",
    "DEFAULT_POLICY",
    "is_suppressed",
    "suppress_counts",
    "suppressed_total",
    "display_counts",
    "is_rate_suppressed",
]


@dataclass(frozen=True)
class SuppressionPolicy:
    """Disclosure-control policy.

    Counts in ``low``..``high`` (inclusive) are suppressed; others are
    rounded half-up to the nearest ``round_to`` (1 means no rounding);
    ``marker`` is shown for a suppressed count. Defaults are NHS Digital's
    HES rule (1-7 suppressed, nearest 5). Zero is never suppressed (set
    ``low=0`` to suppress zeros too).
    """

    low: int = 1
    high: int = 7
    round_to: int = 5
    marker: str = "*"

    def __post_init__(self) -> None:
        if self.low < 0 or self.high < self.low - 1:
            raise ValueError("need 0 <= low and high >= low - 1")
        if self.round_to < 1:
            raise ValueError("round_to must be >= 1")


DEFAULT_POLICY = SuppressionPolicy()


def _counts(counts: ArrayLike) -> np.ndarray:
    c = as_float(counts)
    if np.any(c[~np.isnan(c)] < 0):
        raise ValueError("counts must be non-negative")
    return c


def is_suppressed(counts: ArrayLike, policy: SuppressionPolicy = DEFAULT_POLICY) -> np.ndarray:
    """Boolean array: True where a count falls in the policy's suppressed
    range (NHS Digital HES rule: 1-7). Missing counts are not "suppressed"
    (they have nothing to show)."""
    c = _counts(counts)
    with np.errstate(invalid="ignore"):
        return (c >= policy.low) & (c <= policy.high)


def _round_half_up(c: np.ndarray, step: int) -> np.ndarray:
    # np.round is half-to-even; disclosure rounding is conventionally half-up
    # (e.g. nearest 10: 15 -> 20), which floor(x/step + 0.5) gives.
    if step == 1:
        return np.floor(c + 0.5)
    return np.floor(c / step + 0.5) * step


def suppress_counts(counts: ArrayLike, policy: SuppressionPolicy = DEFAULT_POLICY) -> np.ndarray:
    """Apply the policy to counts (NHS Digital HES/ECDS disclosure control).

    Returns an object array holding ``int`` for published counts and
    ``None`` for suppressed or missing ones: 0 -> 0, 1-7 -> None,
    12 -> 10, 13 -> 15, 1234 -> 1235. Negative counts raise ValueError.
    """
    c = _counts(counts)
    suppressed = is_suppressed(c, policy)
    rounded = _round_half_up(np.where(np.isnan(c), 0.0, c), policy.round_to)
    out = np.empty(c.shape, dtype=object)
    flat_out = out.reshape(-1)
    for i, (value, hidden, missing) in enumerate(
        zip(rounded.reshape(-1), suppressed.reshape(-1), np.isnan(c).reshape(-1), strict=True)
    ):
        flat_out[i] = None if (hidden or missing) else int(value)
    return out


def suppressed_total(counts: ArrayLike, policy: SuppressionPolicy = DEFAULT_POLICY) -> int | None:
    """Total of the *unrounded* counts, then suppressed/rounded (HES rule:
    totals are never the sum of rounded cells). Missing counts are skipped.
    """
    c = _counts(counts)
    total = float(np.nansum(c))
    shown: int | None = suppress_counts(total, policy).item()  # a 0-d object array: int, or None when suppressed
    return shown


def display_counts(counts: ArrayLike, policy: SuppressionPolicy = DEFAULT_POLICY) -> np.ndarray:
    """Strings for publication: rounded counts, ``policy.marker`` when
    suppressed, "" when missing."""
    c = _counts(counts)
    shown = suppress_counts(c, policy)
    suppressed = is_suppressed(c, policy)
    out = np.empty(c.shape, dtype=object)
    flat = out.reshape(-1)
    for i, (value, hidden) in enumerate(zip(shown.reshape(-1), suppressed.reshape(-1), strict=True)):
        flat[i] = policy.marker if hidden else ("" if value is None else str(value))
    return out


def is_rate_suppressed(
    numerator: ArrayLike, denominator: ArrayLike, policy: SuppressionPolicy = DEFAULT_POLICY
) -> np.ndarray:
    """True where a percentage/rate must be suppressed because its numerator
    or denominator is in the suppressed range (HES rule). The rate itself is
    still computed from unrounded numbers."""
    num, den = np.broadcast_arrays(is_suppressed(numerator, policy), is_suppressed(denominator, policy))
    either: np.ndarray = num | den
    return either
