"""Statistical disclosure control for published counts.

Default policy is NHS Digital's HES/ECDS rule (HES Analysis Guide, disclosure
control, from September 2018; docs/domain.md §2.4): at sub-national level 0 is shown as 0, counts of 1-7 are
suppressed (shown as ``*``), and every other count is rounded to the nearest
5. Totals are computed from the *unrounded* counts and then rounded;
rates, percentages and statistics are computed from unrounded numbers (a
percentage is suppressed when its numerator or denominator is suppressed).
Apply suppression only to what is published or exported.

Rounding and primary suppression alone do not stop differencing: a published total (England's
exact count, an alliance's, a trust's all-years count) minus its other, shown parts gives a hidden
part back. :func:`secondary_suppression` hides complementary cells until no published total has
exactly one hidden part (cell suppression with complementary cells: Hundepool et al., *Statistical
Disclosure Control*, Wiley 2012, ch. 5; ONS, "Policy on protecting confidentiality in tables of birth
and death statistics", disclosure by differencing; NHS Digital's pre-2018 HES rule, "secondary
suppression ... checking that other values within the data cannot be used to recalculate the
original small numbers"). docs/adr/0004-disclosure-control-against-differencing.md says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .arrays import FloatArray, as_float

__all__ = [
    "SuppressionPolicy",
    "DEFAULT_POLICY",
    "is_suppressed",
    "suppress_counts",
    "suppressed_total",
    "display_counts",
    "is_rate_suppressed",
    "rounded_counts",
    "primary_suppression",
    "secondary_suppression",
    "exposed_totals",
]


@dataclass(frozen=True)
class SuppressionPolicy:
    """Disclosure-control policy.

    Counts in ``low``..``high`` (inclusive) are suppressed; others are
    rounded half-up to the nearest ``round_to`` (1 means no rounding);
    ``marker`` is shown for a suppressed count. Defaults are NHS Digital's
    HES rule (1-7 suppressed, nearest 5). Zero is never suppressed (set
    ``low=0`` to suppress zeros too). ``complements``: a row is also
    suppressed when denominator - numerator (the patients without the
    event) is in the range. ``secondary``: complementary cells are hidden
    so that no published total gives a hidden count back
    (:func:`secondary_suppression`).
    """

    low: int = 1
    high: int = 7
    round_to: int = 5
    marker: str = "*"
    complements: bool = True
    secondary: bool = True

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


def rounded_counts(counts: ArrayLike, policy: SuppressionPolicy = DEFAULT_POLICY) -> FloatArray:
    """Counts rounded half-up to the nearest ``policy.round_to`` as floats (NaN stays NaN), whether
    or not they are suppressed: the counts published figures are computed from."""
    c = _counts(counts)
    rounded: FloatArray = _round_half_up(c, policy.round_to)
    return rounded


def primary_suppression(
    numerator: ArrayLike, denominator: ArrayLike, policy: SuppressionPolicy = DEFAULT_POLICY
) -> np.ndarray:
    """True where a row (an event count out of a count of patients) must be hidden: its numerator or
    denominator is in the suppressed range, or (``policy.complements``) so is the number of patients
    without the event, denominator - numerator (NHS Digital HES rule, applied to every count that
    identifies patients). Missing counts hide nothing."""
    n, d = np.broadcast_arrays(_counts(numerator), _counts(denominator))
    hidden: np.ndarray = is_suppressed(n, policy) | is_suppressed(d, policy)
    if policy.complements:
        with np.errstate(invalid="ignore"):
            complement = np.where(d >= n, d - n, np.nan)
        hidden = hidden | is_suppressed(complement, policy)
    return hidden


def _members(totals: tuple[ArrayLike, ArrayLike], n_cells: int) -> tuple[np.ndarray, np.ndarray, int]:
    total_of = np.asarray(totals[0], dtype=np.int64).reshape(-1)
    cell_of = np.asarray(totals[1], dtype=np.int64).reshape(-1)
    if total_of.shape != cell_of.shape:
        raise ValueError("the two arrays of totals must have the same length")
    if cell_of.size and (cell_of.min() < 0 or cell_of.max() >= n_cells or total_of.min() < 0):
        raise ValueError("a member of a total is not a cell")
    return total_of, cell_of, int(total_of.max()) + 1 if total_of.size else 0


def _minimum(minimum: ArrayLike | None, n_totals: int) -> np.ndarray:
    if minimum is None:
        return np.full(n_totals, 2)
    m = np.asarray(minimum, dtype=np.int64).reshape(-1)
    if m.shape != (n_totals,) or (m.size and m.min() < 2):
        raise ValueError("minimum needs one value per total, each at least 2")
    return m


def exposed_totals(
    hidden: ArrayLike,
    totals: tuple[ArrayLike, ArrayLike],
    minimum: ArrayLike | None = None,
    informative: ArrayLike | None = None,
) -> np.ndarray:
    """Per published total, True when it has a hidden cell but fewer than its ``minimum`` (2 unless given):
    with exactly one, that cell is the total minus (or the sum of) the others, so differencing gives it back.

    ``informative`` (per cell; all unless given): a hidden cell that an attacker may know anyway (a count of 0,
    given back by any total published as 0, or one equal to its denominator) does not protect the others, so a
    total is exposed too when it hides some informative cells but fewer than its minimum."""
    h = np.asarray(hidden, dtype=bool).reshape(-1)
    total_of, cell_of, n_totals = _members(totals, h.size)
    least = _minimum(minimum, n_totals)
    counts = np.bincount(total_of, weights=h[cell_of].astype(float), minlength=n_totals)
    exposed: np.ndarray = (counts > 0) & (counts < least)
    if informative is not None:
        useful = h & np.asarray(informative, dtype=bool).reshape(-1)
        if useful.shape != h.shape:
            raise ValueError("informative needs one value per cell")
        kept = np.bincount(total_of, weights=useful[cell_of].astype(float), minlength=n_totals)
        exposed |= (kept > 0) & (kept < least)
    return exposed


def secondary_suppression(
    hidden: ArrayLike,
    totals: tuple[ArrayLike, ArrayLike],
    cost: ArrayLike,
    hideable: ArrayLike | None = None,
    minimum: ArrayLike | None = None,
    informative: ArrayLike | None = None,
) -> np.ndarray:
    """Complementary (secondary) cell suppression across every published total.

    ``hidden``: one entry per cell (a count published for one organisation and period), True
    where primary suppression hides it. ``totals``: the additive relations an attacker can
    difference, as two equal-length integer arrays in long form, (total id, cell id): each
    total's cells are the total itself and its parts, e.g. England and every trust in a quarter,
    an alliance and its trusts, a trust's all-years count and its years, a year and its quarters.
    A total with exactly one hidden cell gives that cell back (the total minus the shown parts,
    or the sum of the parts when the total is the hidden one).

    The classic repair (Hundepool et al. 2012, ch. 5; NHS Digital's pre-2018 HES rule; ONS's
    disclosure by differencing): while some total has exactly one hidden cell (or fewer than its
    ``minimum``), hide, in each such total, its shown, ``hideable`` cell with the smallest ``cost`` (e.g.
    the fewest patients, so the least information is lost); every newly hidden cell's other totals are
    checked again, until every total has no hidden cell or at least its minimum. The pattern therefore holds across all
    the hierarchies at once. A total whose only shown cells are not ``hideable`` (say a national
    count, never suppressed) is left exposed: :func:`exposed_totals` finds such totals.

    ``minimum``: per total, the fewest hidden cells it may have once it has any (2 unless given). A total
    whose parts include cells that one reader knows exactly (a trust's team knows its own counts) needs 3:
    with the known cell taken out, what is left of the total must still hide none or at least two
    (docs/adr/0004-disclosure-control-against-differencing.md, "Trust teams"). ``informative``: as in
    :func:`exposed_totals`, the hidden cells that count towards the minimum (all unless given).

    Vectorised: each round is a few array operations over all totals' cells; the number of
    rounds is the length of the longest chain of complementary cells. Returns a new boolean
    array; the arguments are not changed.
    """
    h = np.array(hidden, dtype=bool).reshape(-1)
    c = as_float(cost).reshape(-1)
    if c.shape != h.shape:
        raise ValueError("cost needs one value per cell")
    can_hide = np.ones_like(h) if hideable is None else np.asarray(hideable, dtype=bool).reshape(-1)
    if can_hide.shape != h.shape:
        raise ValueError("hideable needs one value per cell")
    total_of, cell_of, n_totals = _members(totals, h.size)
    least = _minimum(minimum, n_totals)
    order = np.lexsort((cell_of, c[cell_of], total_of))  # within each total: cheapest first, ties by cell
    total_of, cell_of = total_of[order], cell_of[order]
    while True:
        exposed = exposed_totals(h, (total_of, cell_of), least, informative)
        candidate = exposed[total_of] & ~h[cell_of] & can_hide[cell_of]
        if not candidate.any():
            return h
        first = np.unique(total_of[candidate], return_index=True)[1]
        h[cell_of[candidate][first]] = True
