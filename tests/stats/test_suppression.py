"""Disclosure control (indicators.stats.suppression)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from indicators.stats.suppression import (
    DEFAULT_POLICY,
    SuppressionPolicy,
    display_counts,
    is_rate_suppressed,
    is_suppressed,
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
