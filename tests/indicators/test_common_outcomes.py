"""Common risk-adjusted outcomes end to end (issue 11, item 6): where about half the patients have the
event (lung 1-year mortality), O/E is judged as an indirectly standardised proportion with the binomial
variance of the sum of predicted risks (Spiegelhalter 2005, Stat Med 24:1185), not Poisson variance.

Known truth: every trust has the same risk model (the null) except, in one test, one trust planted at
odds ratio 1.8.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from indicators.compute import compute_indicator
from indicators.definitions import IndicatorDefinition

EXTRACT = date(2025, 1, 1)


def _indicator() -> IndicatorDefinition:
    return IndicatorDefinition(
        code="mortality_1y",
        title="1-year mortality",
        description="",
        numerator={"column": "died", "equals": True},
        denominator={"column": "treated", "equals": True},
        exclusions=(),
        direction="lower_is_better",
        period_column="diagnosis_date",
        numerator_text="",
        denominator_text="",
        risk_model={"covariates": [{"column": "age", "type": "numeric"}, {"column": "stage", "type": "categorical"}]},
        minimum_denominator=10,
    )


def _release(sizes: list[int], seed: int, planted: dict[int, float] | None = None) -> pd.DataFrame:
    """Trusts of the given sizes in one audit year; risks vary widely between patients (stage)."""
    rng = np.random.default_rng(seed)
    trust = np.repeat(np.arange(len(sizes)), sizes)
    n = len(trust)
    age = rng.normal(72, 9, n)
    stage = rng.choice(["1", "2", "3", "4"], n, p=[0.2, 0.2, 0.25, 0.35])
    eta = -1.6 + 0.04 * (age - 72) + pd.Series(stage).map({"1": 0.0, "2": 0.9, "3": 1.9, "4": 3.2}).to_numpy()
    for t, odds_ratio in (planted or {}).items():
        eta = eta + np.where(trust == t, np.log(odds_ratio), 0.0)
    day = rng.integers(0, 365, n)
    return pd.DataFrame(
        {
            "provider_code": [f"T{t:03d}" for t in trust],
            "diagnosis_date": pd.Timestamp("2023-04-01") + pd.to_timedelta(day, unit="D"),
            "age": age,
            "stage": stage,
            "treated": True,
            "died": rng.random(n) < 1 / (1 + np.exp(-eta)),
        }
    )


def _compute(frame: pd.DataFrame):
    return compute_indicator(
        frame,
        _indicator(),
        extract_date=EXTRACT,
        provider_column="provider_code",
        alliance_of={t: "A0" for t in frame["provider_code"].unique()},
    )


def test_a_common_outcome_is_judged_with_the_binomial_variance_of_the_predicted_risks():
    frame = _release([300] * 150, seed=11)
    output = _compute(frame)
    rate = frame["died"].mean()
    assert 0.45 < rate < 0.65
    providers = output.results[output.results["level"] == "provider"]
    fit = next(f for f in output.funnels if f["level"] == "provider")
    assert fit["method"] == "isp"
    # Var(O) = sum p(1 - p): below the Poisson variance E (about half of it at these rates) and below
    # the binomial variance of a single risk n p(1 - p), since risks vary between patients.
    assert (providers["expected_variance"] < providers["expected"] * 0.6).all()
    assert (providers["expected_variance"] < providers["denominator"] * rate * (1 - rate)).all()
    # Under the null the spread of trusts is what the binomial variance says: phi near 1
    # (Poisson variance would give about 0.45), and few flags on either side.
    assert 0.7 < fit["phi"] < 1.4
    flags = providers["flag"].astype(str)
    assert flags.str.endswith("_high").sum() <= 9 and flags.str.endswith("_low").sum() <= 9  # 3.75 expected


def test_a_trust_at_odds_ratio_1_8_with_400_patients_is_flagged():
    flagged = 0
    for seed in range(5):
        frame = _release([400] + [300] * 60, seed=100 + seed, planted={0: 1.8})
        results = _compute(frame).results
        row = results[(results["level"] == "provider") & (results["organisation"] == "T000")]
        flagged += str(row["flag"].iloc[0]).endswith("_high")
    assert flagged >= 4  # power about 0.99 at this size; the Poisson limits flagged it far less often
