"""Indicator definitions: parsed from an audit's definition file, and their conditions evaluated.

Pure: no Django. A condition is a small declarative expression over extract columns:

    {column: stage, in: ["1", "2"]}          {column: age, at_least: 18}
    {column: major_resection, equals: true}  {column: performance_status, present: true}
    {event_within: {event: death_date, start: surgery_date, days: 90}}
    {followed_up: {start: diagnosis_date, days: 730}}   # start + days on or before the extract date
    {all: [...]}   {any: [...]}   {not: {...}}

A missing value satisfies no comparison (only ``present: false``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from audits.schema import AuditDefinition, DefinitionError

DIRECTIONS = ("higher_is_better", "lower_is_better", "no_judgement")
COVARIATE_TYPES = ("numeric", "categorical", "boolean")
FUNNEL_METHODS = {"proportion": ("exact", "wilson", "normal", "arcsine"), "ratio": ("exact", "shmi")}
COMPARISONS = ("equals", "in", "not_in", "present", "at_least", "at_most")


@dataclass(frozen=True)
class IndicatorDefinition:
    code: str
    title: str
    description: str
    numerator: dict[str, Any]
    denominator: dict[str, Any]
    exclusions: tuple[dict[str, Any], ...]
    direction: str
    period_column: str
    numerator_text: str
    denominator_text: str
    risk_model: dict[str, Any] | None = None
    standard: dict[str, Any] | None = None
    minimum_denominator: int = 1
    funnel_method: str = "exact"
    prompt: str = ""
    recommendation: str = ""
    review: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def risk_adjusted(self) -> bool:
        return self.risk_model is not None

    @property
    def kind(self) -> str:
        return "ratio" if self.risk_adjusted else "proportion"

    @property
    def improvement_direction(self) -> str:
        return {"higher_is_better": "increase", "lower_is_better": "decrease"}.get(self.direction, "neutral")


def parse_indicators(audit: AuditDefinition) -> list[IndicatorDefinition]:
    """The audit's indicators, checked against its extract columns."""
    columns = {c.name: c for c in audit.columns}
    found: list[IndicatorDefinition] = []
    seen: set[str] = set()
    for index, raw in enumerate(audit.indicators, start=1):
        where = f"{audit.source}: indicator {raw.get('code', index) if isinstance(raw, dict) else index}"

        def fail(message: str, where: str = where) -> DefinitionError:
            return DefinitionError(f"{where}: {message}")

        if not isinstance(raw, dict):
            raise fail("must be a mapping")
        code = raw.get("code")
        if not isinstance(code, str) or not code.replace("_", "").isalnum() or code in seen:
            raise fail("needs a unique 'code' of letters, digits and _")
        seen.add(code)
        for key in ("title", "description", "numerator", "denominator", "direction"):
            if key not in raw:
                raise fail(f"'{key}' is required")
        if raw["direction"] not in DIRECTIONS:
            raise fail(f"direction must be one of {', '.join(DIRECTIONS)}")
        for key in ("numerator", "denominator"):
            _check_condition(raw[key], columns, fail)
        exclusions = tuple(raw.get("exclusions") or ())
        for condition in exclusions:
            _check_condition(condition, columns, fail)
        period = (
            raw.get("period", {}).get("column", audit.diagnosis_date)
            if isinstance(raw.get("period"), dict)
            else audit.diagnosis_date
        )
        if period not in columns or columns[period].type != "date":
            raise fail(f"period column {period!r} must be a date column")
        risk = raw.get("risk_model")
        if risk is not None:
            _check_risk_model(risk, columns, fail)
        kind = "ratio" if risk is not None else "proportion"
        method = raw.get("funnel_method", "exact")
        if method not in FUNNEL_METHODS[kind]:
            raise fail(f"funnel_method for a {kind} must be one of {', '.join(FUNNEL_METHODS[kind])}")
        standard = raw.get("standard")
        if standard is not None and not (isinstance(standard, dict) and isinstance(standard.get("value"), int | float)):
            raise fail("standard must be a mapping with a numeric value (a proportion, e.g. 0.8)")
        minimum = raw.get("minimum_denominator", 1)
        if not isinstance(minimum, int) or minimum < 1:
            raise fail("minimum_denominator must be a whole number of at least 1")
        found.append(
            IndicatorDefinition(
                code=code,
                title=str(raw["title"]),
                description=str(raw["description"]),
                numerator=raw["numerator"],
                denominator=raw["denominator"],
                exclusions=exclusions,
                direction=raw["direction"],
                period_column=period,
                numerator_text=str(raw.get("numerator_text", "")),
                denominator_text=str(raw.get("denominator_text", "")),
                risk_model=risk,
                standard=standard,
                minimum_denominator=minimum,
                funnel_method=method,
                prompt=str(raw.get("prompt", "")),
                recommendation=str(raw.get("recommendation", "")),
                review=dict(raw.get("review") or {}),
                raw=raw,
            )
        )
    return found


def _check_condition(condition: Any, columns, fail) -> None:
    if not isinstance(condition, dict) or len(condition) == 0:
        raise fail(f"a condition must be a mapping, not {condition!r}")
    if "all" in condition or "any" in condition:
        key = "all" if "all" in condition else "any"
        if len(condition) != 1 or not isinstance(condition[key], list) or not condition[key]:
            raise fail(f"'{key}' takes a non-empty list of conditions")
        for part in condition[key]:
            _check_condition(part, columns, fail)
        return
    if "not" in condition:
        _check_condition(condition["not"], columns, fail)
        return
    if "event_within" in condition or "followed_up" in condition:
        key = "event_within" if "event_within" in condition else "followed_up"
        spec = condition[key]
        names = ("event", "start") if key == "event_within" else ("start",)
        for name in names:
            if spec.get(name) not in columns or columns[spec[name]].type != "date":
                raise fail(f"{key}.{name} must name a date column")
        if not isinstance(spec.get("days"), int) or spec["days"] < 0:
            raise fail(f"{key}.days must be a whole number of days")
        return
    name = condition.get("column")
    if name not in columns:
        raise fail(f"condition column {name!r} is not in the extract")
    tests = [k for k in condition if k != "column"]
    if len(tests) != 1 or tests[0] not in COMPARISONS:
        raise fail(f"a condition on {name} needs exactly one of {', '.join(COMPARISONS)}")
    column = columns[name]
    value = condition[tests[0]]
    values = value if isinstance(value, list) else [value]
    if column.type == "code" and tests[0] in ("equals", "in", "not_in"):
        unknown = [v for v in values if str(v) not in column.codes]
        if unknown:
            raise fail(f"{unknown} are not codes of {name} ({', '.join(column.codes)})")


def _check_risk_model(risk: Any, columns, fail) -> None:
    if not isinstance(risk, dict) or not isinstance(risk.get("covariates"), list) or not risk["covariates"]:
        raise fail("risk_model needs a list of covariates")
    for covariate in risk["covariates"]:
        if covariate.get("column") not in columns:
            raise fail(f"risk_model covariate {covariate.get('column')!r} is not in the extract")
        if covariate.get("type") not in COVARIATE_TYPES:
            raise fail(f"risk_model covariate {covariate['column']}: type must be one of {', '.join(COVARIATE_TYPES)}")
    names = {c["column"] for c in risk["covariates"]}
    for pair in risk.get("interactions") or []:
        if len(pair) != 2 or not set(pair) <= names:
            raise fail(f"risk_model interaction {pair} must pair two of its covariates")


def evaluate(condition: dict[str, Any], frame: pd.DataFrame, extract_date: date) -> np.ndarray:
    """Boolean mask of the rows meeting ``condition`` (vectorised)."""
    if "all" in condition:
        return np.logical_and.reduce([evaluate(c, frame, extract_date) for c in condition["all"]])
    if "any" in condition:
        return np.logical_or.reduce([evaluate(c, frame, extract_date) for c in condition["any"]])
    if "not" in condition:
        return ~evaluate(condition["not"], frame, extract_date)
    if "event_within" in condition:
        spec = condition["event_within"]
        gap = (frame[spec["event"]] - frame[spec["start"]]).dt.days
        return ((gap >= 0) & (gap <= spec["days"])).fillna(False).to_numpy(dtype=bool)
    if "followed_up" in condition:
        spec = condition["followed_up"]
        end = pd.Timestamp(extract_date) - pd.Timedelta(days=spec["days"])
        return (frame[spec["start"]] <= end).fillna(False).to_numpy(dtype=bool)
    series = frame[condition["column"]]
    present = series.notna().to_numpy(dtype=bool)
    if "present" in condition:
        return present if condition["present"] else ~present
    if "equals" in condition:
        hit = series == _like(series, condition["equals"])
    elif "in" in condition:
        hit = series.isin([_like(series, v) for v in condition["in"]])
    elif "not_in" in condition:
        hit = ~series.isin([_like(series, v) for v in condition["not_in"]])
    elif "at_least" in condition:
        hit = series >= condition["at_least"]
    else:
        hit = series <= condition["at_most"]
    return pd.Series(hit).fillna(False).to_numpy(dtype=bool) & present


def _like(series: pd.Series, value: Any) -> Any:
    """Compare codes as text (YAML reads 1 as a number, the extract stores "1")."""
    if isinstance(value, bool) or not (pd.api.types.is_string_dtype(series) or series.dtype == object):
        return value
    return str(value)


def columns_used(indicator: IndicatorDefinition, audit: AuditDefinition) -> list[str]:
    """The extract columns an indicator reads, so a job loads only those."""
    names: set[str] = {audit.provider, indicator.period_column}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("column", "event", "start") and isinstance(value, str):
                    names.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk([indicator.numerator, indicator.denominator, list(indicator.exclusions)])
    for covariate in (indicator.risk_model or {}).get("covariates", []):
        names.add(covariate["column"])
    return [c.name for c in audit.columns if c.name in names]
