"""Case-mix (risk) adjustment by patient-level logistic regression.

National clinical audits such as NBOCA and NLCA fit one logistic regression of a
binary outcome (e.g. 90-day death) on case-mix factors over the whole release,
then compare each provider's observed events with its expected events, the sum of
its patients' predicted risks (see docs/domain.md §1.1, §1.2, §1.6 and §3.1).

The covariate specification is plain data, as it comes from an audit's YAML
definition::

    covariates = [
        {"column": "age", "type": "numeric", "transform": "square"},
        {"column": "sex", "type": "categorical", "reference": "M"},
        {"column": "asa", "type": "categorical", "missing": "impute"},
        {"column": "emergency", "type": "boolean"},
    ]
    interactions = [["age", "stage_m"]]

``missing`` is ``"impute"`` or ``"exclude"`` (patients with a missing value are
dropped); the default is ``"impute"`` for categorical covariates and ``"exclude"``
otherwise. Imputation never lets a missing value carry a coefficient of its own
(docs/adr/0005): the model is fitted on the patients with every covariate recorded
(complete cases; White & Carlin 2010, Statistics in Medicine 29:2920-2931, on when
that is unbiased), and a patient with a missing value gets the average of the
model's predicted risks over ``M`` draws of the missing values from recorded
patients like them: same recorded case-mix and audit year, any provider, outcome
not used (hot-deck multiple imputation within donor cells: Andridge & Little 2010,
International Statistical Review 78:40-64; van Buuren 2018, *Flexible Imputation of
Missing Data*, 2nd ed., §3.4, §5.1). The average over the draws is Rubin's (1987)
pooled point estimate of each patient's expected risk, and so of every expected
count (a sum of them).

Levels of a categorical covariate with fewer than ``MIN_LEVEL_PATIENTS`` patients,
or with no patient with (or without) the event, are pooled into an ``(other)`` level,
or into the reference level when the pool is itself too small, before fitting.

With an audit year per patient the model carries the year as a categorical term and,
last, each year's intercept is recalibrated on the logit scale so that the expected
events of that year, imputed patients included, equal its observed events
(recalibration in the large: Steyerberg 2019, *Clinical Prediction Models*, 2nd ed.,
§20.3; Spiegelhalter et al. 2012, Statistics in Medicine 31:2529-2546 on comparing
providers against a recalibrated target). England's O/E is then 1 in every year.

A ``"square"`` transform adds the covariate and its square, both centred at the mean
of the complete cases so the two terms are not nearly collinear.

The package has one module a step (see :mod:`.model` for the order); this module gathers the names
its callers import.
"""

from __future__ import annotations

from indicators.stats.risk.covariates import YEAR_TERM
from indicators.stats.risk.design import build_design_matrix
from indicators.stats.risk.expected import expected_by_group
from indicators.stats.risk.imputation import IMPUTATIONS
from indicators.stats.risk.levels import MIN_LEVEL_PATIENTS, OTHER_LEVEL
from indicators.stats.risk.model import RiskModelFit, fit_risk_model
from indicators.stats.risk.performance import c_statistic
from indicators.stats.risk.words import RiskModelError

__all__ = [
    "IMPUTATIONS",
    "MIN_LEVEL_PATIENTS",
    "OTHER_LEVEL",
    "YEAR_TERM",
    "RiskModelError",
    "RiskModelFit",
    "build_design_matrix",
    "c_statistic",
    "expected_by_group",
    "fit_risk_model",
]
