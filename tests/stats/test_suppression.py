"""Disclosure control (indicators.stats.suppression)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from indicators.stats.suppression import (
    DEFAULT_POLICY,
    SuppressionPolicy,
    display_counts,
    exposed_totals,
    is_rate_suppressed,
    is_suppressed,
    primary_suppression,
    rounded_counts,
    secondary_suppression,
    suppress_counts,
    suppressed_total,
)

pytestmark = pytest.mark.filterwarnings("error")


@pytest.mark.parametrize(
    "count,shown",
    [
        (0, 0),  # zero is shown as zero
        (1, None),  # 1-7 suppressed
        (7, None),
        (8, 10),  # otherwise nearest 5
        (10, 10),
        (12, 10),
        (13, 15),
        (22, 20),
        (23, 25),
        (1234, 1235),
        (99998, 100000),
    ],
)
def test_hes_rule(count, shown) -> None:
    assert suppress_counts(count).item() == shown


def test_suppress_counts_array_types() -> None:
    out = suppress_counts([0, 3, 12, np.nan])
    assert out.dtype == object
    assert list(out) == [0, None, 10, None]
    assert type(out[2]) is int


def test_is_suppressed() -> None:
    np.testing.assert_array_equal(is_suppressed([0, 1, 7, 8, np.nan]), [False, True, True, False, False])


def test_round_half_up_with_other_step() -> None:
    policy = SuppressionPolicy(low=1, high=4, round_to=10)
    assert list(suppress_counts([4, 5, 15, 25, 34], policy)) == [None, 10, 20, 30, 30]
    # round_to = 1 publishes the count unchanged.
    assert suppress_counts(13, SuppressionPolicy(round_to=1)).item() == 13


def test_totals_from_unrounded_counts() -> None:
    # Cells 12 and 12 are shown as 10 and 10, but the total 24 is shown as 25.
    assert list(suppress_counts([12, 12])) == [10, 10]
    assert suppressed_total([12, 12]) == 25
    # Three suppressed cells of 3 still give a publishable total of 9 -> 10.
    assert suppressed_total([3, 3, 3]) == 10
    # A small total is itself suppressed.
    assert suppressed_total([2, 3]) is None


def test_display_counts() -> None:
    assert list(display_counts([0, 5, 18, np.nan])) == ["0", "*", "20", ""]
    marked = display_counts([5], SuppressionPolicy(marker="[c]"))
    assert marked[0] == "[c]"


def test_rate_suppression() -> None:
    np.testing.assert_array_equal(is_rate_suppressed([3, 30, 30, 0], [100, 5, 100, 100]), [True, True, False, False])


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError):
        suppress_counts([-1, 3])
    with pytest.raises(ValueError):
        SuppressionPolicy(round_to=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_POLICY.high = 10  # type: ignore[misc]


def test_default_policy_values() -> None:
    assert DEFAULT_POLICY == SuppressionPolicy(low=1, high=7, round_to=5, marker="*")


def test_primary_suppression_hides_small_counts_and_small_complements() -> None:
    numerators = [3, 30, 30, 95, 95, 0, 0]
    denominators = [100, 5, 100, 100, 103, 100, 0]
    np.testing.assert_array_equal(
        primary_suppression(numerators, denominators), [True, True, False, True, False, False, False]
    )  # 95 of 100: the 5 without the event are a small count too
    without = SuppressionPolicy(complements=False)
    np.testing.assert_array_equal(
        primary_suppression(numerators, denominators, without), [True, True, False, False, False, False, False]
    )


def test_rounded_counts_are_the_published_counts_even_where_hidden() -> None:
    np.testing.assert_array_equal(rounded_counts([0, 3, 12, 13, 1234]), [0, 5, 10, 15, 1235])
    assert np.isnan(rounded_counts([np.nan])).all()


def table(rows: int, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """The totals of a rows x columns table with row and column totals, cells numbered row by row; the
    margins come after the body (row totals, then column totals, then the grand total)."""
    body = np.arange(rows * columns).reshape(rows, columns)
    row_total = rows * columns + np.arange(rows)
    column_total = rows * columns + rows + np.arange(columns)
    grand = rows * columns + rows + columns
    totals = [[*body[r], row_total[r]] for r in range(rows)]
    totals += [[*body[:, c], column_total[c]] for c in range(columns)]
    totals += [[*row_total, grand], [*column_total, grand]]
    total_of = np.concatenate([np.full(len(t), i) for i, t in enumerate(totals)])
    return total_of, np.concatenate(totals)


def test_secondary_suppression_leaves_no_total_with_one_hidden_cell() -> None:
    totals = table(3, 4)
    body = [3, 40, 12, 50, 30, 65, 25, 90, 44, 18, 70, 35]
    margins = [105, 210, 167, 77, 123, 107, 175, 482]
    counts = np.array(body + margins, dtype=float)
    hidden = np.zeros(20, dtype=bool)
    hidden[0] = True  # the 3
    assert exposed_totals(hidden, totals).sum() == 2  # its row and its column give it back
    result = secondary_suppression(hidden, totals, cost=counts)
    assert not exposed_totals(result, totals).any()
    assert result[0] and not hidden[1:].any()  # the input is not changed
    # The cheapest complements: the 12 in its row, the 30 in its column, then the 25, the cheapest both in
    # the 12's column and in the 30's row: a 2 x 2 rectangle, the classic minimal pattern.
    assert set(np.flatnonzero(result)) == {0, 2, 4, 6}


def test_secondary_suppression_cannot_hide_what_may_not_be_hidden() -> None:
    # England (cell 0) and two trusts: hiding one trust exposes it; the other trust is the only complement.
    totals = (np.zeros(3, dtype=int), np.array([0, 1, 2]))
    result = secondary_suppression([False, True, False], totals, cost=[100, 5, 50], hideable=[False, True, True])
    np.testing.assert_array_equal(result, [False, True, True])
    # With one trust only, nothing can protect it: the total stays exposed, and says so.
    alone = (np.zeros(2, dtype=int), np.array([0, 1]))
    exposed = secondary_suppression([False, True], alone, cost=[100, 5], hideable=[False, True])
    assert exposed_totals(exposed, alone).tolist() == [True]


def test_secondary_suppression_follows_a_chain_across_hierarchies() -> None:
    # Cells 0-3: a trust's four quarters; 4: its year; 5-7: another trust's quarters 1-3, 8 its year;
    # 9-12: England's quarters 1-4. Totals: each year and its quarters, England and the trusts in each quarter.
    total_of = np.array([0] * 5 + [1] * 4 + [2] * 3 + [3] * 3 + [4] * 3 + [5] * 2)
    cell_of = np.array([4, 0, 1, 2, 3, 8, 5, 6, 7, 9, 0, 5, 10, 1, 6, 11, 2, 7, 12, 3])
    counts = np.array([3, 20, 30, 40, 93, 10, 50, 60, 120, 13, 70, 90, 40], dtype=float)
    hidden = np.zeros(13, dtype=bool)
    hidden[0] = True
    result = secondary_suppression(hidden, (total_of, cell_of), cost=counts, hideable=np.arange(13) < 9)
    assert not exposed_totals(result, (total_of, cell_of)).any()
    # Quarter 1 of the other trust (England's only other part that quarter), then in each year the cheapest
    # other quarter (20 and 50), then the other trust's quarter 2 beside the first trust's.
    assert set(np.flatnonzero(result)) == {0, 5, 1, 6}


def test_secondary_suppression_checks_its_arguments() -> None:
    with pytest.raises(ValueError):
        secondary_suppression([True, False], (np.array([0, 0]), np.array([0, 2])), cost=[1, 2])
    with pytest.raises(ValueError):
        secondary_suppression([True, False], (np.array([0, 0]), np.array([0, 1])), cost=[1])


def test_a_total_known_in_part_to_one_reader_hides_none_or_three() -> None:
    # England (cell 0, never hidden) and four trusts. Trust 1 is suppressed; the cheapest complement, trust 2, makes
    # a pair: trust 1's team knows its own count, so England minus the shown trusts gives trust 2 back. With a
    # minimum of 3, a third trust is hidden too.
    totals = (np.zeros(5, dtype=int), np.arange(5))
    cost = [1000, 5, 20, 30, 40]
    hideable = [False, True, True, True, True]
    pair = secondary_suppression([False, True, False, False, False], totals, cost=cost, hideable=hideable)
    assert set(np.flatnonzero(pair)) == {1, 2}
    three = secondary_suppression([False, True, False, False, False], totals, cost=cost, hideable=hideable, minimum=[3])
    assert set(np.flatnonzero(three)) == {1, 2, 3}
    assert exposed_totals(pair, totals, minimum=[3]).tolist() == [True]
    assert not exposed_totals(three, totals, minimum=[3]).any()


def test_a_hidden_cell_the_attacker_knows_anyway_protects_nothing() -> None:
    # A trust's hidden count beside a neighbour's hidden 0 (known from a total published as 0): the total minus
    # the shown trusts, less the 0, is the first count. The 0 does not count; another informative cell is hidden.
    totals = (np.zeros(4, dtype=int), np.arange(4))
    hidden = [False, True, True, False]
    informative = [True, True, False, True]
    assert exposed_totals(hidden, totals).tolist() == [False]
    assert exposed_totals(hidden, totals, informative=informative).tolist() == [True]
    result = secondary_suppression(
        hidden, totals, cost=[1000, 5, 3, 50], hideable=[False, True, True, True], informative=informative
    )
    assert set(np.flatnonzero(result)) == {1, 2, 3}


def test_a_minimum_below_two_is_refused() -> None:
    with pytest.raises(ValueError):
        exposed_totals([True, False], (np.array([0, 0]), np.array([0, 1])), minimum=[1])
