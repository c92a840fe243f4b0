"""Indicator definitions: parsed from an audit's definition file, and their conditions evaluated.

Pure: no Django. A condition is a small declarative expression over extract columns:

    {column: stage, in: ["1", "2"]}          {column: age, at_least: 18}
    {column: major_resection, equals: true}  {column: performance_status, present: true}
    {event_within: {event: death_date, start: surgery_date, days: 90}}
    {followed_up: {start: diagnosis_date, days: 730}}   # start + days on or before the extract date
    {all: [...]}   {any: [...]}   {not: {...}}

A missing value satisfies no comparison (only ``present: false``).

Parsing needs only the standard library: numpy and pandas are imported by ``evaluate`` when a
condition is evaluated, so the start-up check of definitions (``indicators/checks.py``) stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from audits.schema import AuditDefinition, Column, DefinitionError, Fail, check_keys
from indicators.stats.risk_spec import (
    COVARIATE_KEYS,
    COVARIATE_TYPES,
    DEFAULT_MINIMUM_COMPLETENESS,
    MISSING_HANDLING,
    RISK_MODEL_KEYS,
    TRANSFORMS,
    WITHDRAWN_MISSING,
)
from indicators.stats.vocabulary import DIRECTIONS, PROPORTION_METHODS, RATIO_METHODS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from indicators.stats.vocabulary import Direction

# The first of each is the default: "midp" (calibrated mid-p flags; for an O/E of a common outcome the
# engine uses "isp", Spiegelhalter's indirectly standardised proportion, see indicators.stats.analysis).
FUNNEL_METHODS = {"proportion": PROPORTION_METHODS, "ratio": RATIO_METHODS}
COMPARISONS = ("equals", "in", "not_in", "present", "at_least", "at_most")

# The keys of an indicator entry, and of its small mappings.
INDICATOR_KEYS = frozenset(
    {
        "code",
        "title",
        "description",
        "numerator",
        "denominator",
        "exclusions",
        "direction",
        "period",
        "numerator_text",
        "denominator_text",
        "risk_model",
        "standard",
        "minimum_denominator",
        "funnel_method",
        "prompt",
        "recommendation",
        "review",
        "minimum_coverage",
        "requires",
    }
)
REQUIRED_KEYS = ("title", "description", "numerator", "denominator", "direction")
PERIOD_KEYS = frozenset({"column"})
STANDARD_KEYS = frozenset({"value", "label"})
REVIEW_KEYS = frozenset({"source", "authored_by", "checked_by", "date_reviewed"})
REQUIRES_KEYS = frozenset({"column", "minimum_completeness"})
# A period (e.g. the current audit year, whose follow-up is not yet complete) gets funnel flags only
# when at least this share of its days is covered, unless the indicator sets minimum_coverage.
DEFAULT_MINIMUM_COVERAGE = 0.75

# The condition language. A condition is one of these forms: a combinator (all, any, not), a
# time test ({event_within: {...}}, {followed_up: {...}}) or {column: C, <one comparison>: V}.
COMBINATORS = ("all", "any", "not")
TIME_TEST_KEYS = {"event_within": frozenset({"event", "start", "days"}), "followed_up": frozenset({"start", "days"})}
CONDITION_FORMS = (*COMBINATORS, *TIME_TEST_KEYS, "column")
CONDITION_KEYS = frozenset({*CONDITION_FORMS, *COMPARISONS})


@dataclass(frozen=True)
class IndicatorDefinition:
    code: str
    title: str
    description: str
    numerator: dict[str, Any]
    denominator: dict[str, Any]
    exclusions: tuple[dict[str, Any], ...]
    direction: Direction  # checked against DIRECTIONS when parsed
    period_column: str
    numerator_text: str
    denominator_text: str
    risk_model: dict[str, Any] | None = None
    standard: dict[str, Any] | None = None
    minimum_denominator: int = 1
    minimum_coverage: float = DEFAULT_MINIMUM_COVERAGE
    requires: dict[str, Any] | None = None  # {column, minimum_completeness}: a field the indicator depends on
    funnel_method: str = "midp"
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
        fail = _failing(audit.source, f"indicator {raw.get('code', index) if isinstance(raw, dict) else index}")
        if not isinstance(raw, dict):
            raise fail("must be a mapping")
        check_keys(raw, INDICATOR_KEYS, fail, "")
        code = raw.get("code")
        if not isinstance(code, str) or not code.replace("_", "").isalnum() or code in seen:
            raise fail("needs a unique 'code' of letters, digits and _")
        seen.add(code)
        for key in REQUIRED_KEYS:
            if key not in raw:
                raise fail(f"'{key}' is required")
        if raw["direction"] not in DIRECTIONS:
            raise fail(f"direction must be one of {', '.join(DIRECTIONS)}")
        for key in ("numerator", "denominator"):
            _check_condition(raw[key], columns, fail, key)
        if not isinstance(raw.get("exclusions") or [], list):
            raise fail("exclusions must be a list of conditions")
        exclusions = tuple(raw.get("exclusions") or ())
        for number, condition in enumerate(exclusions, start=1):
            _check_condition(condition, columns, fail, f"exclusions[{number}]")
        period = audit.diagnosis_date
        if "period" in raw:
            if not isinstance(raw["period"], dict):
                raise fail("period must be a mapping such as {column: surgery_date}")
            check_keys(raw["period"], PERIOD_KEYS, fail, "period")
            period = raw["period"].get("column", audit.diagnosis_date)
        if period not in columns or columns[period].type != "date":
            raise fail(f"period column {period!r} must be a date column")
        risk = raw.get("risk_model")
        if risk is not None:
            _check_risk_model(risk, columns, fail)
        kind = "ratio" if risk is not None else "proportion"
        method = raw.get("funnel_method", FUNNEL_METHODS[kind][0])
        if method not in FUNNEL_METHODS[kind]:
            raise fail(f"funnel_method for a {kind} must be one of {', '.join(FUNNEL_METHODS[kind])}")
        standard = raw.get("standard")
        if isinstance(standard, dict):
            check_keys(standard, STANDARD_KEYS, fail, "standard")
        if standard is not None and not (isinstance(standard, dict) and isinstance(standard.get("value"), int | float)):
            raise fail("standard must be a mapping with a numeric value (a proportion, e.g. 0.8)")
        review = raw.get("review") or {}
        if not isinstance(review, dict):
            raise fail(f"review must be a mapping of {', '.join(sorted(REVIEW_KEYS))}")
        check_keys(review, REVIEW_KEYS, fail, "review")
        minimum = raw.get("minimum_denominator", 1)
        if not isinstance(minimum, int) or minimum < 1:
            raise fail("minimum_denominator must be a whole number of at least 1")
        coverage = raw.get("minimum_coverage", DEFAULT_MINIMUM_COVERAGE)
        if isinstance(coverage, bool) or not isinstance(coverage, int | float) or not 0 < coverage <= 1:
            raise fail("minimum_coverage must be a share of the period above 0 and at most 1, e.g. 0.75")
        requires = raw.get("requires")
        if requires is not None:
            _check_requires(requires, columns, fail)
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
                minimum_coverage=float(coverage),
                # An unknown code of the field (e.g. stage U) counts as not recorded, as in the data-quality report.
                requires=None
                if requires is None
                else {**requires, "unknown_codes": list(columns[requires["column"]].unknown_codes)},
                funnel_method=method,
                prompt=str(raw.get("prompt", "")),
                recommendation=str(raw.get("recommendation", "")),
                review=dict(review),
                raw=raw,
            )
        )
    return found


def _failing(file: str, indicator: str) -> Fail:
    """Errors of one indicator; their ``entry`` says where in it, e.g. "indicator x, denominator.all[2]"."""

    def fail(problem: str, entry: str = "", key: str | None = None) -> DefinitionError:
        return DefinitionError(problem, file=file, entry=f"{indicator}, {entry}" if entry else indicator, key=key)

    return fail


def _check_condition(condition: Any, columns: Mapping[str, Column], fail: Fail, path: str) -> None:
    """Refuse a malformed condition; ``path`` names it within the indicator (e.g. "denominator.all[2]")."""
    if not isinstance(condition, dict) or len(condition) == 0:
        raise fail(f"a condition must be a mapping, not {condition!r}", path)
    check_keys(condition, CONDITION_KEYS, fail, path)
    forms = [key for key in condition if key in CONDITION_FORMS]
    if not forms:
        raise fail(f"a condition needs one of {', '.join(CONDITION_FORMS)}", path)
    form = forms[0]
    for key in condition:
        if key != form and not (form == "column" and key in COMPARISONS):
            raise fail(f"'{key}' does not go with '{form}'", path, key)
    if form in ("all", "any"):
        parts = condition[form]
        if not isinstance(parts, list) or not parts:
            raise fail(f"'{form}' takes a non-empty list of conditions", path)
        for number, part in enumerate(parts, start=1):
            _check_condition(part, columns, fail, f"{path}.{form}[{number}]")
        return
    if form == "not":
        _check_condition(condition["not"], columns, fail, f"{path}.not")
        return
    if form in TIME_TEST_KEYS:
        spec = condition[form]
        where = f"{path}.{form}"
        if not isinstance(spec, dict):
            raise fail(f"{form} must be a mapping of {', '.join(sorted(TIME_TEST_KEYS[form]))}", path)
        check_keys(spec, TIME_TEST_KEYS[form], fail, where)
        for name in ("event", "start") if form == "event_within" else ("start",):
            if spec.get(name) not in columns or columns[spec[name]].type != "date":
                raise fail(f"{form}.{name} must name a date column", where)
        if not isinstance(spec.get("days"), int) or spec["days"] < 0:
            raise fail(f"{form}.days must be a whole number of days", where)
        return
    name = condition["column"]
    if name not in columns:
        raise fail(f"condition column {name!r} is not in the extract", path)
    tests = [k for k in condition if k != "column"]
    if len(tests) != 1:
        raise fail(f"a condition on {name} needs exactly one of {', '.join(COMPARISONS)}", path)
    column = columns[name]
    value = condition[tests[0]]
    values = value if isinstance(value, list) else [value]
    if column.type == "code" and tests[0] in ("equals", "in", "not_in"):
        unknown = [v for v in values if str(v) not in column.codes]
        if unknown:
            raise fail(f"{unknown} are not codes of {name} ({', '.join(column.codes)})", path)


def _check_requires(requires: Any, columns: Mapping[str, Column], fail: Fail) -> None:
    """``requires: {column: readmitted_30d, minimum_completeness: 0.8}``: a field the numerator or
    denominator depends on; a trust whose patients have it recorded less often is refused."""
    if not isinstance(requires, dict):
        raise fail("requires must be a mapping such as {column: readmitted_30d, minimum_completeness: 0.8}")
    check_keys(requires, REQUIRES_KEYS, fail, "requires")
    if requires.get("column") not in columns:
        raise fail(f"requires column {requires.get('column')!r} is not in the extract", "requires")
    share = requires.get("minimum_completeness")
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise fail("minimum_completeness must be a share from 0 to 1, e.g. 0.8", "requires")


def _check_risk_model(risk: Any, columns: Mapping[str, Column], fail: Fail) -> None:
    """Refuse a risk model the model-fitting code would refuse (or misread) later."""
    if isinstance(risk, dict):
        check_keys(risk, RISK_MODEL_KEYS, fail, "risk_model")
    if not isinstance(risk, dict) or not isinstance(risk.get("covariates"), list) or not risk["covariates"]:
        raise fail("risk_model needs a list of covariates")
    names: set[str] = set()
    for number, covariate in enumerate(risk["covariates"], start=1):
        if not isinstance(covariate, dict):
            raise fail(f"covariate {number} must be a mapping such as {{column: age, type: numeric}}", "risk_model")
        column = covariate.get("column")
        where = f"risk_model covariate {column if isinstance(column, str) else number}"
        check_keys(covariate, COVARIATE_KEYS, fail, where)
        if column not in columns:
            raise fail(f"covariate {column!r} is not in the extract", "risk_model")
        kind = covariate.get("type")
        if kind not in COVARIATE_TYPES:
            raise fail(f"type must be one of {', '.join(COVARIATE_TYPES)}", where)
        if column in names:
            raise fail("the covariate is listed twice", where)
        names.add(str(column))
        missing = covariate.get("missing", MISSING_HANDLING[0])
        if isinstance(missing, str) and missing in WITHDRAWN_MISSING:
            raise fail(WITHDRAWN_MISSING[missing], where)
        if missing not in MISSING_HANDLING:
            raise fail(f"missing must be one of {', '.join(MISSING_HANDLING)}", where)
        transform = covariate.get("transform")
        if transform is not None and (transform not in TRANSFORMS or kind != "numeric"):
            raise fail(f"only numeric covariates take transform {', '.join(map(repr, TRANSFORMS))}", where)
        if "reference" in covariate and kind != "categorical":
            raise fail("only categorical covariates take a reference", where)
    interactions = risk.get("interactions") or []
    if not isinstance(interactions, list):
        raise fail("interactions must be a list of pairs of covariates", "risk_model")
    for pair in interactions:
        if not isinstance(pair, list) or len(pair) != 2 or not set(pair) <= names:
            raise fail(f"interaction {pair} must pair two of its covariates", "risk_model")
    minimum = risk.get("minimum_completeness", DEFAULT_MINIMUM_COMPLETENESS)
    if isinstance(minimum, bool) or not isinstance(minimum, int | float) or not 0 <= minimum <= 1:
        raise fail("minimum_completeness must be a share between 0 and 1, e.g. 0.8", "risk_model")


def evaluate(condition: dict[str, Any], frame: pd.DataFrame, extract_date: date) -> np.ndarray:
    """Boolean mask of the rows meeting ``condition`` (vectorised)."""
    import numpy as np
    import pandas as pd

    if "all" in condition:  # an empty "all" (only ever built in code, e.g. compute._ignoring) is everyone
        return np.logical_and.reduce(
            [np.ones(len(frame), dtype=bool)] + [evaluate(c, frame, extract_date) for c in condition["all"]]
        )
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
    import pandas as pd

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

    walk([indicator.numerator, indicator.denominator, list(indicator.exclusions), indicator.requires])
    for covariate in (indicator.risk_model or {}).get("covariates", []):
        names.add(covariate["column"])
    return [c.name for c in audit.columns if c.name in names]
