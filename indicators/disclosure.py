"""Disclosure control of what is shown or exported: decided once per indicator, picked per reader.

Two halves, one rule (docs/adr/0004-disclosure-control-against-differencing.md):

- **When a run stores an indicator** (:func:`protect`, called by the job): which trust and alliance
  cells (an organisation's result in a period, or its count in a quarter) everyone but the audit's
  analysts may see, and what they see of them. Primary suppression hides a cell whose numerator,
  denominator or complement (denominator - numerator) is 1-7 (NHS Digital's HES/ECDS rule,
  docs/domain.md §2.4); secondary suppression then hides complementary cells until no published
  total gives a hidden one back by differencing (England and its trusts, England and its
  alliances, an alliance and its trusts, all years and each year, a year and its quarters, the
  whole series and its quarters). A shown cell's counts are rounded to the nearest 5, and every
  figure published beside them (value, intervals, funnel limits, z, expected, a trend's values and
  its XmR chart) is computed from the rounded counts, so none gives the exact counts back.
  Flags and eligibility stay those of the exact counts (the audit's finding); a hidden cell loses
  them too. England is published as computed (the HES rule applies below national level).
- **When a page, download or API answer is made** (``publish_*``), with
  ``unsuppressed=accounts.roles.sees_unsuppressed(user, audit_code)``: the audit's analysts get the
  exact figures, everyone else the stored public ones. A trust's own team also gets that trust's own
  rows exact (``sees_unsuppressed(user, audit_code, trust)``, ``exact_trusts``), and every other row,
  its alliance's included, as the public does: the ADR's "Trust teams" says why. A trust or alliance row stored before
  public figures were (``public`` missing) is hidden: fail closed.

Statistics are always computed from the exact counts; only what is published changes. The
``publish_*`` functions take and return plain dicts (serializer output, JSON fields); they copy,
never mutate what they are given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.db.models import Q

from indicators import result_fields
from indicators.kinds import KINDS
from indicators.levels import ALLIANCE, PROVIDER
from indicators.models import Level
from indicators.stats.suppression import SuppressionPolicy, is_suppressed, suppress_counts

if TYPE_CHECKING:  # pandas and the statistics are imported where they are used: web processes start without them
    import pandas as pd

    from indicators.compute import IndicatorOutput
    from indicators.definitions import IndicatorDefinition

#: Sub-national levels: their small counts are suppressed (England's are not; docs/domain.md §2.4).
SUPPRESSED_LEVELS = (PROVIDER, ALLIANCE)
# The figures of a trust or alliance row that everyone but the analysts sees as stored in its
# ``public`` field (computed from the rounded counts), or not at all when the row is hidden.
PUBLIC_FIELDS = result_fields.OWN_FIGURES
# A hidden row loses these too: its flag and eligibility would say something about its counts.
HIDDEN_FIELDS = (*PUBLIC_FIELDS, *result_fields.JUDGEMENT)


def suppression_policy() -> SuppressionPolicy:
    return SuppressionPolicy(**settings.SUPPRESSION_POLICY)


def _counts(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in rows], dtype=float)


def shown_to_public() -> Q:
    """The results everyone may see (England, and the trust and alliance rows with public figures), for
    queries on what a hidden row does not publish: a filter on its flag would otherwise find it."""
    return Q(level__in=[level for level in Level.values if level not in SUPPRESSED_LEVELS]) | Q(
        suppressed=False, public__isnull=False
    )


def publish_results(
    rows: list[dict[str, Any]], *, unsuppressed: bool, exact_trusts: Collection[str] = ()
) -> list[dict[str, Any]]:
    """Indicator results (dicts with ``level``, the result's fields, ``suppressed`` and ``public`` as
    stored; ``public`` is not passed on).

    The audit's analysts get every row as computed. Everyone else gets England as computed, a
    shown trust or alliance row's public figures (rounded counts, figures computed from them,
    the exact flag and eligibility), and a hidden row with no counts, figures, flag or eligibility.
    ``suppressed`` says which rows are hidden from the public.

    ``exact_trusts``: trusts whose own rows (trust level only) this reader gets as computed, as the
    analysts do: the trust's own team (``accounts.roles.own_trusts``). Every other row, its alliance's
    and England's included, stays as the public sees it.
    """
    out = []
    for row in rows:
        published = dict(row)
        public = published.pop("public", None)
        if published.get("level") not in SUPPRESSED_LEVELS:
            published["suppressed"] = False
        elif not unsuppressed and not (
            published.get("level") == PROVIDER and published.get("organisation") in exact_trusts
        ):
            hidden = bool(published.get("suppressed")) or public is None
            published["suppressed"] = hidden
            if hidden:
                published.update((name, None) for name in HIDDEN_FIELDS if name in published)
            else:
                published.update((name, public.get(name)) for name in PUBLIC_FIELDS if name in published)
        out.append(published)
    return out


def publish_trend(
    *,
    level: str,
    points: list[dict[str, Any]],
    xmr: dict[str, Any] | None,
    public: dict[str, Any] | None,
    unsuppressed: bool,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A quarterly series and its XmR chart (``TrendSeries.points``, ``.xmr`` and ``.public``).

    The audit's analysts, and England's series, get them as computed (each point says whether it
    is hidden from the public). Everyone else gets a trust's or alliance's public series: hidden
    quarters without counts or value, shown ones with rounded counts and the value computed from
    them, and the chart of the shown values only (its mean and limits give no hidden quarter back).
    """
    if unsuppressed or level not in SUPPRESSED_LEVELS:
        exact = [{**p, "suppressed": bool(p.get("suppressed")) and level in SUPPRESSED_LEVELS} for p in points]
        return exact, _copy_chart(xmr)
    if public is None:  # stored before public series were: fail closed
        hidden = {"numerator": None, "denominator": None, "value": None, "suppressed": True}
        return [{**p, **hidden} for p in points], None
    return [dict(p) for p in public["points"]], _copy_chart(public.get("xmr"))


def _copy_chart(xmr: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if xmr is None else {**xmr, "points": [dict(p) for p in xmr.get("points", [])]}


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


# ------------------------------------------------------------------ once per indicator, when a run stores it

# A complementary cell with no event, or with every patient having it, would add no doubt about the
# hidden count beside it (a sum of hidden counts that includes a known 0 is no protection): such a
# cell is chosen only when nothing else can be, and does not count among a total's hidden cells.
_UNINFORMATIVE = 1e12


def protect(
    output: IndicatorOutput,
    indicator: IndicatorDefinition,
    *,
    alliance_of: Mapping[str, str],
    policy: SuppressionPolicy,
) -> IndicatorOutput:
    """The output of :func:`indicators.compute.compute_indicator` with what the public may see of it.

    Returns a copy whose results have ``suppressed`` (hidden from the public) and ``public`` (the
    published figures of a shown trust or alliance row, else None), whose trends' points say
    whether they are ``suppressed`` and whose trends have ``public`` ({points, xmr}, None for
    England). Pure: no database; ``alliance_of`` maps each trust to its Cancer Alliance (as the
    computation used it).
    """
    import pandas as pd

    from indicators.stats.suppression import primary_suppression, secondary_suppression

    results = output.results.reset_index(drop=True)
    cells = _cells(results, output.trends)
    local = cells["level"].isin(SUPPRESSED_LEVELS).to_numpy()
    numerator, denominator = cells["numerator"].to_numpy(float), cells["denominator"].to_numpy(float)
    hidden = primary_suppression(numerator, denominator, policy) & local
    if policy.secondary:
        uninformative = (numerator == 0) | (denominator == numerator)
        total_of, cell_of, minimum = _totals(cells, alliance_of)
        hidden = secondary_suppression(
            hidden,
            (total_of, cell_of),
            cost=denominator + _UNINFORMATIVE * uninformative,
            hideable=local,
            minimum=minimum,
            informative=~uninformative,
        )
    in_results = hidden[: len(results)]
    published = _public_results(results, ~in_results, output.funnels, indicator, policy)
    results = results.assign(suppressed=in_results, public=pd.Series(published, index=results.index, dtype=object))
    trends, position = [], len(results)
    for trend in output.trends:
        marks = hidden[position : position + len(trend["points"])]
        position += len(trend["points"])
        points = [{**p, "suppressed": bool(h)} for p, h in zip(trend["points"], marks, strict=True)]
        series = _public_trend(points, indicator, policy) if trend["level"] in SUPPRESSED_LEVELS else None
        trends.append({**trend, "points": points, "public": series})
    return dataclasses.replace(output, results=results, trends=trends)


def _cells(results: pd.DataFrame, trends: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per published cell: every result (a period), then every trend point (a quarter) in order.

    ``span`` is "pooled" (audit years pooled: all of them, or the latest the definition declares), "year" (one
    audit year, April-March, named by ``year``, the year it starts) or "quarter" (a calendar quarter, in the audit
    year ``year``).
    """
    import pandas as pd

    starts = pd.to_datetime(results["period_start"])
    ends = pd.to_datetime(results["period_end"])
    from_results = pd.DataFrame(
        {
            "level": results["level"].astype(str),
            "organisation": results["organisation"].astype(str),
            "time": results["period"].astype(str),
            "span": np.where(results["period"].astype(str).str.contains("-"), "pooled", "year"),
            "year": starts.dt.year.astype("int64"),
            "last_year": (ends.dt.year - (ends.dt.month < 4)).astype("int64"),
            "numerator": results["numerator"].astype(float),
            "denominator": results["denominator"].astype(float),
        }
    )
    points = [(t["level"], t["organisation"], p) for t in trends for p in t["points"]]
    quarter_starts = pd.to_datetime(pd.Series([p["start"] for _, _, p in points], dtype=object))
    from_trends = pd.DataFrame(
        {
            "level": [level for level, _, _ in points],
            "organisation": [organisation for _, organisation, _ in points],
            "time": [p["quarter"] for _, _, p in points],
            "span": "quarter",
            "year": (quarter_starts.dt.year - (quarter_starts.dt.month < 4)).astype("int64"),
            "numerator": [float(p["numerator"]) for _, _, p in points],
            "denominator": [float(p["denominator"]) for _, _, p in points],
        }
    )
    from_trends["last_year"] = from_trends["year"]
    return pd.concat([from_results, from_trends], ignore_index=True)


def _totals(cells: pd.DataFrame, alliance_of: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every published total and its parts, as (total id, cell id) pairs: what differencing can use; and per total,
    the fewest hidden cells it may have once it has any.

    A trust's team knows its own trust's counts (from its own records, and from the pages when
    ``TRUST_TEAMS_SEE_OWN_FIGURES`` is on). So a total over several organisations with trusts among its parts
    (England and its trusts, an alliance and its trusts), less any one trust's cell, must still hide none or at
    least two: such a total hides none or at least three (a hidden pair there always has a trust in it, so its
    team would get the other back). Totals within one organisation (its years, quarters and series) and England's
    of its alliances need two (docs/adr/0004-disclosure-control-against-differencing.md, "Trust teams")."""
    import pandas as pd

    level, organisation, time = cells["level"], cells["organisation"], cells["time"]
    span, year = cells["span"], cells["year"].astype(str)
    national, provider, alliance = level == "national", level == "provider", level == "alliance"
    alliance_code = organisation.where(~provider, organisation.map(lambda code: alliance_of.get(code, "unknown")))
    pooled = span == "pooled"
    whole = span == ("pooled" if pooled.any() else "year")
    # A pooled period is the sum of its own audit years only (a declared window may leave earlier ones out): a
    # year or quarter outside it is part of no total with it.
    in_window = pooled | cells["year"].between(cells.loc[pooled, "year"].min(), cells.loc[pooled, "last_year"].max())
    if not pooled.any():
        in_window[:] = True
    own = level + "|" + organisation
    groups = [  # (key, member cells, parts include trusts known to their teams)
        ("england-trusts|" + time, national | provider, True),  # England and its trusts, in each period and quarter
        ("england-alliances|" + time, national | alliance, False),  # England and its alliances
        ("alliance|" + time + "|" + alliance_code, provider | alliance, True),  # an alliance and its trusts
        ("years|" + own, (span != "quarter") & in_window, False),  # an organisation's pooled years, and their sum
        ("quarters|" + own + "|" + year, span != "pooled", False),  # a year and its quarters
        ("series|" + own, whole | ((span == "quarter") & in_window), False),  # the pooled period and its quarters
    ]
    keys = pd.concat([key[mask] for key, mask, _ in groups])
    across_trusts = np.concatenate([np.full(int(mask.sum()), known) for _, mask, known in groups])
    total_of, _ = pd.factorize(keys)
    members = np.bincount(total_of)
    keep = members[total_of] >= 2  # a "total" of one cell is no total
    total_of, cell_of, across_trusts = total_of[keep], keys.index.to_numpy()[keep], across_trusts[keep]
    minimum = np.full(int(total_of.max()) + 1 if total_of.size else 0, 2)
    minimum[total_of[across_trusts]] = 3
    return total_of, cell_of, minimum


def _public_results(
    results: pd.DataFrame,
    shown: np.ndarray,
    funnels: list[dict[str, Any]],
    indicator: IndicatorDefinition,
    policy: SuppressionPolicy,
) -> list[dict[str, Any] | None]:
    """The public figures of each shown trust or alliance row, computed from its rounded counts with
    its funnel's stored target and overdispersion (None for England and hidden rows)."""
    from indicators.stats.analysis import unit_figures
    from indicators.stats.suppression import rounded_counts

    public: list[dict[str, Any] | None] = [None] * len(results)
    kind = KINDS[indicator.kind]
    fits = {(f["level"], f["period"]): f for f in funnels}
    wanted = shown & results["level"].isin(SUPPRESSED_LEVELS).to_numpy()
    for (level, period), rows in results[wanted].groupby(["level", "period"], sort=False):
        fit = fits.get((level, period))
        numerator = rounded_counts(rows["numerator"].to_numpy(float), policy)
        denominator = rounded_counts(rows["denominator"].to_numpy(float), policy)
        rate = rows["national_value"].to_numpy(float)
        # Expected events are not a count of patients: shown to one decimal, as the pages show them.
        expected = np.round(rows["expected"].to_numpy(float), 1)
        counts = kind.counts(denominator, expected)  # what the statistic divides the published events by
        patients, variance = kind.funnel_patients(denominator, np.round(rows["expected_variance"].to_numpy(float), 1))
        figures = unit_figures(
            kind.funnel,
            fit["method"] if fit else indicator.funnel_method,
            fit["target"] if fit else kind.target(float(np.nanmax([*rate, 0.0]))),
            numerator,
            counts,
            tau2=(fit.get("tau2") or 0.0) if fit else 0.0,
            phi=(fit.get("phi") or 1.0) if fit else 1.0,
            overdispersion=fit["overdispersion"] if fit and fit["overdispersion_applied"] else "none",
            patients=patients,  # the "isp" method needs them
            variance=variance,
        )
        in_funnel = rows["z"].notna().to_numpy()  # limits and z only where the exact row has them
        value = figures["value"]
        columns = {
            "numerator": numerator,
            "denominator": denominator,
            "observed": numerator,
            "expected": kind.public_expected(expected),
            "value": value,
            "adjusted_rate": kind.adjusted_rate(value, rate),
            **{name: figures[name] for name in ("ci_lower", "ci_upper", "ci_lower_998", "ci_upper_998")},
            **{name: np.where(in_funnel, figures[name], np.nan) for name in result_fields.LIMITS},
            "z": np.where(in_funnel, figures["z_adjusted"], np.nan),
        }
        refused = rows["value"].isna().to_numpy()  # no figure computed (e.g. a required field recorded too rarely)
        columns.update(_public_shrunken(kind, np.where(refused, np.nan, numerator), counts))
        for name in (*result_fields.ESTIMATE, *result_fields.INTERVAL_998):
            columns[name] = np.where(refused, np.nan, np.asarray(columns[name], dtype=float))
        for i, position in enumerate(rows.index):
            public[position] = {
                name: _number(values[i] if values is not None else None, whole=name in ("numerator", "denominator"))
                for name, values in columns.items()
            }
    return public


def _public_shrunken(kind: Any, numerator: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """The reliability-adjusted estimates of the shown units of one level and period, as published: computed
    from their published figures alone (the rounded counts, and a ratio's expected events to one decimal, as the
    pages show them), the prior estimated from those shown units only (a NaN numerator leaves a unit out). So they
    are a function of figures already published: they give back no exact count, and nothing of a hidden unit,
    whose own estimate is never published (docs/adr/0004, "Shrunken estimates")."""
    shrunk = kind.shrink(numerator, counts)
    if shrunk is None:
        return {name: np.full(len(numerator), np.nan) for name in result_fields.SHRUNKEN}
    return shrunk


def _public_trend(
    points: list[dict[str, Any]], indicator: IndicatorDefinition, policy: SuppressionPolicy
) -> dict[str, Any]:
    """A trust's or alliance's quarters as published, and the XmR chart of the shown values only."""
    from indicators.compute import trend_chart
    from indicators.stats.suppression import rounded_counts

    kind = KINDS[indicator.kind]
    numerators = rounded_counts([p["numerator"] for p in points], policy)
    denominators = rounded_counts([p["denominator"] for p in points], policy)
    published = []
    for p, n, d in zip(points, numerators, denominators, strict=True):
        shown = {"quarter": p["quarter"], "start": p["start"]}
        if p["suppressed"]:
            published.append({**shown, "numerator": None, "denominator": None, "value": None, "suppressed": True})
            continue
        value = kind.rounded_value(p["value"], p["numerator"], (n, d))
        published.append({**shown, "numerator": int(n), "denominator": int(d), "value": value, "suppressed": False})
    values = [None if p.get("partial") else q["value"] for p, q in zip(points, published, strict=True)]
    return {"points": published, "xmr": trend_chart(values, indicator)}


def _number(value: Any, *, whole: bool = False) -> int | float | None:
    if value is None or not np.isfinite(value):
        return None
    return int(value) if whole else float(value)


def publish_model_card(card: dict[str, Any] | None, *, by_trust: bool) -> dict[str, Any] | None:
    """A model card as a reader may see it: each trust's completeness of the case-mix fields is part of a
    release's data-quality report by trust, so it stays on the card only for readers who may see that report
    in full (``by_trust``: the audit's analysts; ``accounts.roles.quality_by_trust_scope``). England's
    completeness and the caveats (which name no trust's share) are public."""
    if card is None:
        return None
    completeness = card.get("completeness")
    if by_trust or not isinstance(completeness, dict) or "by_group" not in completeness:
        return card
    return {**card, "completeness": {k: v for k, v in completeness.items() if k != "by_group"}}
