"""Small-number suppression of what is shown or exported: one function per kind of output.

Every page, download and API response that shows counts passes them through here, with
``unsuppressed=audits.roles.sees_unsuppressed(user, audit_code)``: the audit's analysts
see exact counts, everyone else sees the policy in ``settings.SUPPRESSION_POLICY``
(NHS Digital's HES/ECDS rule, docs/domain.md §2.4):

- at trust and Cancer Alliance level a count of 1-7 is suppressed (None) and every other
  count is rounded to the nearest 5; zero stays zero;
- a rate, its intervals, its funnel limits and its z-score are hidden when its numerator
  or denominator is suppressed (they would give the count back);
- national counts are not suppressed (the HES rule applies below national level), so the
  England row, the national data-quality summary and a risk model's card are published as
  computed.

The functions take and return plain dicts (serializer output, JSON fields); they copy,
never mutate what they are given.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.conf import settings

from indicators.stats.suppression import SuppressionPolicy, is_rate_suppressed, is_suppressed, suppress_counts

SUPPRESSED_LEVELS = ("provider", "alliance")
# Shown only when neither count of the row is suppressed.
RATE_FIELDS = (
    "observed",
    "expected",
    "value",
    "adjusted_rate",
    "ci_lower",
    "ci_upper",
    "ci_lower_998",
    "ci_upper_998",
    "limit_lower_95",
    "limit_upper_95",
    "limit_lower_998",
    "limit_upper_998",
    "limit_lower_95_unadjusted",
    "limit_upper_95_unadjusted",
    "limit_lower_998_unadjusted",
    "limit_upper_998_unadjusted",
    "z",
)


def suppression_policy() -> SuppressionPolicy:
    return SuppressionPolicy(**settings.SUPPRESSION_POLICY)


def _counts(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in rows], dtype=float)


def publish_results(
    rows: list[dict[str, Any]], *, unsuppressed: bool, policy: SuppressionPolicy | None = None
) -> list[dict[str, Any]]:
    """Indicator results (one dict per result, with ``level``, ``numerator``, ``denominator``).

    Sets ``suppressed`` on every row (whether its figures are withheld from the public) and,
    unless ``unsuppressed``, rounds the counts and hides what would give a suppressed count away.
    """
    policy = policy or suppression_policy()
    out = [dict(r) for r in rows]
    local = [r for r in out if r.get("level") in SUPPRESSED_LEVELS]
    for r in out:
        r["suppressed"] = False
    if not local:
        return out
    numerators, denominators = _counts(local, "numerator"), _counts(local, "denominator")
    hidden = is_rate_suppressed(numerators, denominators, policy)
    shown_numerators, shown_denominators = suppress_counts(numerators, policy), suppress_counts(denominators, policy)
    for row, hide, numerator, denominator in zip(local, hidden, shown_numerators, shown_denominators, strict=True):
        row["suppressed"] = bool(hide)
        if unsuppressed:
            continue
        if "numerator" in row:
            row["numerator"] = numerator
        if "denominator" in row:
            row["denominator"] = denominator
        if hide:
            for name in RATE_FIELDS:
                if name in row:
                    row[name] = None
        elif "observed" in row and row["observed"] is not None:
            row["observed"] = None if numerator is None else float(numerator)
    return out


def publish_trend(
    *,
    level: str,
    points: list[dict[str, Any]],
    xmr: dict[str, Any] | None,
    unsuppressed: bool,
    policy: SuppressionPolicy | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A quarterly series and its XmR chart (``TrendSeries.points`` and ``.xmr``).

    A quarter whose count is suppressed loses its counts and value, and the chart loses that
    point's value and the moving ranges on either side of it (each would give it back). The
    chart's mean, limits and signals are statistics of the whole series and stay.
    """
    policy = policy or suppression_policy()
    points = [dict(p) for p in points]
    xmr = None if xmr is None else {**xmr, "points": [dict(p) for p in xmr.get("points", [])]}
    for p in points:
        p["suppressed"] = False
    if level not in SUPPRESSED_LEVELS or not points:
        return points, xmr
    numerators, denominators = _counts(points, "numerator"), _counts(points, "denominator")
    hidden = is_rate_suppressed(numerators, denominators, policy)
    shown_numerators, shown_denominators = suppress_counts(numerators, policy), suppress_counts(denominators, policy)
    # The chart was drawn from the quarters that have a value, in order.
    chart_index = np.cumsum([p.get("value") is not None for p in points]) - 1
    for i, point in enumerate(points):
        point["suppressed"] = bool(hidden[i])
        if unsuppressed:
            continue
        has_value = point.get("value") is not None
        point["numerator"], point["denominator"] = shown_numerators[i], shown_denominators[i]
        if not hidden[i]:
            continue
        point["value"] = None
        if xmr is not None and has_value:
            chart = xmr["points"]
            j = int(chart_index[i])
            for k in (j, j + 1):
                if 0 <= k < len(chart):
                    chart[k]["moving_range"] = None
            if j < len(chart):
                chart[j]["value"] = None
    return points, xmr


def publish_quality_by_trust(
    providers: list[dict[str, Any]], *, unsuppressed: bool, policy: SuppressionPolicy | None = None
) -> list[dict[str, Any]]:
    """Rows of a release's data-quality report by trust (``provider_code``, ``rows``, ``percent_complete``).

    A trust's row count is a count of patients: suppressed and rounded like any other, and its
    completeness percentages are hidden when its row count is suppressed.
    """
    policy = policy or suppression_policy()
    out = [{**p, "percent_complete": dict(p.get("percent_complete") or {})} for p in providers]
    if unsuppressed or not out:
        return out
    rows = _counts(out, "rows")
    hidden = is_suppressed(rows, policy)
    shown = suppress_counts(rows, policy)
    for provider, hide, count in zip(out, hidden, shown, strict=True):
        provider["rows"] = count
        if hide:
            provider["percent_complete"] = {column: None for column in provider["percent_complete"]}
    return out
