"""What a run stores for the public (indicators.disclosure.protect), on a hand-built cohort, without the database."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np
import pandas as pd
import pytest

from indicators.compute import compute_indicator
from indicators.disclosure import protect
from indicators.registry import indicator
from indicators.stats.funnel import proportion_limits
from indicators.stats.intervals import wilson_interval
from indicators.stats.suppression import DEFAULT_POLICY, SuppressionPolicy

# Two alliances of three trusts; trust sizes from tiny to large, so that some cells are small.
ALLIANCE_OF = {"R0A": "E1", "RAE": "E1", "RBS": "E1", "RC9": "E2", "RD1": "E2", "RDE": "E2"}
SIZES = {"R0A": 900, "RAE": 40, "RBS": 300, "RC9": 600, "RD1": 15, "RDE": 250}


@pytest.fixture(scope="module")
def mdt():
    rng = np.random.default_rng(7)
    providers = np.concatenate([[code] * size for code, size in SIZES.items()])
    days = rng.integers(0, 3 * 365, size=len(providers))
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(len(providers))],
            "provider_code": providers,
            "diagnosis_date": pd.Timestamp("2022-04-01") + pd.to_timedelta(days, unit="D"),
            "mdt_discussed": rng.random(len(providers)) < 0.9,
        }
    )
    definition = indicator("bowel", "mdt_discussed")
    output = compute_indicator(
        frame, definition, extract_date=date(2025, 6, 30), provider_column="provider_code", alliance_of=ALLIANCE_OF
    )
    return output, protect(output, definition, alliance_of=ALLIANCE_OF, policy=DEFAULT_POLICY)


def cells(output) -> dict[tuple[str, str, str], dict]:
    """(level, organisation, period or quarter) -> {numerator, denominator, suppressed, year, span}."""
    out = {}
    for r in output.results.to_dict("records"):
        span = "pooled" if "-" in r["period"] else "year"
        out[(r["level"], r["organisation"], r["period"])] = {**r, "span": span, "year": r["period_start"].year}
    for trend in output.trends:
        for p in trend["points"]:
            start = date.fromisoformat(p["start"])
            year = start.year - (start.month < 4)
            out[(trend["level"], trend["organisation"], p["quarter"])] = {**p, "span": "quarter", "year": year}
    return out


def totals(found: dict) -> list[list[tuple]]:
    """Every published total and its parts, worked out independently of the code under test."""
    groups = defaultdict(list)
    for key, cell in found.items():
        level, organisation, time = key
        if level in ("national", "provider"):
            groups[("england-trusts", time)].append(key)
        if level in ("national", "alliance"):
            groups[("england-alliances", time)].append(key)
        if level in ("provider", "alliance"):
            groups[("alliance", time, ALLIANCE_OF.get(organisation, organisation))].append(key)
        if cell["span"] != "quarter":
            groups[("years", level, organisation)].append(key)
        if cell["span"] != "pooled":
            groups[("quarters", level, organisation, cell["year"])].append(key)
        if cell["span"] in ("pooled", "quarter"):
            groups[("series", level, organisation)].append(key)
    return [members for members in groups.values() if len(members) > 1]


def test_a_small_count_or_complement_is_hidden_and_no_total_gives_a_hidden_cell_back(mdt):
    exact, protected = mdt
    found = cells(protected)
    small = [
        key
        for key, c in found.items()
        if key[0] != "national"
        and any(1 <= count <= 7 for count in (c["numerator"], c["denominator"], c["denominator"] - c["numerator"]))
    ]
    assert len(small) >= 10, "the cohort should have small cells"
    assert all(found[key]["suppressed"] for key in small)
    assert not any(c["suppressed"] for key, c in found.items() if key[0] == "national")
    hidden = sum(1 for c in found.values() if c["suppressed"])
    assert hidden > len(small)  # complementary cells were hidden too
    for members in totals(found):
        assert sum(1 for key in members if found[key]["suppressed"]) != 1, members
    assert exact.results["numerator"].tolist() == protected.results["numerator"].tolist()  # exact figures kept
    assert "suppressed" not in exact.results  # the input is not changed


def test_shown_figures_are_computed_from_the_rounded_counts(mdt):
    _, protected = mdt
    results = protected.results
    fits = {(f["level"], f["period"]): f for f in protected.funnels}
    checked = 0
    for r in results.to_dict("records"):
        if r["level"] == "national":
            assert r["public"] is None
            continue
        if r["suppressed"]:
            assert r["public"] is None
            continue
        public = r["public"]
        n, d = public["numerator"], public["denominator"]
        assert n % 5 == 0 and d % 5 == 0 and abs(n - r["numerator"]) <= 2 and abs(d - r["denominator"]) <= 2
        assert public["value"] == n / d and public["expected"] is None and public["observed"] == n
        low, high = wilson_interval(n, d, 0.95)
        assert (public["ci_lower"], public["ci_upper"]) == pytest.approx((float(low), float(high)))
        fit = fits.get((r["level"], r["period"]))
        if fit and public["limit_lower_95"] is not None:
            mode = fit["overdispersion"] if fit["overdispersion_applied"] else "none"
            limits = proportion_limits(
                fit["target"],
                d,
                0.95,
                fit["method"],
                tau2=fit["tau2"] or 0.0,
                phi=fit["phi"] or 1.0,
                overdispersion=mode,
            )
            assert (public["limit_lower_95"], public["limit_upper_95"]) == pytest.approx(tuple(map(float, limits)))
            checked += 1
    assert checked >= 3


def test_a_trend_publishes_rounded_quarters_and_the_chart_of_the_shown_ones_only(mdt):
    _, protected = mdt
    with_hidden = 0
    for trend in protected.trends:
        if trend["level"] == "national":
            assert trend["public"] is None
            continue
        public = trend["public"]
        assert [p["suppressed"] for p in public["points"]] == [p["suppressed"] for p in trend["points"]]
        charted = zip(public["points"], trend["points"], strict=True)  # a part-quarter is left out of the chart
        shown = [p["value"] for p, exact in charted if p["value"] is not None and not exact["partial"]]
        for p in public["points"]:
            if p["suppressed"]:
                assert p["numerator"] is None and p["denominator"] is None and p["value"] is None
            elif p["denominator"] == 0:  # a quarter without patients: a gap
                assert p["value"] is None
            else:
                assert p["value"] == p["numerator"] / p["denominator"]
        if public["xmr"]:
            assert public["xmr"]["n_points"] == len(shown)
            assert public["xmr"]["mean"] == pytest.approx(sum(shown) / len(shown))
        with_hidden += any(p["suppressed"] for p in trend["points"])
    assert with_hidden >= 1


def test_the_policy_can_leave_out_complements_and_secondary_suppression(mdt):
    exact, protected = mdt
    definition = indicator("bowel", "mdt_discussed")
    plain = protect(
        exact,
        definition,
        alliance_of=ALLIANCE_OF,
        policy=SuppressionPolicy(complements=False, secondary=False),
    )
    assert plain.results["suppressed"].sum() < protected.results["suppressed"].sum()
    for r in plain.results.to_dict("records"):
        if r["level"] != "national":
            assert r["suppressed"] == (1 <= r["numerator"] <= 7 or 1 <= r["denominator"] <= 7)
