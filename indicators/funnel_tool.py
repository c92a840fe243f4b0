"""Funnel plots for any aggregated table (`unit,numerator,denominator` or `unit,observed,expected`).

Pure: used by the `funnel` command and the funnel tool page, with the same analysis as the jobs.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from indicators.stats.arrays import finite_or_none
from indicators.stats.vocabulary import NEEDS_PATIENTS, OVERDISPERSION_CHOICES, PROPORTION_METHODS, RATIO_METHODS

if TYPE_CHECKING:
    from indicators.stats.analysis import FunnelResult, Kind
    from indicators.stats.arrays import finite_or_none
from indicators.stats.vocabulary import Overdispersion

KINDS: tuple[Kind, ...] = ("proportion", "ratio")
COLUMNS = {"proportion": ("unit", "numerator", "denominator"), "ratio": ("unit", "observed", "expected")}
# The engine's methods (the first of each is the default, calibrated mid-p flags), less those that need each
# unit's patients: a table carries only its two columns.
METHODS = {
    "proportion": PROPORTION_METHODS,
    "ratio": tuple(method for method in RATIO_METHODS if method not in NEEDS_PATIENTS),
}
OVERDISPERSION: tuple[Overdispersion, ...] = OVERDISPERSION_CHOICES


class AggregateError(ValueError):
    """The table cannot be used; ``errors`` lists (line, column, value, message)."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__("; ".join(f"line {e['line']}: {e['message']}" for e in errors[:5]))
        self.errors = errors


@dataclass
class AggregateTable:
    kind: Kind
    units: list[str]
    numerator: list[float]
    denominator: list[float]


def read_table(text: str, kind: str) -> AggregateTable:
    """Parse and check the table; every problem is reported with its line."""
    if kind not in KINDS:
        raise AggregateError(
            [{"line": None, "column": "", "value": kind, "message": "kind must be proportion or ratio"}]
        )
    wanted = COLUMNS[kind]
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise AggregateError(
            [
                {
                    "line": 1,
                    "column": c,
                    "value": "",
                    "message": f"column {c} is missing; a {kind} table has columns {','.join(wanted)}",
                }
                for c in missing
            ]
        )
    index = {c: header.index(c) for c in wanted}
    errors: list[dict[str, Any]] = []
    table = AggregateTable(kind, [], [], [])
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {c: (row[i].strip() if i < len(row) else "") for c, i in index.items()}
        unit = cells["unit"]
        if not unit:
            errors.append({"line": line, "column": "unit", "value": "", "message": "unit is blank"})
        elif unit in seen:
            errors.append(
                {
                    "line": line,
                    "column": "unit",
                    "value": unit,
                    "message": f"unit repeated (first on line {seen[unit]})",
                }
            )
        seen.setdefault(unit, line)
        numbers = {}
        for column in wanted[1:]:
            try:
                numbers[column] = float(cells[column])
                if not math.isfinite(numbers[column]) or numbers[column] < 0:
                    raise ValueError
            except ValueError:
                errors.append(
                    {
                        "line": line,
                        "column": column,
                        "value": cells[column],
                        "message": f"{column} must be a number of zero or more",
                    }
                )
        if len(numbers) == 2:
            top, bottom = numbers[wanted[1]], numbers[wanted[2]]
            if bottom <= 0:
                errors.append(
                    {
                        "line": line,
                        "column": wanted[2],
                        "value": cells[wanted[2]],
                        "message": f"{wanted[2]} must be more than zero",
                    }
                )
            elif kind == "proportion" and top > bottom:
                errors.append(
                    {
                        "line": line,
                        "column": "numerator",
                        "value": cells["numerator"],
                        "message": "numerator is larger than denominator",
                    }
                )
            table.units.append(unit)
            table.numerator.append(top)
            table.denominator.append(bottom)
    if not errors and len(table.units) < 2:
        errors.append({"line": None, "column": "", "value": "", "message": "a funnel needs at least two units"})
    if errors:
        raise AggregateError(errors)
    return table


def analyse(table: AggregateTable, *, method: str | None = None, overdispersion: str = "auto") -> FunnelResult:
    method = METHODS[table.kind][0] if method is None else method
    if method not in METHODS[table.kind]:
        raise AggregateError(
            [
                {
                    "line": None,
                    "column": "",
                    "value": method,
                    "message": f"method for a {table.kind} must be one of {', '.join(METHODS[table.kind])}",
                }
            ]
        )
    if overdispersion not in OVERDISPERSION:  # the command and the page offer only these
        raise AggregateError(
            [
                {
                    "line": None,
                    "column": "",
                    "value": overdispersion,
                    "message": f"overdispersion must be one of {', '.join(OVERDISPERSION)}",
                }
            ]
        )
    from indicators.stats.analysis import funnel_analysis  # scipy and pandas: imported when a funnel is drawn

    return funnel_analysis(
        table.units, table.numerator, table.denominator, kind=table.kind, method=method, overdispersion=overdispersion
    )


def as_json(result: FunnelResult) -> dict[str, Any]:
    """The `funnel --json` object. ``z`` is the statistic the flag was decided on (for midp the normal
    score of the one-sided mid-p; with overdispersion applied, the binding one of that and the adjusted z)."""
    units = []
    for row in result.units.itertuples(index=False):
        units.append(
            {
                "unit": row.unit,
                "numerator": finite_or_none(row.numerator),
                "denominator": finite_or_none(row.denominator),
                "value": finite_or_none(row.value),
                "ci_lower": finite_or_none(row.ci_lower),
                "ci_upper": finite_or_none(row.ci_upper),
                "z": finite_or_none(row.z_adjusted),
                "limit_lower_95": finite_or_none(row.limit_lower_95),
                "limit_upper_95": finite_or_none(row.limit_upper_95),
                "limit_lower_998": finite_or_none(row.limit_lower_998),
                "limit_upper_998": finite_or_none(row.limit_upper_998),
                "flag": row.flag,
            }
        )
    return {
        "kind": result.kind,
        "method": result.method,
        "target": finite_or_none(result.target),
        "phi": finite_or_none(result.phi),
        "tau2": finite_or_none(result.tau2),
        "overdispersion": result.overdispersion,
        "overdispersion_applied": bool(result.overdispersion_applied),
        "units": units,
    }
