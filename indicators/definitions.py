"""Indicator definitions: parsed from an audit's definition file and checked against its extract.

Pure: no Django. The conditions of an indicator (numerator, denominator, exclusions) are written in
the condition language of ``indicators.conditions`` and parsed once, here, into its classes.

Parsing needs only the standard library: numpy and pandas are imported when a condition is
evaluated, so the start-up check of definitions (``indicators/checks.py``) stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any

from audits.schema import AuditDefinition, Column, DefinitionError, Fail, check_keys
from indicators.conditions import Condition, parse_condition
from indicators.conditions import evaluate as evaluate  # the one way to evaluate a condition, for compute and tests
from indicators.inequalities import parse_inequalities
from indicators.kinds import KINDS, Kind, default_kind
from indicators.reporting import Reporting, parse_reporting
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
    from indicators.stats.vocabulary import Direction

# The first of each is the default: "midp" (calibrated mid-p flags; for an O/E of a common outcome the
# engine uses "isp", Spiegelhalter's indirectly standardised proportion, see indicators.stats.analysis).
FUNNEL_METHODS = {"proportion": PROPORTION_METHODS, "ratio": RATIO_METHODS}

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
        "kind",
        "standard",
        "minimum_denominator",
        "funnel_method",
        "prompt",
        "recommendation",
        "review",
        "minimum_coverage",
        "requires",
        "plain",
        "reporting",
    }
)
REQUIRED_KEYS = ("title", "description", "numerator", "denominator", "direction")
PERIOD_KEYS = frozenset({"column"})
STANDARD_KEYS = frozenset({"value", "label"})
REVIEW_KEYS = frozenset({"status", "note", "source", "authored_by", "checked_by", "date_reviewed"})
# A review's status: "unverified" when the definition could not be checked against the audit's own methodology
# (its note says what is unchecked; the indicator's page shows it); without a status, nothing is claimed.
REVIEW_STATUSES = ("verified", "unverified")
REQUIRES_KEYS = frozenset({"column", "minimum_completeness"})
# A period (e.g. the current audit year, whose follow-up is not yet complete) gets funnel flags only
# when at least this share of its days is covered, unless the indicator sets minimum_coverage.
DEFAULT_MINIMUM_COVERAGE = 0.75


@dataclass(frozen=True)
class Conditions:
    """An indicator's conditions, parsed: who counts, who is eligible, who is left out."""

    numerator: Condition
    denominator: Condition
    exclusions: tuple[Condition, ...]

    def columns(self) -> set[str]:
        """The extract columns the conditions read."""
        conditions = (self.numerator, self.denominator, *self.exclusions)
        return {name for condition in conditions for name in condition.columns()}


@dataclass(frozen=True)
class IndicatorDefinition:
    """An indicator as its definition file states it (``numerator``, ``denominator`` and ``exclusions``
    as written, for the API and the run's record) with its ``conditions`` parsed once."""

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
    declared_kind: str | None = None  # the entry's kind:, checked against indicators.kinds when parsed
    standard: dict[str, Any] | None = None
    minimum_denominator: int = 1
    minimum_coverage: float = DEFAULT_MINIMUM_COVERAGE
    requires: dict[str, Any] | None = None  # {column, minimum_completeness}: a field the indicator depends on
    funnel_method: str = "midp"
    prompt: str = ""
    recommendation: str = ""
    review: dict[str, Any] = field(default_factory=dict)
    plain: str = ""  # what it measures in words a nine-year-old can read (the page for patients); "" when unset
    #: Its headline period's pooled audit years and the level its funnel flags are decided at (indicators.reporting):
    #: the audit's ``reporting:``, with the indicator's own keys on top.
    reporting: Reporting = field(default_factory=Reporting)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    parsed: InitVar[Conditions | None] = None  # handed over by parse_indicators, which checked them
    conditions: Conditions = field(init=False, compare=False, repr=False)

    def __post_init__(self, parsed: Conditions | None) -> None:
        """Keep the conditions ``parse_indicators`` parsed and checked; parse those of a definition built in code."""
        if parsed is None:
            parsed = Conditions(
                parse_condition(self.numerator, path="numerator"),
                parse_condition(self.denominator, path="denominator"),
                tuple(parse_condition(c, path=f"exclusions[{n}]") for n, c in enumerate(self.exclusions, start=1)),
            )
        object.__setattr__(self, "conditions", parsed)

    @property
    def under_review(self) -> bool:
        """Its definition could not be checked against the audit's methodology (``review.status: unverified``)."""
        return self.review.get("status") == "unverified"

    @property
    def review_note(self) -> str:
        """What is unchecked in the definition (``review.note``), or ""."""
        return str(self.review.get("note") or "")

    @property
    def risk_adjusted(self) -> bool:
        return self.risk_model is not None

    @property
    def kind(self) -> str:
        """The name of its kind (indicators.kinds.KINDS): as declared, else as its risk model implies."""
        return self.declared_kind or default_kind(self.risk_model)

    @property
    def improvement_direction(self) -> str:
        return {"higher_is_better": "increase", "lower_is_better": "decrease"}.get(self.direction, "neutral")


def parse_indicators(audit: AuditDefinition) -> list[IndicatorDefinition]:
    """The audit's indicators, checked against its extract columns."""
    columns = {c.name: c for c in audit.columns}
    audit_reporting = parse_reporting(audit.raw.get("reporting"), _failing(audit.source, "reporting"), "")
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
        numerator = _condition(raw["numerator"], columns, fail, "numerator")
        denominator = _condition(raw["denominator"], columns, fail, "denominator")
        if not isinstance(raw.get("exclusions") or [], list):
            raise fail("exclusions must be a list of conditions")
        exclusions = tuple(raw.get("exclusions") or ())
        excluded = tuple(_condition(c, columns, fail, f"exclusions[{n}]") for n, c in enumerate(exclusions, start=1))
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
        family = _check_kind(raw.get("kind"), risk, fail).funnel
        method = raw.get("funnel_method", FUNNEL_METHODS[family][0])
        if method not in FUNNEL_METHODS[family]:
            raise fail(f"funnel_method for a {family} must be one of {', '.join(FUNNEL_METHODS[family])}")
        standard = raw.get("standard")
        if isinstance(standard, dict):
            check_keys(standard, STANDARD_KEYS, fail, "standard")
        if standard is not None and not (isinstance(standard, dict) and isinstance(standard.get("value"), int | float)):
            raise fail("standard must be a mapping with a numeric value (a proportion, e.g. 0.8)")
        review = raw.get("review") or {}
        if not isinstance(review, dict):
            raise fail(f"review must be a mapping of {', '.join(sorted(REVIEW_KEYS))}")
        check_keys(review, REVIEW_KEYS, fail, "review")
        _check_review(review, fail)
        minimum = raw.get("minimum_denominator", 1)
        if not isinstance(minimum, int) or minimum < 1:
            raise fail("minimum_denominator must be a whole number of at least 1")
        coverage = raw.get("minimum_coverage", DEFAULT_MINIMUM_COVERAGE)
        if isinstance(coverage, bool) or not isinstance(coverage, int | float) or not 0 < coverage <= 1:
            raise fail("minimum_coverage must be a share of the period above 0 and at most 1, e.g. 0.75")
        requires = raw.get("requires")
        if requires is not None:
            _check_requires(requires, columns, fail)
        plain = raw.get("plain", "")
        if not isinstance(plain, str):
            raise fail("plain must be text: what the indicator measures, in plain words", key="plain")
        reporting = parse_reporting(raw.get("reporting"), fail, "reporting", audit_reporting)
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
                declared_kind=raw.get("kind"),
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
                plain=plain.strip(),
                reporting=reporting,
                raw=raw,
                parsed=Conditions(numerator, denominator, excluded),
            )
        )
    parse_inequalities(audit)  # the breakdowns every indicator is computed by, checked with them
    return found


def _failing(file: str, indicator: str) -> Fail:
    """Errors of one indicator; their ``entry`` says where in it, e.g. "indicator x, denominator.all[2]"."""

    def fail(problem: str, entry: str = "", key: str | None = None) -> DefinitionError:
        return DefinitionError(problem, file=file, entry=f"{indicator}, {entry}" if entry else indicator, key=key)

    return fail


def _condition(spec: Any, columns: Mapping[str, Column], fail: Fail, path: str) -> Condition:
    """Parse a condition of the indicator and check it against the extract's ``columns``; ``path``
    names it within the indicator (e.g. "denominator")."""
    condition = parse_condition(spec, fail, path)
    condition.check(columns, fail)
    return condition


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


def _check_review(review: dict[str, Any], fail: Fail) -> None:
    """``review: {status: verified|unverified, note: ...}``: an unverified definition says what is unchecked."""
    status = review.get("status")
    if status is not None and status not in REVIEW_STATUSES:
        raise fail(f"status must be one of {', '.join(REVIEW_STATUSES)}", "review")
    note = review.get("note")
    if note is not None and (not isinstance(note, str) or not note.strip()):
        raise fail("note must be text saying what was or was not checked", "review")
    if status == "unverified" and note is None:
        raise fail("an unverified definition needs a note saying what is unchecked", "review")


def _check_kind(declared: Any, risk: Any, fail: Fail) -> Kind:
    """The entry's kind (indicators/kinds), declared or implied by its risk model, which it must agree with."""
    name = default_kind(risk) if declared is None else declared
    if not isinstance(name, str) or name not in KINDS:
        raise fail(f"kind must be one of {', '.join(KINDS)}", "", "kind")
    kind = KINDS[name]
    if kind.risk_adjusted and risk is None:
        raise fail(f"kind {name} needs a risk_model", "", "kind")
    if not kind.risk_adjusted and risk is not None:
        raise fail(f"kind {name} takes no risk_model (an indicator with one is a {default_kind(risk)})", "", "kind")
    return kind


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


def columns_used(indicator: IndicatorDefinition, audit: AuditDefinition) -> list[str]:
    """The extract columns an indicator reads, so a job loads only those."""
    names = {audit.provider, indicator.period_column, *indicator.conditions.columns()}
    if indicator.requires is not None:
        names.add(indicator.requires["column"])
    names.update(covariate["column"] for covariate in (indicator.risk_model or {}).get("covariates", []))
    names.update(dimension.column for dimension in parse_inequalities(audit))
    return [c.name for c in audit.columns if c.name in names]
