"""Tests for case-mix adjustment (indicators.stats.risk)."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pandas as pd
import pytest

from indicators.stats.risk import (
    OTHER_LEVEL,
    RiskModelError,
    build_design_matrix,
    c_statistic,
    expected_by_group,
    fit_risk_model,
)

# True model of the simulated release (log-odds scale); age enters centred at 70.
TRUE = {
    "intercept": -2.0,
    "age": 0.03,
    "age^2": 0.002,
    "sex[M]": 0.4,
    "stage[2]": 0.3,
    "stage[3]": 0.8,
    "stage[4]": 1.5,
    "emergency": 0.8,
    "m1": 0.5,
    "age:m1": 0.02,
}

COVARIATES = [
    {"column": "age", "type": "numeric", "transform": "square"},
    {"column": "sex", "type": "categorical", "reference": "F"},
    {"column": "stage", "type": "categorical", "reference": 1},
    {"column": "emergency", "type": "boolean"},
    {"column": "m1", "type": "boolean"},
]


def _simulate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(70, 10, n)
    sex = rng.choice(["F", "M"], n)
    stage = rng.choice([1, 2, 3, 4], n, p=[0.3, 0.3, 0.25, 0.15])  # T stage
    m1 = rng.random(n) < 0.15  # distant metastasis, as NBOCA's age × M interaction
    emergency = rng.random(n) < 0.2
    a = age - 70
    eta = (
        TRUE["intercept"]
        + TRUE["age"] * a
        + TRUE["age^2"] * a**2
        + TRUE["sex[M]"] * (sex == "M")
        + np.select([stage == 2, stage == 3, stage == 4], [0.3, 0.8, 1.5], 0.0)
        + TRUE["emergency"] * emergency
        + TRUE["m1"] * m1
        + TRUE["age:m1"] * a * m1
    )
    died = rng.random(n) < 1 / (1 + np.exp(-eta))
    return pd.DataFrame(
        {
            "age": age,
            "sex": sex,
            "stage": stage,
            "emergency": emergency,
            "m1": m1,
            "trust": rng.choice([f"T{i:02d}" for i in range(30)], n),
            "died": died.astype(int),
        }
    )


@pytest.fixture(scope="module")
def release() -> pd.DataFrame:
    return _simulate(50_000, seed=20240917)


@pytest.fixture(scope="module")
def fitted(release: pd.DataFrame):
    # age × stage has no true effect; it exercises a numeric × categorical interaction
    return fit_risk_model(release, "died", COVARIATES, interactions=[["age", "m1"], ["age", "stage"]])


# --- c-statistic -------------------------------------------------------------------------


def test_it_computes_the_c_statistic_of_a_hand_worked_example() -> None:
    # pairs (event, non-event): (.35,.1) yes, (.35,.4) no, (.8,.1) yes, (.8,.4) yes -> 3/4
    assert c_statistic([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # events .2 .6 .1 vs non-events .2 .5: tie 0.5 + (.6 beats both) 2 = 2.5 of 6 pairs
    assert c_statistic([0, 1, 0, 1, 1], [0.2, 0.2, 0.5, 0.6, 0.1]) == pytest.approx(2.5 / 6)
    assert c_statistic([True, False], [0.3, 0.3]) == pytest.approx(0.5)


def test_it_matches_a_brute_force_pairwise_c_statistic() -> None:
    rng = np.random.default_rng(7)
    y = rng.random(400) < 0.3
    p = np.round(rng.random(400) * 0.5 + 0.3 * y, 2)  # rounded so there are ties
    diff = p[y][:, None] - p[~y][None, :]
    brute = ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size
    assert c_statistic(y, p) == pytest.approx(brute, rel=1e-12)


def test_it_refuses_a_c_statistic_without_both_outcomes() -> None:
    with pytest.raises(ValueError):
        c_statistic([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError):
        c_statistic([0, 2, 1], [0.1, 0.2, 0.3])


# --- design matrix -------------------------------------------------------------------------


def test_it_adds_a_centred_square_term() -> None:
    frame = pd.DataFrame({"age": [60.0, 70.0, 80.0]})
    X, names, keep, _ = build_design_matrix(frame, [{"column": "age", "type": "numeric", "transform": "square"}])
    assert names == ["intercept", "age", "age^2"]
    assert X.dtype == np.float64 and keep.all()
    np.testing.assert_array_equal(X, [[1, -10, 100], [1, 0, 0], [1, 10, 100]])


def test_it_codes_categories_against_a_reference_and_interacts_them() -> None:
    frame = pd.DataFrame({"age": [50.0, 60.0, 70.0, 80.0, 90.0], "stage": ["I", "II", "IV", "II", "IV"]})
    X, names, _, _ = build_design_matrix(
        frame,
        [{"column": "age", "type": "numeric"}, {"column": "stage", "type": "categorical", "reference": "I"}],
        interactions=[["age", "stage"]],
    )
    assert names == ["intercept", "age", "stage[II]", "stage[IV]", "age:stage[II]", "age:stage[IV]"]
    np.testing.assert_array_equal(X[:, 2], [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(X[:, 4], X[:, 1] * X[:, 2])
    np.testing.assert_array_equal(X[:, 5], [0, 0, 70, 0, 90])


def test_it_interacts_two_numeric_covariates() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]})
    X, names, _, _ = build_design_matrix(
        frame,
        [{"column": "a", "type": "numeric"}, {"column": "b", "type": "numeric"}],
        interactions=[["a", "b"]],
    )
    assert names[-1] == "a:b"
    np.testing.assert_array_equal(X[:, -1], [4, 10, 18])


def test_it_defaults_the_reference_to_the_commonest_level() -> None:
    frame = pd.DataFrame({"site": ["colon", "rectum", "rectum", "caecum"]})
    _, names, _, _ = build_design_matrix(frame, [{"column": "site", "type": "categorical"}])
    assert names == ["intercept", "site[caecum]", "site[colon]"]


def test_it_builds_the_design_of_the_complete_cases() -> None:
    frame = pd.DataFrame(
        {
            "age": [60.0, np.nan, 70.0, 80.0, np.nan, 65.0],
            "asa": ["I", "II", None, "II", "I", "I"],
            "emergency": ["yes", "no", "no", "no", "yes", "no"],
        }
    )
    X, names, keep, report = build_design_matrix(
        frame,
        [
            {"column": "age", "type": "numeric"},  # default: exclude
            {"column": "asa", "type": "categorical"},  # default: impute
            {"column": "emergency", "type": "boolean"},
        ],
    )
    np.testing.assert_array_equal(keep, [True, False, False, True, False, True])
    assert names == ["intercept", "age", "asa[II]", "emergency"]
    assert not any("missing" in name for name in names)  # a missing value never gets a term of its own
    np.testing.assert_array_equal(X, [[1, 60, 0, 1], [1, 80, 1, 0], [1, 65, 0, 0]])
    assert report["n_rows"] == 6 and report["n_complete"] == 3
    assert report["covariates"]["age"] == {"n_missing": 2, "handling": "exclude"}
    assert report["covariates"]["asa"] == {"n_missing": 1, "handling": "impute"}


def test_it_drops_levels_with_no_patients() -> None:
    frame = pd.DataFrame(
        {
            "stage": pd.Categorical(["I", "II", "II", "III"], categories=["I", "II", "III", "IV"]),
            "age": [60.0, 70.0, 80.0, np.nan],
        }
    )
    _, names, keep, report = build_design_matrix(
        frame,
        [{"column": "stage", "type": "categorical", "reference": "I"}, {"column": "age", "type": "numeric"}],
    )
    # IV is declared but unused; III's only patient is excluded for missing age
    assert names == ["intercept", "stage[II]", "age"]
    assert report["dropped_levels"] == {"stage": ["III", "IV"]}
    assert keep.tolist() == [True, True, True, False]


@pytest.mark.parametrize(
    "covariates",
    [
        [{"column": "nope", "type": "numeric"}],
        [{"column": "age", "type": "text"}],
        [{"column": "age", "type": "numeric", "transform": "log"}],
        [{"column": "age", "type": "numeric", "missing": "model"}],
        [{"column": "sex", "type": "categorical", "missing": "category"}],  # withdrawn: absorbed trusts' results
        [{"column": "sex", "type": "categorical", "reference": "X"}],
        [{"column": "sex", "type": "boolean"}],
    ],
)
def test_it_rejects_a_bad_specification(covariates: list[dict]) -> None:
    frame = pd.DataFrame({"age": [60.0, 70.0], "sex": ["F", "M"]})
    with pytest.raises(ValueError):
        build_design_matrix(frame, covariates)


def test_it_rejects_an_interaction_with_an_undeclared_column() -> None:
    frame = pd.DataFrame({"age": [60.0, 70.0], "sex": ["F", "M"]})
    with pytest.raises(ValueError):
        build_design_matrix(frame, [{"column": "age", "type": "numeric"}], [["age", "sex"]])


# --- fitted model ----------------------------------------------------------------------------


def _coefficients(fit) -> dict[str, dict]:
    return {c["term"]: c for c in fit.card["coefficients"]}


def test_it_recovers_the_simulated_coefficients(fitted) -> None:
    coef = _coefficients(fitted)
    assert set(coef) == set(TRUE) | {"age:stage[2]", "age:stage[3]", "age:stage[4]"}
    # The model centres age at the sample mean, not 70; re-express the truth:
    # b1·(u + d) + b2·(u + d)² has slope b1 + 2·b2·d in u = age − mean, d = mean − 70.
    shift = fitted.card["centring"]["age"] - 70
    expected = {
        **TRUE,
        "intercept": None,  # absorbs the constant terms of the re-expression
        "age": TRUE["age"] + 2 * TRUE["age^2"] * shift,
        "m1": TRUE["m1"] + TRUE["age:m1"] * shift,
        "age:stage[2]": 0.0,
        "age:stage[3]": 0.0,
        "age:stage[4]": 0.0,
    }
    for term, value in expected.items():
        if value is None:
            continue
        est, se = coef[term]["estimate"], coef[term]["std_error"]
        assert abs(est - value) < 4 * se, (term, est, value, se)
    assert fitted.card["converged"] is True


def test_it_recovers_category_effects_and_reports_odds_ratios(fitted) -> None:
    coef = _coefficients(fitted)
    for term in ("stage[2]", "stage[3]", "stage[4]"):
        c = coef[term]
        assert abs(c["estimate"] - TRUE[term]) < 4 * c["std_error"], term
        assert c["odds_ratio"] == pytest.approx(np.exp(c["estimate"]))
        assert c["ci_lower"] == pytest.approx(np.exp(c["estimate"] - 1.959964 * c["std_error"]), rel=1e-6)
        assert c["ci_lower"] < c["odds_ratio"] < c["ci_upper"]
        assert c["p_value"] < 1e-10


def test_it_writes_a_complete_json_model_card(release: pd.DataFrame, fitted) -> None:
    card = json.loads(json.dumps(fitted.card, allow_nan=False))
    assert card["outcome"] == "died"
    assert card["n_patients"] == len(release)
    assert card["n_events"] == int(release["died"].sum())
    assert card["reference_levels"] == {"sex": "F", "stage": "1"}
    assert set(card["missing_handling"]) == {"age", "sex", "stage", "emergency", "m1"}
    assert card["interactions"] == [["age", "m1"], ["age", "stage"]]
    assert 0.6 < card["c_statistic"] < 0.9
    assert card["hosmer_lemeshow"]["df"] == 8
    # the fitted model is the true model, so it should calibrate
    assert card["hosmer_lemeshow"]["p"] > 0.001
    assert "Logistic regression" in card["method"]


def test_it_reports_calibration_deciles_that_add_up(release: pd.DataFrame, fitted) -> None:
    deciles = fitted.card["calibration"]
    assert [d["decile"] for d in deciles] == list(range(1, 11))
    assert sum(d["n"] for d in deciles) == len(release)
    assert max(d["n"] for d in deciles) - min(d["n"] for d in deciles) <= 1
    assert sum(d["observed_events"] for d in deciles) == fitted.card["n_events"]
    means = [d["mean_predicted"] for d in deciles]
    assert means == sorted(means)
    for d in deciles:
        assert abs(d["observed_rate"] - d["mean_predicted"]) < 0.03


def test_it_agrees_with_its_own_c_statistic(release: pd.DataFrame, fitted) -> None:
    assert fitted.card["c_statistic"] == pytest.approx(c_statistic(release["died"], fitted.predicted))


def test_it_sums_expected_events_by_group(release: pd.DataFrame, fitted) -> None:
    expected = expected_by_group(fitted.predicted, release["trust"])
    assert list(expected.index) == sorted(release["trust"].unique())
    assert expected.sum() == pytest.approx(fitted.predicted.sum())
    # maximum likelihood with an intercept: total expected = total observed
    assert expected.sum() == pytest.approx(release["died"].sum(), rel=1e-6)
    one = release["trust"] == "T07"
    assert expected["T07"] == pytest.approx(fitted.predicted[one.to_numpy()].sum())


def test_it_ignores_excluded_rows_in_expected_events() -> None:
    predicted = np.array([0.1, np.nan, 0.3, 0.2, np.nan])
    groups = ["b", "a", "b", None, "a"]
    expected = expected_by_group(predicted, groups)
    assert expected["b"] == pytest.approx(0.4)
    assert expected["a"] == 0.0
    assert expected.sum() == pytest.approx(np.nansum(predicted))


def test_it_leaves_out_or_imputes_rows_with_missing_values(release: pd.DataFrame) -> None:
    frame = release.head(5000).copy()
    frame.loc[frame.index[:40], "age"] = np.nan
    frame.loc[frame.index[40:100], "stage"] = np.nan
    frame.loc[frame.index[100:110], "died"] = np.nan
    fit = fit_risk_model(frame, "died", COVARIATES[:4])
    card = fit.card
    assert card["n_excluded_missing"] == 40
    assert card["n_excluded_missing_outcome"] == 10
    assert card["n_patients"] == 5000 - 50
    assert card["n_imputed"] == 60 and card["n_complete_cases"] == 5000 - 110
    assert card["missing_counts"]["age"] == 40 and card["missing_counts"]["stage"] == 60
    assert "left out" in card["missing_handling"]["age"]
    assert "drawn 10 times" in card["missing_handling"]["stage"]
    assert np.isnan(fit.predicted[:40]).all() and np.isnan(fit.predicted[100:110]).all()
    assert np.isfinite(fit.predicted[40:100]).all()
    assert fit.included.sum() == card["n_patients"]
    assert not any("missing" in term for term in fit.terms)
    # stage became float when NaNs went in; levels are still named 2, 3, 4
    assert {"stage[2]", "stage[3]", "stage[4]"} <= set(fit.terms)
    assert card["reference_levels"]["stage"] == "1"
    # imputation is seeded: the same release gives the same expected risks every time
    again = fit_risk_model(frame, "died", COVARIATES[:4]).predicted
    np.testing.assert_array_equal(fit.predicted, again)


def test_it_refuses_a_release_without_events(release: pd.DataFrame) -> None:
    frame = release.head(500).assign(died=0)
    with pytest.raises(ValueError, match="no events"):
        fit_risk_model(frame, "died", COVARIATES[:2])


def test_it_refuses_a_release_where_everyone_had_the_event(release: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="every"):
        fit_risk_model(release.head(500).assign(died=1), "died", COVARIATES[:2])


def test_it_merges_a_level_without_events_into_the_reference_and_says_so(release: pd.DataFrame) -> None:
    frame = release.head(2000).copy()
    frame.loc[frame["stage"] == 3, "died"] = 0
    fit = fit_risk_model(frame, "died", COVARIATES[:3])
    assert "stage[3]" not in fit.terms and {"stage[2]", "stage[4]"} <= set(fit.terms)
    (sentence,) = fit.card["merged_levels"]["stage"]
    assert "stage '3'" in sentence and "none with the event" in sentence and "reference level '1'" in sentence
    assert np.isfinite(fit.predicted).all()


def test_it_pools_several_sparse_levels_into_an_other_level() -> None:
    rng = np.random.default_rng(11)
    n = 6000
    site = rng.choice(["colon", "rectum"], n).astype(object)
    site[:25], site[25:50], site[50:62] = "appendix", "anus", "unknown"
    frame = pd.DataFrame({"site": site, "died": (rng.random(n) < 0.2).astype(int)})
    frame.loc[50:61, "died"] = 0
    fit = fit_risk_model(frame, "died", [{"column": "site", "type": "categorical", "reference": "colon"}])
    assert fit.terms == ["intercept", "site[rectum]", f"site[{OTHER_LEVEL}]"]
    merged = fit.card["merged_levels"]["site"]
    assert len(merged) == 3 and all("'(other)' level" in m for m in merged)
    assert any("'unknown' (12 patients, fewer than 30)" in m for m in merged)


def test_it_refuses_separation_by_a_numeric_covariate() -> None:
    frame = pd.DataFrame({"x": np.arange(200.0), "died": (np.arange(200) >= 100).astype(int)})
    with pytest.raises(ValueError, match="separation"):
        fit_risk_model(frame, "died", [{"column": "x", "type": "numeric"}])


def test_it_refuses_collinear_terms(release: pd.DataFrame) -> None:
    frame = release.head(2000).assign(age_again=lambda d: d["age"] * 2)
    with pytest.raises(RiskModelError, match="collinear"):
        fit_risk_model(
            frame,
            "died",
            [{"column": "age", "type": "numeric"}, {"column": "age_again", "type": "numeric"}],
        )


def test_it_refuses_a_non_binary_outcome(release: pd.DataFrame) -> None:
    with pytest.raises(ValueError):
        fit_risk_model(release.head(100).assign(died=2), "died", COVARIATES[:1])


def test_it_aligns_predictions_with_the_input_rows() -> None:
    rows = list(product([60.0, 80.0], ["F", "M"])) * 50
    frame = pd.DataFrame(rows, columns=["age", "sex"])
    frame["died"] = ((frame.index % 3 == 0) | ((frame["age"] == 80) & (frame.index % 2 == 0))).astype(int)
    frame.index = frame.index * 10 + 5  # a non-default index must not matter
    fit = fit_risk_model(
        frame, "died", [{"column": "age", "type": "numeric"}, {"column": "sex", "type": "categorical"}]
    )
    old = frame["age"].to_numpy() == 80
    assert fit.predicted.shape == (len(frame),)
    assert fit.predicted[old].mean() > fit.predicted[~old].mean()
    assert fit.predicted.sum() == pytest.approx(frame["died"].sum(), rel=1e-6)
