"""What an indicator reports on: how many audit years its headline period pools, and the level its funnel
flags are decided at (pure: standard library).

Declared under ``reporting:`` at the top level of an audit's definition file (every indicator) or on one
indicator (its own keys win, key by key)::

    reporting:
      pool_years: 3                 # the headline period: the latest 3 audit years pooled (default: all years)
      comparison_level: alliance    # funnel flags for Cancer Alliances only: trusts are too small to compare

A registry of a few hundred patients a year across dozens of trusts has too few patients per trust in one
year to compare: pooling years gives each trust more patients, and comparing alliances (a few hundred
patients each) gives the funnel something to judge while every trust keeps its value and its
reliability-adjusted (shrunken) estimate. Errors are ``audits.schema.DefinitionError`` naming the file, the
entry and the key; ``indicators.definitions.parse_indicators`` reads both places.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audits.schema import Fail, check_keys
from indicators.levels import ALLIANCE, PROVIDER

REPORTING_KEYS = frozenset({"pool_years", "comparison_level"})
#: The levels whose funnel may decide the flags; the first is the default.
COMPARISON_LEVELS = (PROVIDER, ALLIANCE)
FEWEST_POOLED_YEARS, MOST_POOLED_YEARS = 2, 10


@dataclass(frozen=True)
class Reporting:
    """``pool_years``: the audit years the headline period pools, the latest ones (None: all the release's years
    together); ``comparison_level``: the level whose funnel flags units (provider: trusts and alliances both)."""

    pool_years: int | None = None
    comparison_level: str = PROVIDER

    @property
    def pooled(self) -> bool:
        """The definition declares a pooled window."""
        return self.pool_years is not None


def parse_reporting(raw: Any, fail: Fail, entry: str, inherited: Reporting | None = None) -> Reporting:
    """A ``reporting:`` mapping, checked, on top of ``inherited`` (the audit's, for an indicator's own)."""
    base = inherited or Reporting()
    if raw is None:
        return base
    if not isinstance(raw, dict):
        raise fail("reporting must be a mapping such as {pool_years: 3, comparison_level: alliance}", entry)
    check_keys(raw, REPORTING_KEYS, fail, entry)
    pool = raw.get("pool_years", base.pool_years)
    if pool is not None and (
        isinstance(pool, bool) or not isinstance(pool, int) or not FEWEST_POOLED_YEARS <= pool <= MOST_POOLED_YEARS
    ):
        raise fail(
            f"pool_years must be a whole number of audit years from {FEWEST_POOLED_YEARS} to {MOST_POOLED_YEARS}",
            entry,
            "pool_years",
        )
    level = raw.get("comparison_level", base.comparison_level)
    if level not in COMPARISON_LEVELS:
        raise fail(f"comparison_level must be one of {', '.join(COMPARISON_LEVELS)}", entry, "comparison_level")
    return Reporting(pool_years=pool, comparison_level=level)
