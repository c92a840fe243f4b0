"""Fitting a case-mix model over a release and describing it in its model card.

The steps, each in its own module of this package: read the covariates (:mod:`.covariates`),
learn their levels on the complete cases (:mod:`.levels`), build the design matrix
(:mod:`.design`), check and fit the logistic regression (:mod:`.checks`, :mod:`.logit`), draw
the missing values of the other patients (:mod:`.imputation`), recalibrate each year
(:mod:`.expected`), then measure the model (:mod:`.performance`) and the completeness of its
fields (:mod:`.completeness`) for the card (:mod:`.card`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from indicators.stats.arrays import finite_or_none
from indicators.stats.risk.card import coefficient_table, method_text, missing_sentence
from indicators.stats.risk.checks import (
    check_events_per_parameter,
    check_rank,
    check_separation,
    drop_separating_interactions,
)
from indicators.stats.risk.completeness import completeness_by_group
from indicators.stats.risk.covariates import YEAR_TERM, Covariate, parse_interactions, parse_spec, year_covariate
from indicators.stats.risk.design import design, n_main_terms
from indicators.stats.risk.expected import recalibrate
from indicators.stats.risk.imputation import IMPUTATION_SEED, IMPUTATIONS, donor_cells, draw_donors, imputed_raw
from indicators.stats.risk.levels import MIN_LEVEL_PATIENTS, learn
from indicators.stats.risk.logit import fit_logit
from indicators.stats.risk.performance import binary_outcome, c_statistic, calibration_deciles
from indicators.stats.risk.words import RiskModelError, level_name
from indicators.stats.risk_spec import DEFAULT_MINIMUM_COMPLETENESS

__all__ = ["RiskModelFit", "fit_risk_model"]


@dataclass(frozen=True)
class RiskModelFit:
    """A fitted case-mix model.

    ``predicted`` holds each input row's expected risk (NaN for rows left out of the
    model; for a row with imputed values, the average over the imputations);
    ``included`` marks the rows with a prediction; ``terms`` and ``params`` are the
    design-matrix column names and log-odds estimates (before the per-year
    recalibration, which the card reports); ``card`` is the JSON-serialisable model
    card (see :func:`fit_risk_model`).
    """

    predicted: np.ndarray
    included: np.ndarray
    terms: list[str]
    params: np.ndarray
    card: dict[str, Any]


def fit_risk_model(
    frame: pd.DataFrame,
    outcome: str,
    covariates: Sequence[Mapping[str, Any]],
    interactions: Sequence[Sequence[str]] = (),
    *,
    year: Any = None,
    groups: Any = None,
    minimum_completeness: float = DEFAULT_MINIMUM_COMPLETENESS,
    imputations: int = IMPUTATIONS,
    min_level_patients: int = MIN_LEVEL_PATIENTS,
    seed: int = IMPUTATION_SEED,
) -> RiskModelFit:
    """Fit a case-mix logistic regression over the whole release and describe it.

    Method: maximum-likelihood logistic regression (statsmodels ``Logit``,
    Newton–Raphson), as NBOCA and NLCA fit their risk models (docs/domain.md §1.1,
    §1.2), on the patients with every covariate recorded; patients with an imputed
    covariate get the average predicted risk over ``imputations`` hot-deck draws
    (:mod:`indicators.stats.risk`, docs/adr/0005); sparse levels are pooled first; with ``year``
    (one audit year per row) the year is a categorical term and each year's intercept
    is recalibrated so that its expected events equal its observed events.
    Discrimination by the c-statistic (Mann–Whitney, Hanley & McNeil 1982);
    calibration by tenths of predicted risk and the Hosmer–Lemeshow test (Hosmer &
    Lemeshow 1980, 10 groups, 8 df), both over every included patient. Rows with a
    missing outcome are left out. ``groups`` (one provider per row) adds each group's
    completeness of every covariate and a caveat in words for a group below
    ``minimum_completeness``.

    The ``card`` holds: ``outcome``, ``n_rows``, ``n_patients`` (with a prediction),
    ``n_complete_cases`` (the model was fitted on them), ``n_imputed``,
    ``imputations``, ``n_events``, ``observed_rate``, ``n_excluded_missing``
    (covariates), ``n_excluded_missing_outcome``, ``missing_counts`` (per covariate),
    ``missing_handling`` (one sentence per covariate), ``merged_levels`` (per
    covariate, sentences saying what was pooled and why), ``reference_levels``,
    ``centring``, ``dropped_levels``, ``dropped_terms`` and ``dropped_term_reasons`` (term -> why),
    ``interactions``, ``audit_year`` (``term`` whether the year is in the model,
    ``recalibration`` year -> log-odds shift, ``not_recalibrated`` years with no or
    only events), ``coefficients`` (``term, estimate, std_error, odds_ratio,
    ci_lower, ci_upper, p_value``; the 95% interval is on the odds-ratio scale),
    ``c_statistic``, ``calibration`` (``decile, n, mean_predicted, observed_rate,
    expected_events, observed_events``), ``hosmer_lemeshow`` (``chi2, df, p``),
    ``converged``, ``iterations``, ``log_likelihood``, ``null_log_likelihood``,
    ``method`` and, with ``groups``, ``completeness`` (``national``: covariate ->
    share recorded; ``by_group``: group -> covariate -> share), ``minimum_completeness``
    and ``caveats`` (group -> sentence).
    Raises ``RiskModelError`` (a ValueError, its message in plain words) when nobody
    or everybody had the event, when a term separates the outcome, when terms are
    collinear or when the fit does not converge; ValueError for a malformed spec.
    """
    if outcome not in frame.columns:
        raise ValueError(f"outcome column {outcome!r} is not in the data")
    raw_outcome = frame[outcome]
    outcome_missing = raw_outcome.isna().to_numpy()
    y_all = np.zeros(len(frame))
    if (~outcome_missing).any():
        y_all[~outcome_missing] = binary_outcome(raw_outcome[~outcome_missing].to_numpy(), f"outcome {outcome!r}")
    base = ~outcome_missing

    specs = parse_spec(frame, covariates)
    pairs = parse_interactions(interactions, specs)
    columns = {c.column: frame[c.column] for c in specs}
    terms_specs = list(specs)
    year_c: Covariate | None = None
    if year is not None:
        year_c = year_covariate(year, len(frame))
        columns[YEAR_TERM] = pd.Series(year_c.uniques, dtype=np.int64)  # the years, in order
        terms_specs.append(year_c)
    for c in terms_specs:
        c.n_missing = int((c.missing_rows & base).sum())

    included = base.copy()
    for c in terms_specs:
        if c.missing == "exclude":
            included &= ~c.missing_rows
    complete = included.copy()
    for c in specs:
        complete &= ~c.missing_rows
    if not included.any():
        raise RiskModelError(
            "the risk model could not be fitted: no patient is left once those with a missing value are left out"
        )
    if not complete.any():
        raise RiskModelError("the risk model could not be fitted: no patient has every case-mix field recorded")

    y = y_all[complete]
    n_fit, fit_events = y.size, int(y.sum())
    if fit_events == 0:
        raise RiskModelError("the risk model could not be fitted: no events, no patient in the model had the outcome")
    if fit_events == n_fit:
        raise RiskModelError("the risk model could not be fitted: every patient in the model had the outcome")

    learn(terms_specs, columns, complete, included, y_all[complete], min_level_patients)
    fit_rows = np.flatnonzero(complete)
    X, names, binary, empty_terms = design(terms_specs, pairs, {c.column: c.raw(fit_rows) for c in terms_specs}, n_fit)
    n_main = 1 + sum(n_main_terms(c) for c in terms_specs)
    X, names, binary, separating = drop_separating_interactions(X, names, binary, y, n_main)
    check_rank(X, names)
    check_events_per_parameter(y, X.shape[1] - 1)
    check_separation(X, names, y, binary)
    result, converged = fit_logit(X, y, names)
    params = np.asarray(result.params, dtype=np.float64)
    bse = np.asarray(result.bse, dtype=np.float64)
    # Linear predictor of every included row: one for a complete case, one per draw otherwise.
    eta_fit = X @ params
    del X
    recipients = np.flatnonzero(included & ~complete)
    draws = imputations if recipients.size else 0
    eta_imp = np.empty((recipients.size, draws))
    if recipients.size:
        rng = np.random.default_rng(seed)
        cells = {c.column: donor_cells(c, complete) for c in specs}
        donors = draw_donors(specs, cells, year_c.codes if year_c else None, complete, recipients, draws, rng)
        for m in range(draws):
            raw = {c.column: imputed_raw(c, recipients, donors[:, m]) for c in terms_specs}
            X_m, _, _, _ = design(terms_specs, pairs, raw, recipients.size, terms=names)
            eta_imp[:, m] = X_m @ params

    # Recalibration in the large per audit year (one stratum without years), imputed rows included.
    rows = np.concatenate([fit_rows, np.repeat(recipients, draws)])
    eta = np.concatenate([eta_fit, eta_imp.ravel()])
    weight = np.concatenate([np.ones(fit_rows.size), np.full(recipients.size * draws, 1.0 / max(draws, 1))])
    if year_c is not None:
        stratum_codes, stratum_names = year_c.codes, [level_name(u) for u in year_c.uniques]
    else:
        stratum_codes, stratum_names = np.zeros(len(frame), dtype=np.int64), ["all"]
    inc_rows = np.flatnonzero(included)
    observed = np.bincount(stratum_codes[inc_rows], weights=y_all[inc_rows], minlength=len(stratum_names))
    delta, solvable = recalibrate(eta, weight, stratum_codes[rows], observed)
    p = expit(eta + delta[stratum_codes[rows]])
    predicted = np.full(len(frame), np.nan)
    predicted[fit_rows] = p[: fit_rows.size]
    if recipients.size:
        predicted[recipients] = p[fit_rows.size :].reshape(recipients.size, draws).mean(axis=1)

    y_inc, p_inc = y_all[inc_rows], predicted[inc_rows]
    n, n_events = int(inc_rows.size), int(y_inc.sum())
    calibration, hosmer_lemeshow = calibration_deciles(y_inc, p_inc)
    why_dropped = {t: "no patient has this combination" for t in empty_terms}
    why_dropped.update({t: "its patients all had, or all lacked, the event" for t in separating})
    card: dict[str, Any] = {
        "outcome": outcome,
        "n_rows": len(frame),
        "n_patients": n,
        "n_complete_cases": int(n_fit),
        "n_imputed": int(recipients.size),
        "imputations": int(draws),
        "n_events": n_events,
        "observed_rate": n_events / n,
        "n_excluded_missing": int((base & ~included).sum()),
        "n_excluded_missing_outcome": int(outcome_missing.sum()),
        "missing_counts": {c.column: c.n_missing for c in specs},
        "missing_handling": {c.column: missing_sentence(c, imputations) for c in specs},
        "merged_levels": {c.column: c.merged for c in terms_specs if c.merged},
        "reference_levels": {c.column: level_name(c.reference) for c in specs if c.type == "categorical"},
        "centring": {c.column: c.centre for c in specs if c.centre is not None},
        "dropped_levels": {c.column: c.dropped_levels for c in specs if c.dropped_levels},
        "dropped_terms": list(why_dropped),
        "dropped_term_reasons": why_dropped,
        "interactions": [list(map(str, pair)) for pair in interactions],
        "audit_year": {
            "term": year_c is not None and len(year_c.groups) > 1,
            "recalibration": dict(sorted((s, float(d)) for s, d in zip(stratum_names, delta, strict=True))),
            "not_recalibrated": sorted(s for s, ok in zip(stratum_names, solvable, strict=True) if not ok),
        },
        "coefficients": coefficient_table(names, params, bse),
        "c_statistic": c_statistic(y_inc, p_inc),
        "calibration": calibration,
        "hosmer_lemeshow": {
            "chi2": finite_or_none(hosmer_lemeshow["chi2"]),
            "df": hosmer_lemeshow["df"],
            "p": finite_or_none(hosmer_lemeshow["p"]),
        },
        "converged": converged,
        "iterations": int(result.mle_retvals.get("iterations", -1)),
        "log_likelihood": finite_or_none(result.llf),
        "null_log_likelihood": finite_or_none(
            fit_events * np.log(fit_events / n_fit) + (n_fit - fit_events) * np.log1p(-fit_events / n_fit)
        ),
        "method": method_text(min_level_patients, imputations),
    }
    if groups is not None:
        found = completeness_by_group(specs, np.flatnonzero(base), groups, minimum_completeness)
        card["completeness"] = {"national": found["national"], "by_group": found["by_group"]}
        card["minimum_completeness"] = float(minimum_completeness)
        card["caveats"] = found["caveats"]
    return RiskModelFit(predicted=predicted, included=included, terms=list(names), params=params, card=card)
