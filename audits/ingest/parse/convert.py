"""A batch's values to their column types: what Arrow's CSV reader converts itself, then each column's converter."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from audits.ingest.columns import COLUMN_TYPES
from audits.ingest.columns.base import Message, blank_mask
from audits.ingest.columns.types.basic import FALSE_WORDS, TRUE_WORDS
from audits.ingest.parse.providers import ProviderLookup
from audits.ingest.parse.report import Problem
from audits.schema import AuditDefinition, Column


def convert_options(definition: AuditDefinition, names: list[str], typed_reading: bool) -> pacsv.ConvertOptions:
    """Every value as text, or (``typed_reading``) the values Arrow converts itself as their types' values."""
    if not typed_reading:
        return pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
    declared = {c.name: c for c in definition.columns}
    return pacsv.ConvertOptions(
        column_types={n: _read_type(declared.get(n)) for n in names},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        true_values=case_variants(TRUE_WORDS),
        false_values=case_variants(FALSE_WORDS),
    )


def case_variants(words: tuple[str, ...]) -> list[str]:
    """Every upper/lower-case spelling: Arrow's boolean reader compares exactly."""
    out = []
    for word in words:
        out += ["".join(chars) for chars in itertools.product(*[(c.lower(), c.upper()) for c in word])]
    return sorted(set(out))


def _read_type(column: Column | None) -> pa.DataType:
    """What Arrow's typed read makes of a column: its type's values if Arrow converts them itself, else text."""
    if column is None or not COLUMN_TYPES[column.type].typed_read:
        return pa.string()
    return COLUMN_TYPES[column.type].arrow(column)


def convert_batch(
    definition: AuditDefinition, raw: dict[str, pa.Array], rows: int, providers: ProviderLookup
) -> tuple[dict[str, pa.Array], list[Problem]]:
    """Every column of a batch (``raw``, as read; a column not in the file is all null) to its type, and the
    problems found (column, mask of the rows, message). A provider column's codes as submitted are kept too."""
    typed: dict[str, pa.Array] = {}
    problems: list[Problem] = []
    for column in definition.columns:
        if column.name not in raw:
            typed[column.name] = pa.nulls(rows, COLUMN_TYPES[column.type].arrow(column))
            continue
        values, column_problems = _convert(column, raw[column.name], providers)
        typed[column.name] = values
        problems.extend((column.name, mask, message) for mask, message in column_problems)
        if column.type == "provider":
            typed["provider_code_submitted"] = pc.utf8_upper(pc.utf8_trim_whitespace(raw[column.name]))
    return typed, problems


def _convert(
    column: Column, values: pa.Array, providers: ProviderLookup
) -> tuple[pa.Array, list[tuple[np.ndarray, Message]]]:
    """One column to its type; returns (typed array, [(mask, message)])."""
    kind = COLUMN_TYPES[column.type]
    if pa.types.is_string(values.type) and kind.trim:
        values = pc.utf8_trim_whitespace(values)
    typed, invalid, message, blank = kind.convert(column, values, blank_mask(values), providers)
    problems: list[tuple[np.ndarray, Message]] = []
    if column.required:
        problems.append((blank, "a value is required here"))
    problems.append((invalid, message))
    return typed, problems
