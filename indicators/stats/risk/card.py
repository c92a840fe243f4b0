"""The words and tables of a fitted model's card: coefficients, missing values and the method."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from indicators.stats.arrays import finite_or_none
from indicators.stats.risk.covariates import Covariate
from indicators.stats.risk.words import who

__all__ = ["coefficient_table", "method_text", "missing_sentence"]

_Z95 = float(stats.norm.ppf(0.975))


def coefficient_table(names: list[str], params: np.ndarray, bse: np.ndarray) -> list[dict[str, Any]]:
    """Each term's log-odds estimate and odds ratio with its 95% Wald interval and p-value."""
    z = params / bse
    return [
        {
            "term": name,
            "estimate": finite_or_none(b),
            "std_error": finite_or_none(se),
            "odds_ratio": finite_or_none(np.exp(b)),
            "ci_lower": finite_or_none(np.exp(b - _Z95 * se)),
            "ci_upper": finite_or_none(np.exp(b + _Z95 * se)),
            "p_value": finite_or_none(2 * stats.norm.sf(abs(zj))),
        }
        for name, b, se, zj in zip(names, params, bse, z, strict=True)
    ]


def missing_sentence(c: Covariate, draws: int) -> str:
    n = c.n_missing
    if c.missing == "exclude":
        if n == 0:
            return f"{c.label}: no missing values (patients with a missing value would be left out)."
        return f"{c.label}: {who(n)} with a missing value were left out of the model."
    if n == 0:
        return f"{c.label}: no missing values (a missing value would be imputed)."
    return (
        f"{c.label}: {who(n)} with a missing value were kept; the value was drawn {draws} times from "
        "recorded patients in England with the same recorded case-mix and audit year (never from the "
        "outcome), and their expected risk is the average over the draws. No coefficient is estimated "
        "from patients without the value."
    )


def method_text(min_level_patients: int, imputations: int) -> str:
    """The method in words, for the card's reader."""
    return (
        "Logistic regression fitted by maximum likelihood (Newton-Raphson, statsmodels Logit) on the "
        "patients in the release with every case-mix factor recorded, with the audit year as a factor. "
        "Categorical covariates use reference-level (treatment) coding; levels with fewer than "
        f"{min_level_patients} patients, or with no patient with or without the event, are merged first; "
        "squared terms are centred at the mean. A patient with a missing case-mix value is kept: the "
        f"value is drawn {imputations} times from recorded patients in England with the same recorded "
        "case-mix and audit year, and the patient's expected risk is the average over the draws. Each "
        "year's baseline is then recalibrated so that England's expected deaths equal its observed deaths "
        "in every year. Odds ratios with 95% Wald confidence intervals. Discrimination: c-statistic "
        "(area under the ROC curve, Mann-Whitney rank formula). Calibration: ten equal-sized groups by "
        "predicted risk and the Hosmer-Lemeshow test on 8 degrees of freedom. Expected events for a "
        "provider are the sum of its patients' expected risks."
    )
