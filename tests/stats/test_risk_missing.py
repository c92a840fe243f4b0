"""Known-truth tests of case-mix adjustment around missing values, years and sparse levels (issue 11).

Each simulation plants a truth a correct risk model must find: a trust at 3x the odds of death
that records no ASA grade, a national trend across audit years with no trust variation, and a
rare level with no deaths. The indicator is computed end to end (``compute_indicator``) so the
flags are those a trust would see.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from indicators import compute
from indicators.compute import compute_indicator
from indicators.definitions import IndicatorDefinition
from indicators.levels import ENGLAND_CODE
from indicators.stats.risk import RiskModelError, fit_risk_model, logit

EXTRACT = date(2025, 1, 1)
YEARS = (2021, 2022, 2023)
ASA_EFFECT = {"1": 0.0, "2": 0.8, "3": 1.7, "4": 2.6}
# Categorical covariates without a `missing` key take the default handling (imputation now;
# on the starting commit, a "(missing)" category of their own).
COVARIATES = [
    {"column": "age", "type": "numeric"},
    {"column": "asa_grade", "type": "categorical", "reference": "1"},
]


def _indicator(covariates=COVARIATES) -> IndicatorDefinition:
    return IndicatorDefinition(
        code="mortality_90d",
        title="90-day mortality",
        description="",
        numerator={"column": "died", "equals": True},
        denominator={"column": "resected", "equals": True},
        exclusions=(),
        direction="lower_is_better",
        period_column="surgery_date",
        numerator_text="",
        denominator_text="",
        risk_model={"covariates": covariates},
        minimum_denominator=10,
    )


def _release(trusts: int, per_trust: int, seed: int, year_shift=(0.0, 0.0, 0.0)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = trusts * per_trust
    trust = np.repeat([f"T{i:02d}" for i in range(trusts)], per_trust)
    year = rng.integers(0, len(YEARS), n)
    day = rng.integers(0, 365, n)
    surgery = pd.to_datetime([f"{YEARS[y]}-04-01" for y in year]) + pd.to_timedelta(day, unit="D")
    age = rng.normal(70, 10, n)
    asa = rng.choice(list(ASA_EFFECT), n, p=[0.2, 0.4, 0.3, 0.1]).astype(object)
    eta = -3.4 + 0.03 * (age - 70) + np.vectorize(ASA_EFFECT.get)(asa) + np.asarray(year_shift)[year]
    return pd.DataFrame(
        {
            "provider_code": trust,
            "surgery_date": surgery,
            "age": age,
            "asa_grade": asa,
            "resected": True,
            "eta": eta,
            "died": False,
        }
    )


def _outcomes(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame["died"] = rng.random(len(frame)) < 1 / (1 + np.exp(-frame["eta"].to_numpy()))
    return frame


def _compute(frame: pd.DataFrame, indicator: IndicatorDefinition | None = None) -> compute.IndicatorOutput:
    alliances = {t: f"A{int(t[1:]) % 4}" for t in frame["provider_code"].unique()}
    return compute_indicator(
        frame,
        indicator or _indicator(),
        extract_date=EXTRACT,
        provider_column="provider_code",
        alliance_of=alliances,
    )


def _row(results: pd.DataFrame, level: str, organisation: str, period: str) -> pd.Series:
    hit = results[
        (results["level"] == level) & (results["organisation"] == organisation) & (results["period"] == period)
    ]
    assert len(hit) == 1, (level, organisation, period)
    return hit.iloc[0]


ALL_YEARS = "2021/22-2023/24"


def test_a_trust_at_three_times_the_odds_that_records_no_asa_grade_is_flagged() -> None:
    # 40 trusts x 300 patients; ASA grade strongly predictive; T00 at 3x the odds, ASA always blank.
    frame = _release(40, 300, seed=101)
    planted = frame["provider_code"] == "T00"
    frame.loc[planted, "eta"] += np.log(3.0)
    frame = _outcomes(frame, seed=102)
    frame.loc[planted, "asa_grade"] = None
    output = _compute(frame)
    assert output.model_card is not None and output.model_card["fitted"] is True
    row = _row(output.results, "provider", "T00", ALL_YEARS)
    # Truth: odds x3 at a ~6% baseline risk is about 2.3x the deaths; a missing category made it 1.00.
    assert row["value"] > 1.6, row["value"]
    assert row["ci_lower"] > 1.2
    assert str(row["flag"]).endswith("_high"), row["flag"]
    # No other trust is pushed to a high alarm by T00's absorbed excess.
    others = output.results[(output.results["period"] == ALL_YEARS) & (output.results["level"] == "provider")]
    assert (others["flag"] == "alarm_high").sum() == 1
    card = output.model_card
    assert card["completeness"]["by_group"]["T00"]["asa_grade"] == 0.0
    assert card["completeness"]["by_group"]["T01"]["asa_grade"] == 1.0
    assert card["completeness"]["national"]["asa_grade"] == pytest.approx(39 / 40)
    assert set(card["caveats"]) == {"T00"}
    assert "fewer than 80% of this trust's patients have asa grade (England 98%) recorded" in card["caveats"]["T00"]
    assert " 0%" not in card["caveats"]["T00"]  # the trust's own share is for analysts, not every reader
    # Coefficients come only from patients with ASA recorded: no term for a missing value.
    assert not any("missing" in c["term"] for c in card["coefficients"])
    assert card["n_imputed"] == 300
    json.dumps(card, allow_nan=False)  # stored as JSON: no NaN anywhere


def test_englands_o_e_is_one_in_every_year_and_flags_follow_trusts_not_the_trend() -> None:
    # A strong national trend (log-odds -0.6, 0, +0.6) and no trust variation at all; a tenth of
    # ASA grades missing at random, so imputed patients take part in every year.
    frame = _outcomes(_release(80, 240, seed=201, year_shift=(-0.6, 0.0, 0.6)), seed=202)
    blank = np.random.default_rng(203).random(len(frame)) < 0.1
    frame.loc[blank, "asa_grade"] = None
    output = _compute(frame)
    assert output.model_card is not None and output.model_card["fitted"] is True
    results = output.results
    for period in ("2021/22", "2022/23", "2023/24", ALL_YEARS):
        england = _row(results, "national", ENGLAND_CODE, period)
        assert england["observed"] / england["expected"] == pytest.approx(1.0, abs=1e-9), period
        providers = results[(results["level"] == "provider") & (results["period"] == period)]
        assert providers["expected"].sum() == pytest.approx(providers["observed"].sum(), rel=1e-9)
        # Under the null each side flags about 2.5% of 80 trusts (2 expected); a pooled model
        # without the year flags the first year low and the last high wholesale.
        high = providers["flag"].astype(str).str.endswith("_high").sum()
        low = providers["flag"].astype(str).str.endswith("_low").sum()
        assert high <= 7 and low <= 7, (period, high, low)
    # With the trend in the model, no single year looks overdispersed: on the commit before, the
    # first and last years sat off target wholesale (phi far above 1, limits widened for every trust).
    # Under the null the (consistency-corrected) phi scatters about 1, so it may exceed 1 by chance.
    single_years = [f for f in output.funnels if f["level"] == "provider" and "-" not in f["period"]]
    assert len(single_years) == 3
    assert all(f["phi"] < 1.5 for f in single_years), [f["phi"] for f in single_years]
    assert output.model_card["audit_year"]["term"] is True
    assert set(output.model_card["audit_year"]["recalibration"]) == {"2021", "2022", "2023"}


def test_a_rare_level_and_blanks_without_deaths_do_not_remove_the_indicator() -> None:
    # 45,000 patients; 12 with a blank cancer site and 12 with a rare site, none of whom died.
    frame = _release(50, 900, seed=301)
    rng = np.random.default_rng(302)
    frame["cancer_site"] = rng.choice(["colon", "rectum", "sigmoid"], len(frame)).astype(object)
    frame = _outcomes(frame, seed=303)
    frame.loc[frame.index[:12], "cancer_site"] = None
    frame.loc[frame.index[12:24], "cancer_site"] = "appendix"
    frame.loc[frame.index[:24], "died"] = False
    covariates = [*COVARIATES, {"column": "cancer_site", "type": "categorical"}]
    output = _compute(frame, _indicator(covariates))
    card = output.model_card
    assert card is not None and card["fitted"] is True, card
    assert not output.results.empty
    england = _row(output.results, "national", ENGLAND_CODE, ALL_YEARS)
    assert england["observed"] / england["expected"] == pytest.approx(1.0, abs=1e-9)
    (merged,) = card["merged_levels"]["cancer_site"]
    assert "'appendix' (12 patients, fewer than 30)" in merged and "merged into the reference level" in merged
    assert card["n_imputed"] == 12


class _OneStep(sm.Logit):
    """statsmodels' own Logit, stopped after one Newton step: a fit that has not converged."""

    def fit(self, *args, **kwargs):
        kwargs["maxiter"] = 1
        return super().fit(*args, **kwargs)


def test_a_model_that_did_not_converge_gives_no_results_and_says_why_in_plain_words(monkeypatch) -> None:
    frame = _outcomes(_release(20, 100, seed=401), seed=402)
    monkeypatch.setattr(logit.sm, "Logit", _OneStep)
    with pytest.raises(RiskModelError, match="did not converge"):
        fit_risk_model(frame, "died", COVARIATES)
    output = _compute(frame)
    assert output.results.empty
    card = output.model_card
    assert card is not None and card["fitted"] is False
    assert card["reason"].startswith("the risk model did not converge")
    for jargon in ("statsmodels", "Warning", "Traceback", "Hessian", "maxiter", "LinAlg"):
        assert jargon not in card["reason"]


def test_separation_by_a_number_is_reported_in_plain_words() -> None:
    frame = pd.DataFrame({"x": np.arange(200.0), "died": (np.arange(200) >= 100).astype(int)})
    with pytest.raises(RiskModelError) as caught:
        fit_risk_model(frame, "died", [{"column": "x", "type": "numeric"}])
    message = str(caught.value)
    assert "separation" in message and "statsmodels" not in message and "Warning" not in message


def test_imputation_draws_come_from_patients_like_them() -> None:
    # ASA grade rises with age; patients whose ASA is blank get grades drawn from recorded patients
    # of a similar age, so their expected risk follows their own age, not the national mix.
    rng = np.random.default_rng(501)
    n = 20_000
    age = rng.normal(70, 12, n)
    asa = np.clip(np.round((age - 70) / 8 + rng.normal(2.5, 0.6, n)), 1, 4).astype(int).astype(str).astype(object)
    eta = -3.0 + np.vectorize(ASA_EFFECT.get)(asa)
    died = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    frame = pd.DataFrame({"age": age, "asa_grade": asa, "died": died})
    blank = np.arange(n) < 1000
    frame.loc[blank, "asa_grade"] = None
    covariates = [{"column": "asa_grade", "type": "categorical", "reference": "1"}]  # age only conditions the draws
    fit = fit_risk_model(frame, "died", [*covariates, COVARIATES[0]])
    truth = 1 / (1 + np.exp(-eta[blank]))  # the risk each blank patient really had
    national = fit.predicted[~blank].mean()
    for band in (age[blank] < 60, age[blank] > 80):
        got, want = fit.predicted[blank][band].mean(), truth[band].mean()
        assert got == pytest.approx(want, rel=0.12), (got, want)
        assert abs(got - national) > 3 * abs(got - want)  # clearly not the national mix


def test_too_few_events_for_the_case_mix_terms_gives_no_model_and_says_why() -> None:
    # 600 patients, a handful of deaths, 6 case-mix terms (age, ASA 2 to 4, two audit-year contrasts):
    # fewer than 5 events per term. Merging sparse levels must not turn this into a fitted model whose
    # coefficients rest on a handful of deaths (on the commit before the rule, it was fitted).
    frame = _outcomes(_release(4, 150, seed=601), seed=602)
    frame["eta"] = frame["eta"] - 1.5
    frame = _outcomes(frame, seed=603)
    events = int(frame["died"].sum())
    assert 3 <= events < 5 * 5
    output = _compute(frame)
    assert output.results.empty
    card = output.model_card
    assert card["fitted"] is False
    assert "too few for its" in card["reason"] and "case-mix terms" in card["reason"]
    assert "statsmodels" not in card["reason"]
