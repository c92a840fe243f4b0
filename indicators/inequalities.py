"""An audit's inequality breakdowns: which extract column holds each dimension, and its groups (pure: stdlib).

Declared under ``inequalities:`` at the top level of the audit's definition file (README, "Inequalities")::

    inequalities:
      deprivation:                  # ordered groups, most deprived first: the SII and the gap are computed
        column: imd_quintile
        groups: [1, 2, 3, 4, 5]     # values of the column, most to least deprived (5 to 100 of them, as PHE)
        labels: {1: "1 (most deprived)", 5: "5 (least deprived)"}   # optional
      age:
        column: age                 # an integer column
        bands: [0, 50, 60, 70, 80]  # lower bounds: under 50, 50-59, 60-69, 70-79, 80 and over
      sex:
        column: sex                 # a code column: its codes, in order, are the groups
        labels: {M: Male, F: Female}
      ethnicity:
        column: ethnic_group

Every dimension is optional; an audit without the key has no breakdowns. A patient whose value is blank (or an
unknown code) is counted in a "Not known" group, so the groups of a dimension add up to the published total.

Errors are ``audits.schema.DefinitionError`` naming the file, the entry and the key; ``indicators/checks.py``
runs ``parse_inequalities`` at start-up and in ``check_definition``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audits.schema import AuditDefinition, DefinitionError, Fail, check_keys

#: The dimensions, in the order the pages show them.
DIMENSIONS = ("deprivation", "age", "sex", "ethnicity")
#: The dimension whose groups are ordered by deprivation: it gets the SII and the most-vs-least gap.
ORDERED = "deprivation"
DIMENSION_KEYS = {
    "deprivation": frozenset({"column", "groups", "labels"}),
    "age": frozenset({"column", "bands"}),
    "sex": frozenset({"column", "labels"}),
    "ethnicity": frozenset({"column", "labels"}),
}
NOT_KNOWN = "Not known"
#: PHE's phe_sii takes 5 to 100 quantiles.
FEWEST_ORDERED_GROUPS, MOST_ORDERED_GROUPS = 5, 100


@dataclass(frozen=True)
class Dimension:
    """One breakdown: the column, and its groups as (value, label) in order. For ``age`` the values are
    the bands' lower bounds."""

    name: str
    column: str
    groups: tuple[tuple[Any, str], ...]
    banded: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for _, label in self.groups)


def _failing(file: str) -> Fail:
    def fail(problem: str, entry: str = "", key: str | None = None) -> DefinitionError:
        return DefinitionError(problem, file=file, entry=f"inequalities, {entry}" if entry else "inequalities", key=key)

    return fail


def parse_inequalities(definition: AuditDefinition) -> tuple[Dimension, ...]:
    """The audit's breakdowns, checked against its extract's columns, in ``DIMENSIONS`` order."""
    fail = _failing(definition.source or definition.code)
    raw = definition.raw.get("inequalities")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise fail("must be a mapping of dimension to its column (README, 'Inequalities')")
    check_keys(raw, DIMENSIONS, fail, "")
    columns = {column.name: column for column in definition.columns}
    dimensions = []
    for name in DIMENSIONS:
        if name not in raw:
            continue
        entry = raw[name]
        if not isinstance(entry, dict):
            raise fail("must be a mapping with a column", name)
        check_keys(entry, DIMENSION_KEYS[name], fail, name)
        column = columns.get(entry.get("column"))  # type: ignore[arg-type]
        if column is None:
            raise fail("column must name one of the extract's columns", name, "column")
        labels = entry.get("labels") or {}
        if not isinstance(labels, dict):
            raise fail("labels must be a mapping of group to its label", name, "labels")
        labels = {str(key): str(value) for key, value in labels.items()}
        if name == "age":
            dimensions.append(_age(entry, column, fail))
            continue
        if name == ORDERED:
            values = entry.get("groups")
            if not isinstance(values, list) or not FEWEST_ORDERED_GROUPS <= len(values) <= MOST_ORDERED_GROUPS:
                raise fail(
                    f"groups must list {FEWEST_ORDERED_GROUPS} to {MOST_ORDERED_GROUPS} values of the column, "
                    "most deprived first",
                    name,
                    "groups",
                )
            if column.type == "integer" and not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                raise fail(f"groups must be whole numbers: {column.name} is an integer column", name, "groups")
        else:
            if column.type != "code":
                raise fail(f"column {column.name} must be a code column (its codes are the groups)", name, "column")
            values = [code for code in column.codes if code not in column.unknown_codes]
        if len({str(v) for v in values}) != len(values):
            raise fail("groups must not repeat", name, "groups")
        unknown = sorted(set(labels) - {str(v) for v in values})
        if unknown:
            raise fail(f"labels name groups that are not among its groups: {', '.join(unknown)}", name, "labels")
        groups = tuple((value, labels.get(str(value), str(value))) for value in values)
        dimensions.append(Dimension(name, column.name, groups))
    return tuple(dimensions)


def _age(entry: dict[str, Any], column: Any, fail: Fail) -> Dimension:
    if column.type != "integer":
        raise fail(f"column {column.name} must be an integer column", "age", "column")
    bands = entry.get("bands")
    if (
        not isinstance(bands, list)
        or len(bands) < 2
        or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in bands)
        or any(later <= earlier for earlier, later in zip(bands, bands[1:], strict=False))
    ):
        raise fail("bands must list two or more increasing whole-number lower bounds, e.g. [0, 50]", "age", "bands")
    groups = []
    for index, low in enumerate(bands):
        if index == len(bands) - 1:
            label = f"{low} and over"
        elif index == 0:  # younger patients than its lower bound are counted in it too
            label = f"Under {bands[1]}"
        else:
            label = f"{low}-{bands[index + 1] - 1}"
        groups.append((low, label))
    return Dimension("age", column.name, tuple(groups), banded=True)


def dimension_of(definition: AuditDefinition, name: str) -> Dimension | None:
    return next((d for d in parse_inequalities(definition) if d.name == name), None)
