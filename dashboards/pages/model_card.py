"""The model card of a risk-adjusted indicator, shown on its indicator page: one piece per run and indicator
(national figures: no suppression needed), and its CSVs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboards import figures, text
from dashboards.pages.piece import CsvSchema, Piece, columns, embed, interval_columns
from dashboards.pages.run import RunContext
from indicators.services import model_failed
from indicators.stats.arrays import finite_or_none


def card_key(code: str) -> str:
    return f"card:{code}"


@dataclass(kw_only=True)
class Coefficient(Piece):
    term: str
    odds_ratio: str
    ci: str
    p_value: str


@dataclass(kw_only=True)
class CalibrationGroup(Piece):
    """A group of patients by predicted risk: predicted and observed."""

    decile: Any
    n: str
    predicted: str
    observed: str
    expected_events: str
    observed_events: str


@dataclass(kw_only=True)
class UnfittedCard(Piece):
    """A risk model that could not be fitted: the plain sentence only (everyone reads it; the analysts' reason
    is on the release page)."""

    tag = ("fitted", False)
    fitted: bool = False
    reason: str


@dataclass(kw_only=True)
class ModelCard(Piece):
    """A fitted risk model: what it adjusts for, how well it discriminates and calibrates, its terms."""

    tag = ("fitted", True)
    fitted: bool = True
    covariates: list[str]
    interactions: list[str]
    n_patients: str
    n_events: str
    observed_rate: str
    c_statistic: str
    hosmer_lemeshow: str
    n_excluded_missing: str
    n_excluded_missing_outcome: str
    missing_handling: list[Any]
    reference_levels: list[str]
    dropped_terms: list[Any]
    method: str
    coefficients: list[Coefficient]
    calibration: list[CalibrationGroup]
    calibration_figure: str | None


#: ``?download=calibration`` of the indicator page.
CALIBRATION_CSV: CsvSchema[CalibrationGroup] = columns(
    ("group", lambda g: g.decile),
    ("patients", lambda g: g.n),
    ("mean_predicted", lambda g: g.predicted),
    ("observed", lambda g: g.observed),
    ("expected_events", lambda g: g.expected_events),
    ("observed_events", lambda g: g.observed_events),
)
#: ``?download=coefficients`` of the indicator page.
COEFFICIENTS_CSV: CsvSchema[Coefficient] = columns(
    ("term", lambda c: c.term),
    ("odds_ratio", lambda c: c.odds_ratio),
    *interval_columns("odds_ratio_95", lambda c: c.ci),
    ("p", lambda c: c.p_value),
)


def build_card(context: RunContext, code: str) -> ModelCard | UnfittedCard | None:
    """The model card of a risk-adjusted indicator (None: not risk-adjusted)."""
    definition = context.definitions[code]
    card = context.cards.get(code)
    if definition.risk_model is None:  # not risk-adjusted
        return None
    if not card or model_failed(card):
        return UnfittedCard(reason=text.NOT_COMPUTED)
    calibration = card.get("calibration") or []
    hl = card.get("hosmer_lemeshow") or {}
    return ModelCard(
        covariates=[c["column"] for c in definition.risk_model["covariates"]],
        interactions=[" x ".join(pair) for pair in definition.risk_model.get("interactions") or []],
        n_patients=text.count(card.get("n_patients")),
        n_events=text.count(card.get("n_events")),
        observed_rate=text.percent(card.get("observed_rate")),
        c_statistic=_num(card.get("c_statistic"), 3),
        hosmer_lemeshow=(f"χ² = {_num(hl.get('chi2'), 2)} on {hl.get('df')} degrees of freedom, p = {_p(hl.get('p'))}")
        if hl
        else "",
        n_excluded_missing=text.count(card.get("n_excluded_missing", 0)),
        n_excluded_missing_outcome=text.count(card.get("n_excluded_missing_outcome", 0)),
        missing_handling=list((card.get("missing_handling") or {}).values()),
        reference_levels=[f"{k}: {v}" for k, v in (card.get("reference_levels") or {}).items()],
        dropped_terms=card.get("dropped_terms") or [],
        method=card.get("method", ""),
        coefficients=[
            Coefficient(
                term=c["term"],
                odds_ratio=_num(c.get("odds_ratio"), 3),
                ci=f"{_num(c.get('ci_lower'), 3)} to {_num(c.get('ci_upper'), 3)}",
                p_value=_p(c.get("p_value")),
            )
            for c in card.get("coefficients", [])
        ],
        calibration=[
            CalibrationGroup(
                decile=g.get("decile"),
                n=text.count(g.get("n")),
                predicted=text.percent(g.get("mean_predicted"), 2),
                observed=text.percent(g.get("observed_rate"), 2),
                expected_events=text.expected_count(g.get("expected_events")),
                observed_events=text.count(g.get("observed_events")),
            )
            for g in calibration
        ],
        calibration_figure=embed(figures.calibration_figure(calibration)) if calibration else None,
    )


def _num(value: Any, digits: int) -> str:
    number = finite_or_none(value)
    return "-" if number is None else f"{number:.{digits}f}"


def _p(value: Any) -> str:
    number = finite_or_none(value)
    if number is None:
        return "-"
    return "< 0.001" if number < 0.001 else f"{number:.3f}"
