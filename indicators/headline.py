"""Which period a dashboard leads with: one rule for the pages (``dashboards.pages.run.headline_period``) and
the "what changed" comparison (``indicators.changes``). Standard library only: the pages import it."""

from __future__ import annotations

from datetime import date


def headline_key(start: date, end: date) -> tuple[int, date]:
    """Sort key of a period with an England result: the longest first (all audit years pooled, steadier for
    small trusts), then the most recent. The headline period is the one with the largest key."""
    return (end - start).days, end
