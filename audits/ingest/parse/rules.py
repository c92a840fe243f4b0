"""The checks across a row's columns: the definition's rules, and dates after the extract date."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audits.ingest.columns.base import Message, blank_mask, true_mask
from audits.ingest.messages import bracketed
from audits.ingest.parse.report import Problem
from audits.schema import AuditDefinition, Rule


def check_rules(
    definition: AuditDefinition, typed: dict[str, pa.Array], raw: dict[str, pa.Array], extract_date: date
) -> list[Problem]:
    """A batch's problems (column, mask of the rows, message): each rule's, then each date after the extract date."""
    problems: list[Problem] = []
    for rule in definition.rules:
        mask, message = _check_rule(rule, typed, raw)
        problems.append((rule.column, mask, message))
    for column in definition.columns:
        if column.not_after_extract_date:
            late = np.asarray(pc.fill_null(pc.greater(typed[column.name], pa.scalar(extract_date)), False))
            problems.append((column.name, late, f"{column.name} is after the extract date {extract_date.isoformat()}"))
    return problems


def when_mask(when: tuple[tuple[str, tuple[Any, ...]], ...], typed: dict[str, pa.Array]) -> np.ndarray:
    """Rows meeting a ``when`` (every column holds one of its values), vectorised."""
    mask: np.ndarray | None = None
    for name, wanted in when:
        values = typed[name]
        hit = true_mask(pc.is_in(values, value_set=pa.array(list(wanted), type=values.type)))
        mask = hit if mask is None else mask & hit
    assert mask is not None
    return mask


def _condition(rule: Rule, typed: dict[str, pa.Array]) -> np.ndarray:
    assert rule.when, "parse_definition gives required_when and blank_unless rules a non-empty when"
    return when_mask(rule.when, typed)


def _check_rule(rule: Rule, typed: dict[str, pa.Array], raw: dict[str, pa.Array]) -> tuple[np.ndarray, Message]:
    target = typed[rule.column]
    present = np.asarray(target.is_valid(), bool)
    if rule.column in raw:  # an unparseable value is reported once, by its column check
        present |= ~blank_mask(raw[rule.column])
    if rule.type == "required_when":
        return _condition(rule, typed) & ~present, f"{rule.column} is required when {rule.describe_when()}"
    if rule.type == "blank_unless":
        return ~_condition(rule, typed) & np.asarray(target.is_valid(), bool), (
            f"{rule.column} must be blank unless {rule.describe_when()}"
        )
    assert rule.reference is not None, "parse_definition gives not_before rules a reference"
    before = true_mask(pc.less(target, typed[rule.reference]))
    return before, lambda value: f"{rule.column} {bracketed(value)} is before {rule.reference}"
