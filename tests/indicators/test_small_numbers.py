"""Small numbers handled well (issue 14, item 3): a registry of about 300 patients a year across dozens of trusts.

The fixture definition declares a pooled headline period and the Cancer Alliance as the comparison level; the
extract is drawn from a known truth (tests/small_registry.py), and the results are judged against that truth.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import optimize, stats

from audits.schema import load_definition, parse_definition
from indicators.compute import compute_indicator
from indicators.definitions import parse_indicators
from indicators.disclosure import protect, publish_results, suppression_policy
from indicators.reporting import Reporting
from tests.small_registry import DEFINITION, EXTRACT_DATE, in_window, synthetic_registry

TRUSTS = [f"T{i:02d}" for i in range(1, 41)]
ALLIANCE_OF = {trust: f"A{i % 8}" for i, trust in enumerate(TRUSTS)}
POOLED = "2022/23-2024/25"
SHRUNKEN = ("shrunken_value", "shrunken_lower", "shrunken_upper", "reliability")


@pytest.fixture(scope="module")
def definitions():
    return {d.code: d for d in parse_indicators(load_definition(DEFINITION))}


@pytest.fixture(scope="module")
def registry():
    return synthetic_registry(TRUSTS)


def compute(registry, definition):
    return compute_indicator(
        registry.frame,
        definition,
        extract_date=EXTRACT_DATE,
        provider_column="trust",
        alliance_of=ALLIANCE_OF,
    )


@pytest.fixture(scope="module")
def mdt(registry, definitions):
    return compute(registry, definitions["mdt_discussed"])


def rows(output, level, period=POOLED) -> pd.DataFrame:
    results = output.results
    return results[(results["level"] == level) & (results["period"] == period)].set_index("organisation")


def test_the_definition_declares_pooling_and_the_comparison_level_and_an_indicator_its_own(definitions):
    assert definitions["mdt_discussed"].reporting == Reporting(pool_years=3, comparison_level="alliance")
    assert definitions["organ_sparing"].reporting == Reporting(pool_years=2, comparison_level="alliance")


def test_the_headline_period_pools_the_latest_declared_years_and_counts_their_patients(registry, mdt, definitions):
    periods = set(mdt.results["period"])
    assert periods == {"2021/22", "2022/23", "2023/24", "2024/25", POOLED}  # no all-years period beside it
    window = in_window(registry.frame, 2022, 2024)
    england = rows(mdt, "national").iloc[0]
    assert england["denominator"] == window.sum()
    assert england["numerator"] == (window & registry.frame["mdt_discussed"].to_numpy(bool)).sum()

    organ = compute(registry, definitions["organ_sparing"])
    assert set(organ.results["period"]) - {"2021/22", "2022/23", "2023/24", "2024/25"} == {"2023/24-2024/25"}


def test_trusts_are_not_flagged_where_alliances_are_the_comparison_level(mdt):
    trusts, alliances = rows(mdt, "provider"), rows(mdt, "alliance")
    assert (trusts["flag"] == "none").all() and trusts["z"].isna().all() and trusts["limit_upper_95"].isna().all()
    assert trusts["note"].str.contains("compared by Cancer Alliance").all()
    assert alliances["z"].notna().all() and alliances["limit_upper_95"].notna().all()
    assert {fit["level"] for fit in mdt.funnels} == {"alliance"}


def test_shrunken_estimates_are_nearer_the_truth_than_the_crude_rates(registry, mdt):
    trusts = rows(mdt, "provider")
    truth = pd.Series(registry.truth).reindex(trusts.index)
    crude_error = float(np.mean((trusts["value"] - truth) ** 2))
    shrunken_error = float(np.mean((trusts["shrunken_value"] - truth) ** 2))
    assert shrunken_error < 0.75 * crude_error
    # Reliability is the share of a trust's variance that is signal: between 0 and 1, larger with more patients.
    assert trusts["reliability"].between(0, 1, inclusive="neither").all()
    by_size = trusts.sort_values("denominator")
    assert (np.diff(by_size["reliability"].to_numpy()) >= -1e-12).all()
    # Each estimate lies between the trust's crude rate and the pooled rate, inside its own interval.
    pooled = float(rows(mdt, "national")["value"].iloc[0])
    low = np.minimum(trusts["value"], pooled) - 1e-9
    high = np.maximum(trusts["value"], pooled) + 1e-9
    assert trusts["shrunken_value"].between(low, high).all()
    assert (trusts["shrunken_lower"] < trusts["shrunken_value"]).all()
    assert (trusts["shrunken_value"] < trusts["shrunken_upper"]).all()
    # The 95% intervals hold the true rates about as often as they should (binomial band for 40 trusts).
    held = ((trusts["shrunken_lower"] <= truth) & (truth <= trusts["shrunken_upper"])).sum()
    assert held >= stats.binom.ppf(0.001, len(trusts), 0.95) - 2
    assert rows(mdt, "national")[list(SHRUNKEN)].isna().all(axis=None)  # England is not shrunk


def test_for_every_period_and_level_the_shrunken_figures_are_there(mdt):
    local = mdt.results[mdt.results["level"] != "national"]
    assert local["shrunken_value"].notna().all() and local["reliability"].notna().all()


@pytest.fixture(scope="module")
def protected(mdt, definitions):
    return protect(mdt, definitions["mdt_discussed"], alliance_of=ALLIANCE_OF, policy=suppression_policy())


def published(protected):
    records = protected.results.astype(object).where(pd.notna(protected.results), None).to_dict("records")
    return publish_results(records, unsuppressed=False)


def test_a_suppressed_cell_publishes_no_shrunken_estimate(protected):
    hidden = [row for row in published(protected) if row["suppressed"]]
    assert hidden, "the tiny trusts must be hidden"
    assert all(row[name] is None for row in hidden for name in SHRUNKEN)


def test_a_shown_cell_gives_back_only_its_rounded_counts(protected):
    """The attack: from a published shrunken estimate and its interval, solve the posterior beta (a + x, b + n - x)
    and, with the prior the other shown trusts give away, the counts behind it. They come out as the published,
    rounded counts: never the exact ones."""
    shown = [r for r in published(protected) if r["level"] == "provider" and not r["suppressed"]]
    shown = [r for r in shown if r["period"] == POOLED]
    assert len(shown) >= 5
    exact = protected.results.set_index(["level", "period", "organisation"])
    differ = 0
    for row in shown:
        mean, lower = row["shrunken_value"], row["shrunken_lower"]
        # The posterior's a + b + n: where the beta with this mean has this lower 2.5% point.
        total = optimize.brentq(lambda t, m=mean, low=lower: stats.beta.ppf(0.025, m * t, (1 - m) * t) - low, 1e-3, 1e7)
        concentration = row["denominator"] / row["reliability"] - row["denominator"]  # M from the reliability
        prior_mean = (mean * total - row["numerator"]) / concentration
        # The posterior's total a + b + n recovers the published (rounded) denominator, and a + x its numerator.
        assert math.isclose(total - concentration, row["denominator"], rel_tol=0.02)
        assert math.isclose(prior_mean * concentration + row["numerator"], mean * total, rel_tol=1e-6)
        truth = exact.loc[("provider", POOLED, row["organisation"])]
        differ += int(truth["denominator"] != row["denominator"] or truth["numerator"] != row["numerator"])
    assert differ > 0  # rounding changed some counts, and the figures follow the rounded ones


def test_the_published_shrunken_figures_do_not_depend_on_a_hidden_count(registry, definitions, protected):
    """Change a patient of a tiny (hidden) trust: every shown trust's published shrunken figures stay the same, so
    they carry nothing of the hidden count."""
    tiny = TRUSTS[-1]
    frame = registry.frame.copy()
    mine = np.flatnonzero((frame["trust"] == tiny).to_numpy() & in_window(frame, 2022, 2024))
    assert 0 < len(mine) <= 7
    column = frame["mdt_discussed"].to_numpy(bool).copy()
    column[mine[0]] = not column[mine[0]]
    frame["mdt_discussed"] = pd.array(column, dtype="boolean")
    again = protect(
        compute(type(registry)(frame=frame, truth=registry.truth), definitions["mdt_discussed"]),
        definitions["mdt_discussed"],
        alliance_of=ALLIANCE_OF,
        policy=suppression_policy(),
    )

    def shown_figures(output):
        return {
            (r["period"], r["organisation"]): tuple(r[name] for name in SHRUNKEN)
            for r in published(output)
            if r["level"] == "provider" and not r["suppressed"]
        }

    before, after = shown_figures(protected), shown_figures(again)
    assert before.keys() == after.keys() and before == after


# ------------------------------------------------------------------ a risk-adjusted ratio (observed over expected)

RATIO = "mdt_missed_adjusted"


@pytest.fixture(scope="module")
def ratio_definition():
    """Patients not discussed at a specialist MDT as a risk-adjusted ratio (a risk model on age), added to the
    fixture registry's definition in memory: its trusts' O/E shrink by the gamma-Poisson model."""
    raw = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))
    entry = {**next(item for item in raw["indicators"] if item["code"] == "mdt_discussed"), "code": RATIO}
    entry["numerator"] = {"column": "mdt_discussed", "equals": False}
    entry["direction"] = "lower_is_better"
    entry["risk_model"] = {"covariates": [{"column": "age", "type": "numeric"}]}
    raw["indicators"].append(entry)
    definition = next(d for d in parse_indicators(parse_definition(raw, origin=DEFINITION.name)) if d.code == RATIO)
    assert definition.kind == "ratio"
    return definition


@pytest.fixture(scope="module")
def ratio_protected(registry, ratio_definition):
    output = compute(registry, ratio_definition)
    return output, protect(output, ratio_definition, alliance_of=ALLIANCE_OF, policy=suppression_policy())


def test_every_trust_and_alliance_gets_a_shrunken_o_e_and_england_none(ratio_protected):
    output, _ = ratio_protected
    local = output.results[output.results["level"] != "national"]
    assert local["shrunken_value"].notna().all() and local["reliability"].between(0, 1).all()
    trusts = rows(output, "provider")
    assert trusts["reliability"].gt(0).all()  # the trusts' MDT rates really differ (tests/small_registry.py)
    # On the O/E scale: each estimate between the trust's crude O/E and the trusts' typical O/E (about 1), inside
    # its own interval, and pulled further the fewer events the trust was expected to have.
    assert trusts["value"].between(0.3, 3).sum() > 30 and trusts["shrunken_value"].between(0.5, 1.5).all()
    assert (trusts["shrunken_lower"] < trusts["shrunken_value"]).all()
    assert (trusts["shrunken_value"] < trusts["shrunken_upper"]).all()
    by_expected = trusts.sort_values("expected")
    assert (np.diff(by_expected["reliability"].to_numpy()) >= -1e-12).all()
    assert rows(output, "national")[list(SHRUNKEN)].isna().all(axis=None)


def test_a_suppressed_ratio_cell_publishes_no_shrunken_o_e(ratio_protected):
    _, protected = ratio_protected
    hidden = [row for row in published(protected) if row["suppressed"]]
    assert hidden, "the tiny trusts must be hidden"
    assert all(row[name] is None for row in hidden for name in SHRUNKEN)


def test_a_shown_ratio_cell_gives_back_only_its_published_counts(ratio_protected):
    """The attack on O/E: from a shown trust's published shrunken O/E, its reliability w and its published expected
    events E, solve the posterior gamma: β = E(1 − w)/w, shape α + O = estimate·(β + E). The α so found is one
    prior for every shown trust of the period only with the published (rounded) observed counts: the figures follow
    the published counts, never the exact ones."""
    output, protected = ratio_protected
    exact = output.results.set_index(["level", "period", "organisation"])
    shown = [r for r in published(protected) if r["level"] == "provider" and not r["suppressed"]]
    shown = [r for r in shown if r["period"] == POOLED]
    assert len(shown) >= 5
    alphas, exact_alphas = [], []
    for row in shown:
        estimate, w, e = row["shrunken_value"], row["reliability"], row["expected"]
        assert e == round(e, 1)  # expected events are published to one decimal
        beta = e * (1 - w) / w
        shape = estimate * (beta + e)
        # The published interval is that posterior's: Gamma(shape, rate β + E).
        assert stats.gamma.ppf(0.025, shape, scale=1 / (beta + e)) == pytest.approx(row["shrunken_lower"], rel=1e-6)
        assert stats.gamma.isf(0.025, shape, scale=1 / (beta + e)) == pytest.approx(row["shrunken_upper"], rel=1e-6)
        alphas.append(shape - row["observed"])
        exact_alphas.append(shape - exact.loc[("provider", POOLED, row["organisation"])]["observed"])
    assert max(alphas) - min(alphas) < 1e-6 * max(alphas)
    assert max(exact_alphas) - min(exact_alphas) > 0.5  # rounding changed some counts; the figures ignore them


def test_the_published_shrunken_o_e_do_not_depend_on_a_hidden_cell(ratio_protected, ratio_definition):
    """Change a hidden (tiny) trust's observed and expected events: every shown trust's published shrunken O/E stays
    the same, so it carries nothing of the hidden cell. (The cell is changed in the computed results rather than a
    patient in the extract: a patient's outcome moves the risk model, so every trust's published expected events,
    and the shrunken figures with them, as they should.)"""
    output, protected = ratio_protected
    results = output.results.copy()
    tiny = (results["level"] == "provider") & (results["organisation"] == TRUSTS[-1]) & (results["period"] == POOLED)
    assert tiny.sum() == 1 and 0 < int(results.loc[tiny, "denominator"].iloc[0]) <= 7
    denominator = int(results.loc[tiny, "denominator"].iloc[0])
    observed = (int(results.loc[tiny, "numerator"].iloc[0]) + 1) % (denominator + 1)
    results.loc[tiny, ["numerator", "observed"]] = [observed, float(observed)]
    results.loc[tiny, "expected"] = results.loc[tiny, "expected"] * 1.5 + 0.4
    changed = protect(
        dataclasses.replace(output, results=results),
        ratio_definition,
        alliance_of=ALLIANCE_OF,
        policy=suppression_policy(),
    )

    def shown_figures(protected_output):
        return {
            (r["period"], r["organisation"]): tuple(r[name] for name in SHRUNKEN)
            for r in published(protected_output)
            if r["level"] == "provider" and not r["suppressed"]
        }

    before, after = shown_figures(protected), shown_figures(changed)
    assert before.keys() == after.keys() and before == after
